"""The hotline messages one party may post are bounded in rate (``hotline_messages_per_party_per_s``,
bursts of ``hotline_message_burst``): one token bucket per party, shared by the HTTP route and the
live socket, all its keys together. Past it a post is refused and nothing of it stored; the other
parties go on; once refilled (the API's monotonic clock, moved by the test) the party posts again."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from apisupport import Service, another_liaison_key, counter, recorded, running_service
from test_api_hotline_ws import frames_until, socket
from test_input_hardening import assert_problem

from keepclear.api.party_rate import HOTLINE_POSTS, PartyRate
from keepclear.settings import Settings

BURST = 3
PER_S = 0.5  # a token every 2 s


class Monotonic:
    """The API's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Monotonic:
    return Monotonic()


@pytest.fixture
def rated(tmp_path: Path, database_url: str, clock: Monotonic) -> Iterator[Service]:
    """A real server on SQLite and on PostgreSQL whose parties may post ``BURST`` at once, then one every 2 s."""
    with running_service(
        tmp_path / "data",
        database_url,
        clock,
        hotline_message_burst=BURST,
        hotline_messages_per_party_per_s=PER_S,
    ) as service:
        yield service


def _post(client: httpx.Client, thread_id: str, key: str) -> httpx.Response:
    return client.post(f"/v1/hotline/threads/{thread_id}/messages", json={"idempotency_key": key, "body": key})


def _refused_total(service: Service) -> float:
    return counter(service, "hotline_posts_refused_rate_total")


def _recorded_texts(service: Service) -> set[str]:
    """The texts of the messages the signed record holds."""
    return recorded(service, "message.posted", "text")


