"""Through a real server on SQLite and PostgreSQL: what a party's acknowledgement requests may make the
others read is bounded. A window under ``hotline_min_ack_within_s`` is refused (422, HTTP and socket),
and past ``max_hotline_ack_requests_per_party`` outstanding a post asking more is refused (409), nothing
stored, counted in ``hotline_ack_requests_refused_limit_total``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apisupport import Service, counter, running_service
from test_api_hotline_ws import frames_until, socket
from test_input_hardening import assert_problem, standing_thread


def _post(client: httpx.Client, thread_id: str, key: str, ack_within_s: float | None = 300) -> httpx.Response:
    body = {"kind": "query", "idempotency_key": key, "body": key, "ack_within_s": ack_within_s}
    return client.post(f"/v1/hotline/threads/{thread_id}/messages", json=body)


def _bodies(client: httpx.Client, thread_id: str) -> list[str]:
    return [m["body"] for m in client.get(f"/v1/hotline/threads/{thread_id}/messages").json()]


@pytest.fixture
def bounded(tmp_path: Path, database_url: str) -> Iterator[Service]:
    """A real server on SQLite and on PostgreSQL whose parties may have two acknowledgement requests outstanding."""
    with running_service(tmp_path / "data", database_url, max_hotline_ack_requests_per_party=2) as service:
        yield service


def test_a_window_under_the_minimum_is_refused_422_naming_the_field_and_the_minimum(store_service: Service) -> None:
    """``ack_within_s`` of a millisecond was accepted: each recipient was escalated along its whole
    roster at the next ticks, (roster + 1) system messages in its thread per post."""
    with store_service.client("a-liaison") as a:
        thread_id = standing_thread(a)
        refused = _post(a, thread_id, "too-short-http", 0.001)
        assert_problem(refused, 422)
        assert "ack_within_s: 0.001 s is shorter" in refused.text and "60 s (hotline_min_ack_within_s)" in refused.text
        with socket(store_service, "a-liaison") as ws:
            frames_until(ws, lambda f: f["type"] == "resumed")
            post = {"type": "post", "ref": "s1", "thread_id": thread_id, "kind": "query"}
            ws.send(json.dumps({**post, "idempotency_key": "too-short-ws", "body": "?", "ack_within_s": 0.5}))
            answer = frames_until(ws, lambda f: f.get("ref") == "s1")[-1]
            assert answer["type"] == "error" and answer["status"] == "invalid", answer
            assert any("hotline_min_ack_within_s" in p for p in answer["problems"]), answer
        assert _bodies(a, thread_id) == []  # nothing stored
        assert _post(a, thread_id, "at-the-minimum", 60).status_code == 201


def test_past_its_outstanding_requests_a_party_is_refused_409_until_the_recipient_acknowledges(
    bounded: Service,
) -> None:
    with bounded.client("a-liaison") as a, bounded.client("b-liaison") as b:
        thread_id = standing_thread(a)
        assert [_post(a, thread_id, f"asks-ack-{k}").status_code for k in range(2)] == [201, 201]
        refused = _post(a, thread_id, "asks-one-too-many")
        body = assert_problem(refused, 409, "max_hotline_ack_requests_per_party: 2", "nothing was stored")
        assert "has 2 acknowledgement requests outstanding" in body["detail"], body
        assert counter(bounded, "hotline_ack_requests_refused_limit_total") == 1
        # The thread has no gap and no refused post; posting without asking, and the other party, go on.
        assert _post(a, thread_id, "asks-nothing", None).status_code == 201
        assert _post(b, thread_id, "b-asks-one").status_code == 201
        assert _bodies(a, thread_id) == ["asks-ack-0", "asks-ack-1", "asks-nothing", "b-asks-one"]
        # b acknowledges the first: a may ask one more.
        ack = {"kind": "acknowledgement", "idempotency_key": "b-acks-first", "reply_to_seq": 1}
        assert b.post(f"/v1/hotline/threads/{thread_id}/messages", json=ack).status_code == 201
        assert _post(a, thread_id, "asks-after-the-ack").status_code == 201
        assert _post(a, thread_id, "asks-again-too-many").status_code == 409
        assert counter(bounded, "hotline_ack_requests_refused_limit_total") == 2
