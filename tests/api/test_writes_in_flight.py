"""A party's requests with a body in flight are bounded (``max_writes_in_flight_per_party``).

Each write, once its body is in, holds one of the server's worker threads while it is carried out:
a party sending writes by the hundred held as many as it liked, and the other parties' notifications
and answers waited for a thread. Now a party, all its keys together, has at most the setting's
number in flight at once (counted from the moment its key is judged: here, writes whose bodies
never come hold them): one more is answered 429 with Retry-After and nothing of it is read; the
others' writes go on.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from apisupport import Service, running_service

LIMIT = 3


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    with running_service(tmp_path / "data", database_url, max_writes_in_flight_per_party=LIMIT) as running:
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


def _thread_message(service: Service, who: str, key: str) -> int:
    """Open a thread from ``who`` to the other party; the answer's status."""
    to = "b" if who.startswith("a") else "a"
    with service.client(who) as client:
        answer = client.post("/v1/hotline/threads", json={"parties": [to], "title": f"check {key}"})
        return answer.status_code


def _wait_for(done: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline_s = time.monotonic() + within_s
    while not done():
        assert time.monotonic() < deadline_s, "not within the time"
        time.sleep(0.02)


def _metric(service: Service, name: str) -> float:
    with service.client("admin") as admin:
        return float(admin.get("/v1/metrics").json()["counters"][name])


def test_a_party_holds_at_most_its_writes_in_flight_and_the_others_go_on(service: Service) -> None:
    with ExitStack() as stack:
        # a's liaison and observer keys together hold the party's slots
        for index in range(LIMIT):
            stack.enter_context(_slow_write(service, "a-liaison" if index % 2 else "a-observer"))
        _wait_for(lambda: _metric(service, "writes_in_flight_per_party_max") == LIMIT)
        with service.client("a-liaison") as a:
            refused = a.post("/v1/hotline/threads", json={"parties": ["b"], "title": "one too many"})
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert "max_writes_in_flight_per_party" in refused.json()["detail"]
        assert _metric(service, "writes_refused_in_flight_total") >= 1
        # b's writes go on, and a's reads do
        assert _thread_message(service, "b-liaison", "b") == 201
        with service.client("a-liaison") as a:
            assert a.get("/v1/hotline/threads").status_code == 200
            assert "one too many" not in a.get("/v1/hotline/threads").text  # nothing of it was kept
    # the slow writes gone (their sockets closed), a writes again
    _wait_for(lambda: _metric(service, "writes_in_flight_per_party_max") == 0)
    assert _thread_message(service, "a-liaison", "a") == 201
