"""Issue 15 item 6: streams must not outlive their clients.

A real server with 100 /v1/stream clients that connect and never read: each is cut once its backlog
is full (while a reading client goes on receiving everything), their handler tasks end, clients
that simply go leave nothing behind, and a stop with 50 stuck clients is prompt and logs no
traceback. The hotline socket has the same shape and gets the same check. Both run on both
stores, as every numbered item of the issue does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from apisupport import Service, SseReader, populate

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.domain.events import Event
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

BACKLOG_EVENTS = 50
PAYLOAD = "x" * 32_000  # events of 32 KB: a silent client's TCP buffers (a few MB) fill after about a hundred


def _live_tasks(server: ThreadedServer) -> int:
    """Tasks not yet finished on the server's loop."""
    assert server.loop is not None
    return len(asyncio.all_tasks(server.loop))


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _silent_client(port: int, key: str) -> socket.socket:
    """Opens /v1/stream and never reads (a small receive buffer, as a stuck client's fills)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    return sock


def test_item6_stream_clients_that_do_not_read_are_cut_and_leave_nothing_behind(
    tmp_path: Path, database_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        tick_s=0.5,
        stream_client_backlog_events=BACKLOG_EVENTS,
        stream_send_timeout_s=20,
        max_streams_per_key=200,  # 100 silent clients of one key, and the reader
    )
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate(dep)
    app = create_app(settings, deployment=dep)
    hub, runtime = app.state.hub, app.state.runtime
    server = ThreadedServer(app)
    server.start()
    sent = 0

    def publish(events: int) -> None:
        nonlocal sent
        batch = [
            Event("drill.flood", time.time(), None, {"n": sent + k, "text": PAYLOAD}, frozenset({"a"}))
            for k in range(1, events + 1)
        ]
        sent += events
        hub.on_events(batch)  # as the bus's dispatcher hands them over

    def gauge(name: str) -> float:
        return runtime.counters()[name]

    try:
        baseline_tasks = _live_tasks(server)
        reader = SseReader(Service(server.url, dep, runtime, keys), "a-liaison")
        silent = [_silent_client(server.port, keys["a-liaison"]) for _ in range(100)]
        _wait_until(lambda: gauge("stream_clients") == 101, "100 silent clients and a reader connected")

        # Events until every silent client is cut; the reader keeps up and stays.
        def received() -> int:
            return sum(1 for e in list(reader.events) if e.get("kind") == "drill.flood")

        while gauge("stream_clients") > 1 and sent < 2000:
            publish(10)
            # As fast as a client that reads takes them: the silent ones fall behind regardless.
            _wait_until(lambda: received() >= sent - 10, f"the reader keeps up ({received()} of {sent})")
        _wait_until(lambda: gauge("stream_clients") == 1, f"silent clients cut (after {sent} events)")
        assert gauge("stream_clients_cut_total") >= 100
        reader.wait_for(lambda e: e.get("payload", {}).get("n") == sent, timeout_s=30)  # type: ignore[union-attr]
        for sock in silent:
            sock.close()
        # Only the reader's tasks are left (its request, its sender and its disconnect listener).
        _wait_until(lambda: _live_tasks(server) <= baseline_tasks + 3, "handler tasks of cut clients ended")

        # Clients that go before they are cut leave nothing behind either.
        leaving = [_silent_client(server.port, keys["b-liaison"]) for _ in range(50)]
        _wait_until(lambda: gauge("stream_clients") == 51, "50 more clients connected")
        for sock in leaving:
            sock.close()
        _wait_until(lambda: gauge("stream_clients") == 1, "clients that left are gone from the hub")
        _wait_until(lambda: _live_tasks(server) <= baseline_tasks + 3, "handler tasks of clients that left ended")
        reader.close()

        # A stop with 50 stuck clients (buffers full, backlog not yet) is prompt and clean.
        stuck = [_silent_client(server.port, keys["a-liaison"]) for _ in range(50)]
        _wait_until(lambda: gauge("stream_clients") == 50, "50 stuck clients connected")
        while gauge("stream_backlog_events_max") < 10 and sent < 4000:
            publish(2)
            time.sleep(0.02)
        assert gauge("stream_clients") > 0, "the stuck clients are still connected when the server stops"
        started = time.monotonic()
        server.stop()
        stop_s = time.monotonic() - started
        for sock in stuck:
            sock.close()
    finally:
        server.stop()
        dep.close()
    assert stop_s < 3.0, f"stopping took {stop_s:.1f} s"
    assert gauge("stream_clients") == 0
    err = capfd.readouterr().err
    for sign in ("Traceback", "Exception in ASGI", "timeout graceful shutdown", "without completing"):
        assert sign not in err, err[-3000:]


def _ws_text_frame(text: str) -> bytes:
    """One masked client text frame (RFC 6455), written by hand: no client library, nothing reads."""
    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    header = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _silent_socket_client(port: int, key: str) -> socket.socket:
    """Opens the hotline socket, sends its resume frame, and reads nothing after the handshake."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    handshake = (
        f"GET /v1/hotline/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    )
    sock.sendall(handshake.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:  # the 101 answer, the only bytes this client reads
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    sock.sendall(_ws_text_frame(json.dumps({"type": "resume", "cursors": {}})))
    return sock


def test_item6_hotline_sockets_that_do_not_read_are_cut(
    tmp_path: Path, database_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        tick_s=0.5,
        hotline_client_backlog_items=BACKLOG_EVENTS,
        max_streams_per_key=100,  # 50 silent sockets of one key
    )
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate(dep)
    app = create_app(settings, deployment=dep)
    runtime = app.state.runtime
    server = ThreadedServer(app)
    server.start()

    def gauge(name: str) -> float:
        return float(runtime.counters()[name])

    try:
        baseline_tasks = _live_tasks(server)
        silent = [_silent_socket_client(server.port, keys["a-liaison"]) for _ in range(50)]
        _wait_until(lambda: gauge("hotline_clients") == 50, "50 silent socket clients resumed")
        sent = 0
        while gauge("hotline_clients") > 0 and sent < 2000:
            payload = {"party_id": "a", "availability": "busy", "reason": PAYLOAD, "n": sent}
            runtime.hotline_hub.on_event(Event("party.availability", time.time(), "a", payload, frozenset({"a"})))
            sent += 1
            if sent % 10 == 0:
                time.sleep(0.05)
        _wait_until(lambda: gauge("hotline_clients") == 0, f"silent socket clients cut (after {sent} events)")
        assert gauge("hotline_clients_overflowed_total") >= 50
        _wait_until(lambda: _live_tasks(server) <= baseline_tasks, "their sessions' tasks ended")
        for sock in silent:
            sock.close()
        started = time.monotonic()
        server.stop()
        stop_s = time.monotonic() - started
    finally:
        server.stop()
        dep.close()
    assert stop_s < 3.0, f"stopping took {stop_s:.1f} s"
    err = capfd.readouterr().err
    for sign in ("Traceback", "Exception in ASGI", "timeout graceful shutdown"):
        assert sign not in err, err[-3000:]
