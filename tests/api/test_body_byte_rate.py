"""The bytes of request bodies one party may send are bounded in rate (``body_bytes_per_party_per_s``,
bursts of ``body_byte_burst``): reading and parsing a body hold the interpreter in proportion to its
bytes, whatever the route then decides, and one liaison posting 15 MB activity batches from 8
threads made the other party's alerts reach its stream up to 2 s late. The tokens are taken from the
declared length before a byte of the body is read: past them, 429 with ``Retry-After`` and the
connection closed (the bytes still coming are never read). A hotline socket's frames take them too,
before they are parsed. Track batches and the admin take none."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from apisupport import Service, counter, running_service
from test_hotline_post_rate import Monotonic
from test_hotline_sockets_fan_out import _frames, _socket
from test_input_hardening import assert_problem
from websockets.sync.client import ClientConnection

BURST = 64 * 1024  # the least the settings allow
PER_S = 1000.0


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[tuple[Service, Monotonic]]:
    clock = Monotonic()
    overrides = {"body_byte_burst": BURST, "body_bytes_per_party_per_s": PER_S}
    with running_service(tmp_path / "data", database_url, clock, **overrides) as running:
        yield running, clock


def _body(size_bytes: int) -> bytes:
    """A JSON object of exactly ``size_bytes`` bytes that no route takes (an unknown field: 422)."""
    head, tail = b'{"padding": "', b'"}'
    return head + b"x" * (size_bytes - len(head) - len(tail)) + tail


def _partial_post(service: Service, key: str, declared_bytes: int, sent: bytes) -> bytes:
    """POST /v1/activities declaring ``declared_bytes`` of body but sending only ``sent``: what the
    server answers without the rest (it closes the connection after its answer)."""
    address = urlsplit(service.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        head = (
            f"POST /v1/activities HTTP/1.1\r\nHost: {address.hostname}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared_bytes}\r\n\r\n"
        )
        conn.sendall(head.encode() + sent)
        answer = b""
        while chunk := conn.recv(65536):  # the server closes: the rest of the body is never awaited
            answer += chunk
        return answer


def test_a_party_past_its_body_bytes_is_refused_before_its_body_is_read(
    service: tuple[Service, Monotonic],
) -> None:
    running, clock = service
    headers = {"content-type": "application/json"}
    with running.client("a-liaison") as a, running.client("b-liaison") as b:
        # 60,000 bytes taken (the route refuses the body: it was read and parsed all the same).
        assert a.post("/v1/activities", content=_body(60_000), headers=headers).status_code == 422
        refused = a.post("/v1/activities", content=_body(10_000), headers=headers)
        assert_problem(refused, 429, "body_bytes_per_party_per_s: 1000 a second", "body_byte_burst: 65536", "5 s")
        assert refused.headers["Retry-After"] == "5" and refused.headers["connection"] == "close", refused.headers
        # The other party is not held back.
        assert b.post("/v1/activities", content=_body(60_000), headers=headers).status_code == 422
    # Refused before the body is read: the answer comes though only 100 of 10,000 bytes were sent.
    answer = _partial_post(running, running.keys["a-liaison"], 10_000, b"{" + b" " * 99)
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 429 " in status_line and b"connection: close" in rest.lower(), answer[:400]
    # Track batches (the ingest queue bounds them) and the admin take none of the party's bytes.
    with running.client("a-feed") as feed, running.client("admin") as admin:
        report = {"unit_id": "ua", "time": "2017-11-02T10:00:00Z", "lat_deg": 35.0, "lon_deg": 38.0}
        tracks = json.dumps({"reports": [report] * 500}).encode()
        assert len(tracks) > 10_000
        assert feed.post("/v1/tracks", content=tracks, headers=headers).status_code == 202
        assert admin.post("/v1/zones", content=_body(70_000), headers=headers).status_code == 422
    clock.now_s += 10.0  # 10,000 back
    with running.client("a-liaison") as a:
        assert a.post("/v1/activities", content=_body(10_000), headers=headers).status_code == 422
    assert counter(running, "request_bodies_refused_rate_total") == 2


def test_a_hotline_sockets_frames_take_the_party_s_bytes_before_they_are_parsed(
    service: tuple[Service, Monotonic],
) -> None:
    """A socket's frames are bodies too (each parsed on the event loop): past the party's bytes a
    frame is answered with a ``refused`` error frame (``retry_after_s``) unparsed, the socket left
    open; the other party's sockets are not held back."""
    running, clock = service

    def answer(ws: ClientConnection, frame: str) -> dict[str, Any]:
        ws.send(frame)
        while True:
            for found in _frames(ws):
                if found["type"] in ("error", "pong"):
                    return found

    padded = json.dumps({"type": "ping", "padding": "x" * 60_000})
    with ExitStack() as stack:
        a, b = _socket(stack, running, "a-liaison"), _socket(stack, running, "b-liaison")
        assert answer(a, padded)["type"] == "pong"  # 60,000 bytes taken
        refused = answer(a, json.dumps({"type": "ping", "padding": "x" * 10_000}))
        assert refused["status"] == "refused" and refused["retry_after_s"] == 5, refused
        assert "body_bytes_per_party_per_s" in refused["problems"][0], refused
        assert answer(b, padded)["type"] == "pong"
        clock.now_s += 11.0
        assert answer(a, json.dumps({"type": "ping", "padding": "x" * 10_000}))["type"] == "pong"
    assert counter(running, "request_bodies_refused_rate_total") == 1
