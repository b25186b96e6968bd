"""A key revoked by another process (the operator's ``keepclear keys revoke`` beside a running
``serve``, no bus between them) ends what it holds open there: its stream and its hotline socket.

The revocation reached the serving process only as a row in the store: its next request was refused,
but a stream or socket opened before went on being served the party's live picture and messages for
as long as the client liked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import Service, running_service
from test_api_hotline_ws import frames_until, socket
from websockets.exceptions import ConnectionClosed

from serving import keepclear_cli, run_cli


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Service]:
    with running_service(tmp_path / "data", database_url) as running:
        yield running


def test_a_key_revoked_by_the_cli_ends_its_open_stream_and_socket(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    key_id = service.keys["a-liaison"].split("_")[1]
    with (
        service.client("a-liaison") as a,
        a.stream("GET", "/v1/stream") as stream,
        socket(service, "a-liaison") as ws,
    ):
        assert stream.status_code == 200
        frames_until(ws, lambda frame: frame["type"] == "resumed")
        run_cli(keepclear_cli(tmp_path / "data", database_url), "keys", "revoke", key_id)
        assert a.get("/v1/me").status_code == 401
        lines, deadline = [], time.monotonic() + 15
        try:
            for line in stream.iter_lines():
                lines.append(line)
                if time.monotonic() > deadline:
                    break
        except httpx.HTTPError:
            pass  # the server ended the stream unfinished, as it does for a cut client
        assert time.monotonic() <= deadline, f"the revoked key's stream is still open ({len(lines)} lines since)"
        frames: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = json.loads(ws.recv(timeout=15))
                frames += frame["frames"] if frame["type"] == "batch" else [frame]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert [f["type"] for f in frames] == ["error"] and frames[0]["problems"] == ["API key revoked"], frames
