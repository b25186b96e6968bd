"""A message sent to many hotline sockets of one party costs the event loop little per socket.

With 25 keys × 8 sockets of one party open and another party posting 16 KiB bodies at its rate,
each socket rendered and JSON-encoded every message on the event loop, and compressed every frame
with its own per-message deflate: another party's alerts reached its ``/v1/stream`` 4 to 13 s late
(bench/hotline_sockets_alert_bench.py). On a real server: a message is rendered once for all the
sockets of its language (``hotline_message_frames_rendered_total`` grows by the messages, not by the
messages times the sockets), and no socket is compressed, whatever its client offers.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from apisupport import Service, counter, running_service
from websockets.sync.client import ClientConnection, connect

SOCKETS = 10
MESSAGES = 15


def _socket(stack: ExitStack, service: Service, key: str) -> ClientConnection:
    """A hotline socket of ``key`` (closed with ``stack``), resumed (everything stored sent),
    offering per-message deflate as browsers do (websockets' default)."""
    uri = service.url.replace("http", "ws") + f"/v1/hotline/ws?key={service.keys[key]}&person=duty"
    ws = stack.enter_context(connect(uri, open_timeout=60, max_size=None))
    ws.send(json.dumps({"type": "resume", "cursors": {}}))
    while not any(f["type"] == "resumed" for f in _frames(ws)):
        pass
    return ws


def _frames(ws: ClientConnection) -> list[dict[str, Any]]:
    frame = json.loads(ws.recv(timeout=30))
    return list(frame["frames"]) if frame["type"] == "batch" else [frame]


def test_a_message_is_rendered_once_for_all_the_sockets_of_its_language(tmp_path: Path) -> None:
    with running_service(tmp_path / "data", max_streams_per_key=SOCKETS) as service, ExitStack() as stack:
        sockets = [_socket(stack, service, "a-liaison") for _ in range(SOCKETS)]
        with service.client("b-liaison") as b:
            [thread] = [t["id"] for t in b.get("/v1/hotline/threads").json() if t["parties"] == ["a", "b"]]
            before = counter(service, "hotline_message_frames_rendered_total")
            for n in range(MESSAGES):
                body = {"body": "Ж" * 4000, "idempotency_key": f"fan-out-{n:04d}"}
                assert b.post(f"/v1/hotline/threads/{thread}/messages", json=body).status_code == 201
        received = []
        for ws in sockets:
            seqs: set[int] = set()
            deadline = time.monotonic() + 60
            while len(seqs) < MESSAGES and time.monotonic() < deadline:
                seqs |= {f["message"]["seq"] for f in _frames(ws) if f["type"] == "message"}
            received.append(len(seqs))
        rendered = counter(service, "hotline_message_frames_rendered_total") - before
    assert received == [MESSAGES] * SOCKETS, received
    # once per message for the party's one language (a keepclear notice meanwhile may add a few),
    # never once per message and socket
    assert MESSAGES <= rendered < 2 * MESSAGES, rendered


def test_no_hotline_socket_is_compressed_whatever_its_client_offers(tmp_path: Path) -> None:
    with running_service(tmp_path / "data") as service, ExitStack() as stack:
        ws = _socket(stack, service, "a-liaison")
        assert ws.request is not None and "permessage-deflate" in str(
            ws.request.headers.get("Sec-WebSocket-Extensions")
        )
        assert ws.response is not None
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None, ws.response.headers
        assert ws.protocol.extensions == []
