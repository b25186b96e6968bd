"""A party's requests in flight are bounded (``max_requests_in_flight_per_party``).

A request, once its body is in, holds one of the server's worker threads while it is carried out: a
party sending requests by the hundred held as many as it liked, and the other parties'
notifications and answers waited for a thread. Now a party, all its keys together, has at most the
setting's number in flight at once (counted from the moment its key is judged: here, writes whose
bodies never come hold them): one more, a write or a read, is answered 429 with Retry-After and
nothing of it is read; the other parties' requests go on, and so do the party's live stream and
anything without a key.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from apisupport import Service, running_service

LIMIT = 3


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    with running_service(tmp_path / "data", database_url, max_requests_in_flight_per_party=LIMIT) as running:
        yield running


def _slow_write(service: Service, who: str) -> socket.socket:
    """A write of ``who``'s whose body never comes: its headers are sent, and its slot is held until
    the socket closes."""
    host, port = service.url.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)), timeout=10)
    raw.sendall(
        b"POST /v1/activities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {service.keys[who]}\r\nContent-Length: 1000\r\n\r\n{{".encode()
    )
    return raw


def _wait_for(done: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline_s = time.monotonic() + within_s
    while not done():
        assert time.monotonic() < deadline_s, "not within the time"
        time.sleep(0.02)


def _metric(service: Service, name: str) -> float:
    with service.client("admin") as admin:
        return float(admin.get("/v1/metrics").json()["counters"][name])


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"
    assert "max_requests_in_flight_per_party" in answer.json()["detail"]


def test_a_party_holds_at_most_its_requests_in_flight_and_the_others_go_on(service: Service) -> None:
    with ExitStack() as stack:
        # a's liaison and observer keys together hold the party's slots
        for index in range(LIMIT):
            stack.enter_context(_slow_write(service, "a-liaison" if index % 2 else "a-observer"))
        _wait_for(lambda: _metric(service, "requests_in_flight_per_party_max") == LIMIT)
        with service.client("a-liaison") as a:
            _assert_refused(a.post("/v1/hotline/threads", json={"parties": ["b"], "title": "one too many"}))
            _assert_refused(a.get("/v1/hotline/threads"))
            with a.stream("GET", "/v1/stream") as live:  # the live stream is bounded on its own
                assert live.status_code == 200
        assert _metric(service, "requests_refused_in_flight_total") >= 2
        # b's requests go on; so do requests without a key, and with one that is not valid
        with service.client("b-liaison") as b:
            assert b.post("/v1/hotline/threads", json={"parties": ["a"], "title": "b goes on"}).status_code == 201
            assert b.get("/v1/hotline/threads").status_code == 200
        with service.client(None) as anyone:
            assert anyone.get("/v1/health").status_code == 200
            assert anyone.get("/v1/me", headers={"Authorization": "Bearer kc_0_nope"}).status_code == 401
    # the slow writes gone (their sockets closed), a is served again, and nothing of the refused write was kept
    # (the admin's own request for the metrics is one in flight)
    _wait_for(lambda: _metric(service, "requests_in_flight_per_party_max") == 1)
    with service.client("a-liaison") as a:
        assert a.post("/v1/hotline/threads", json={"parties": ["b"], "title": "a again"}).status_code == 201
        titles = [thread["title"] for thread in a.get("/v1/hotline/threads").json()]
    assert "a again" in titles and "one too many" not in titles