def _until(check: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_party_posting_past_its_burst_is_refused_429_nothing_stored_and_the_others_go_on(
    rated: Service, clock: Monotonic
) -> None:
    thread_id = rated.runtime.hotline.ensure_pair_thread("a", "b").id
    with (
        rated.client("a-liaison") as a,
        rated.client("b-liaison") as b,
        another_liaison_key(rated, "a") as a_again,
    ):
        for k in range(BURST):
            assert _post(a, thread_id, f"a-burst-{k}").status_code == 201
        refused = _post(a, thread_id, "a-refused-1")
        body = assert_problem(refused, 429, "hotline_messages_per_party_per_s", "hotline_message_burst", "2 s")
        assert refused.headers["Retry-After"] == "2", refused.headers
        assert "nothing was stored" in body["detail"]
        # All of a party's keys share its bucket; a retry of an accepted post is answered (its key's stored answer).
        assert_problem(_post(a_again, thread_id, "a-refused-2"), 429, "hotline_messages_per_party_per_s")
        replay = _post(a, thread_id, "a-burst-0")
        assert replay.status_code == 201 and replay.json()["message"]["body"] == "a-burst-0", replay.text
        # The other party is not held back.
        assert _post(b, thread_id, "b-meanwhile").status_code == 201
        # Part of the wait is not enough; the whole of it is.
        clock.now_s += 1.0
        assert_problem(_post(a, thread_id, "a-refused-3"), 429, "1 s")
        clock.now_s += 1.0
        assert _post(a, thread_id, "a-after-refill").status_code == 201
        assert _refused_total(rated) == 3

        # Nothing of a refused post is stored: the thread's sequence has no gap, the record has no entry.
        messages = a.get(f"/v1/hotline/threads/{thread_id}/messages").json()
        seqs = [m["seq"] for m in messages]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        texts = [m["body"] for m in messages if m["sender_party"] in ("a", "b")]
        assert texts == [*(f"a-burst-{k}" for k in range(BURST)), "b-meanwhile", "a-after-refill"], texts
        assert _until(lambda: "a-after-refill" in _recorded_texts(rated)), "the accepted posts were not recorded"
        assert not {"a-refused-1", "a-refused-2", "a-refused-3"} & _recorded_texts(rated)


def test_the_socket_answers_a_post_past_the_rate_with_an_error_frame_and_stays_open(
    rated: Service, clock: Monotonic
) -> None:
    thread_id = rated.runtime.hotline.ensure_pair_thread("a", "b").id

    def post(ref: str, key: str) -> dict[str, Any]:
        return {"type": "post", "ref": ref, "thread_id": thread_id, "kind": "text", "idempotency_key": key, "body": key}

    def answer(ws: Any, ref: str) -> dict[str, Any]:
        frames = frames_until(ws, lambda f: f["type"] in ("accepted", "error") and f.get("ref") == ref)
        return frames[-1]

    with socket(rated, "a-liaison") as a, socket(rated, "b-liaison") as b, rated.client("a-liaison") as a_http:
        frames_until(a, lambda f: f["type"] == "resumed")
        frames_until(b, lambda f: f["type"] == "resumed")
        a.send(json.dumps(post("p0", "ws-post-0")))
        assert answer(a, "p0")["created"] is True
        # A retry of the accepted post gives its token back: two new posts still fit the burst of 3.
        a.send(json.dumps(post("p0-again", "ws-post-0")))
        assert answer(a, "p0-again")["created"] is False
        for ref in ("p1", "p2"):
            a.send(json.dumps(post(ref, f"ws-post-{ref}")))
            got_answer = answer(a, ref)
            assert got_answer.get("created") is True, got_answer
        a.send(json.dumps(post("p3", "ws-refused")))
        refused = answer(a, "p3")
        assert refused["type"] == "error" and refused["status"] == "refused", refused
        assert refused["retry_after_s"] == 2 and refused["idempotency_key"] == "ws-refused", refused
        assert "hotline_messages_per_party_per_s" in refused["problems"][0], refused
        # The socket stays open; the HTTP route takes from the same bucket.
        a.send(json.dumps({"type": "ping"}))
        frames_until(a, lambda f: f["type"] == "pong")
        assert_problem(_post(a_http, thread_id, "http-refused"), 429, "hotline_messages_per_party_per_s")
        clock.now_s += 2.0
        a.send(json.dumps(post("p4", "ws-after-refill")))
        assert answer(a, "p4")["created"] is True
        # b was delivered the accepted posts, in order, and nothing of the refused ones.
        got = frames_until(b, lambda f: f["type"] == "message" and f["message"]["body"] == "ws-after-refill")
        bodies = [f["message"]["body"] for f in got if f["type"] == "message" and f["message"]["sender_party"] == "a"]
        assert bodies == ["ws-post-0", "ws-post-p1", "ws-post-p2", "ws-after-refill"], bodies
    assert _refused_total(rated) == 2


@pytest.mark.parametrize(
    "field, value",
    [
        ("hotline_messages_per_party_per_s", 0),
        ("hotline_messages_per_party_per_s", -5),
        ("hotline_messages_per_party_per_s", float("nan")),
        ("hotline_messages_per_party_per_s", 2_000_000),
        ("hotline_message_burst", 0),
        ("hotline_message_burst", -1),
    ],
)
def test_settings_refuse_a_rate_or_burst_that_means_nothing(tmp_path: Path, field: str, value: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        Settings(data_dir=tmp_path, **{field: value})


def test_the_bucket_refills_to_its_burst_and_no_further_and_waits_in_whole_seconds() -> None:
    clock = Monotonic()
    rate = PartyRate(per_s=4.0, burst=2, words=HOTLINE_POSTS, monotonic=clock)
    assert rate.take("a") is None and rate.take("a") is None
    refused = rate.take("a")
    assert refused is not None and refused.retry_after_s == 1  # a quarter of a second, said as 1 s
    clock.now_s += 3600.0  # an hour idle: 2 tokens, not 14,400
    rate.give_back("a", 5)
    assert [rate.take("a") for _ in range(3)][:2] == [None, None]
    assert rate.refused_total == 2
    with pytest.raises(ValueError, match="per_s"):
        PartyRate(per_s=0.0, burst=1, words=HOTLINE_POSTS)
