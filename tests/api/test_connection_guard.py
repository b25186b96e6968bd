"""The connections one API process holds are bounded, and so is the time a request's headers take.

uvicorn kept a connection that sent nothing, or a header a byte at a time, for as long as its client
liked: anyone who reached the port could hold the process's connections (file descriptors) without
a key. Now a request's headers must be in within ``header_timeout_s`` and past ``max_connections``
open a new connection is closed at once; both are counted, and requests go on as before.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from apisupport import Service, running_service

REQUEST = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


def _connect(service: Service) -> socket.socket:
    host, port = service.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_within(raw: socket.socket, within_s: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``raw`` (sending ``trickle`` a byte each 0.1 s meanwhile);
    fails past ``within_s``."""
    started = time.monotonic()
    raw.settimeout(0.1)
    sent = 0
    while time.monotonic() - started < within_s:
        try:
            if raw.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if sent < len(trickle):
            try:
                raw.sendall(trickle[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            sent += 1
    raise AssertionError(f"not closed within {within_s} s")


def _counter(service: Service, name: str) -> float:
    with service.client("admin") as admin:
        return float(admin.get("/v1/metrics").json()["counters"][name])


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Service]:
    with running_service(tmp_path / "data", header_timeout_s=0.5) as running:
        yield running


def test_a_connection_whose_headers_do_not_come_is_closed(quick: Service) -> None:
    with _connect(quick) as silent:
        assert _closed_within(silent, 10.0) >= 0.4  # nothing sent: closed after the timeout
    with _connect(quick) as trickling:  # a byte each 0.1 s, the headers never ending: closed all the same
        assert _closed_within(trickling, 10.0, trickle=b"GET /v1/health HTTP/1.1\r\nX-Slow: " + b"a" * 200) >= 0.4
    assert _counter(quick, "http_connections_closed_slow_headers_total") >= 2
    # a client that sends its requests is served, several on one connection, waiting between them
    with _connect(quick) as client:
        for _ in range(3):
            client.sendall(REQUEST)
            assert client.recv(4096).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.8)  # longer than the header timeout, shorter than uvicorn's keep-alive (5 s)


def test_past_max_connections_a_new_one_is_closed_at_once(tmp_path: Path) -> None:
    limit = 6
    with running_service(tmp_path / "data", max_connections=limit, header_timeout_s=60) as service:
        with ExitStack() as stack:
            idle = [stack.enter_context(_connect(service)) for _ in range(limit)]
            time.sleep(0.3)  # accepted
            with _connect(service) as extra:
                assert _closed_within(extra, 5.0) < 2.0
            assert len(idle) == limit
        time.sleep(0.3)  # the idle ones closed by their clients
        assert _counter(service, "http_connections_refused_total") >= 1
        assert _counter(service, "http_connections_limit") == limit
        with _connect(service) as client:
            client.sendall(REQUEST)
            assert client.recv(4096).startswith(b"HTTP/1.1 200 ")


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked WebSocket frame (a zero mask: the payload as it is) of at most 125 bytes."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def test_a_socket_that_pings_and_never_reads_the_pongs_is_closed(quick: Service) -> None:
    """Every ping is answered with a pong, written whatever the client reads: one that sent pings and
    read nothing had the process hold every pong, a byte for each byte it sent (400 MB in 10 s on
    a small machine), until the process ran out of memory."""
    with _connect(quick) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.sendall(
            f"GET /v1/hotline/ws?key={quick.keys['a-liaison']} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += raw.recv(1)
        assert answer.startswith(b"HTTP/1.1 101 ")
        raw.sendall(_ws_frame(1, b'{"type": "resume", "cursors": {}}'))
        pings, sent = _ws_frame(9, b"p" * 125) * 1000, 0
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            while sent < 256 * 1024 * 1024:
                raw.sendall(pings)
                sent += len(pings)
        assert sent < 64 * 1024 * 1024, f"closed after {sent} bytes of pings"
    assert _counter(quick, "http_connections_closed_unread_pongs_total") == 1
    with quick.client("a-liaison") as client:  # the key and the process go on as before
        assert client.get("/v1/me").status_code == 200


def test_a_connection_pipelining_requests_without_reading_is_closed(
    quick: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn reads on after each answer, however many requests of the connection wait: a client that
    pipelined requests and read nothing had the process hold a request object for each one read
    (11 MB of ``GET /v1/health``: 600 MB), before any key is judged. Past ``MAX_PIPELINED_REQUESTS``
    waiting the connection is closed; a few pipelined requests are answered in order as before."""
    with _connect(quick) as client:
        client.sendall(REQUEST * 5)
        answers = b""
        while answers.count(b"HTTP/1.1 200 ") < 5:
            answers += client.recv(65536)
    with _connect(quick) as flooding:
        flooding.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        requests, sent = REQUEST * 1000, 0
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            while sent < 256 * 1024 * 1024:
                flooding.sendall(requests)
                sent += len(requests)
        assert sent < 8 * 1024 * 1024, f"closed after {sent} bytes of requests"
    assert _counter(quick, "http_connections_closed_pipelining_total") == 1
    with quick.client(None) as anyone:  # the process serves on
        assert anyone.get("/v1/health").status_code == 200
    # the request being answered when the connection went is told it went, as any other: no trace
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
