"""One key may hold at most ``max_streams_per_key`` streams and as many hotline sockets open.

On a real server with a bound of 3: a fourth stream of one key is refused with 429 and a problem
that names the bound, while another key of the same party still gets one; a stream that closes
gives its place back; a fourth hotline socket is closed at once with the reason (1013). Refusals
are counted in the metrics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from apisupport import Service, SseReader, running_service
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

LIMIT = 3


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[Service]:
    with running_service(tmp_path / "data", max_streams_per_key=LIMIT) as service:
        yield service


def _metric(service: Service, name: str) -> float:
    with service.client("admin") as admin:
        return float(admin.get("/v1/metrics").json()["counters"][name])


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_stream_past_the_bound_of_its_key_is_refused_with_429_until_one_closes(bounded: Service) -> None:
    readers = [SseReader(bounded, "a-liaison") for _ in range(LIMIT)]
    try:
        with bounded.client("a-liaison") as client:
            refused = client.get("/v1/stream")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "Retry-After" in refused.headers
        assert "max_streams_per_key" in refused.json()["detail"] and str(LIMIT) in refused.json()["detail"]
        assert _metric(bounded, "stream_clients_refused_total") == 1
        assert _metric(bounded, "stream_clients_per_key_max") == LIMIT
        other_key = SseReader(bounded, "a-observer")  # the bound is per key, not per party
        other_key.close()
        readers.pop().close()
        _wait_until(lambda: _metric(bounded, "stream_clients_per_key_max") < LIMIT, "the closed stream is given back")
        readers.append(SseReader(bounded, "a-liaison"))
    finally:
        for reader in readers:
            reader.close()


def test_a_hotline_socket_past_the_bound_of_its_key_is_closed_with_the_reason(bounded: Service) -> None:
    uri = bounded.url.replace("http://", "ws://") + "/v1/hotline/ws"
    headers = {"Authorization": f"Bearer {bounded.keys['a-liaison']}"}
    held = [ExitStack() for _ in range(LIMIT)]  # one each, so that one can be closed alone
    try:
        for stack in held:
            ws = stack.enter_context(connect(uri, additional_headers=headers, open_timeout=30))
            ws.send(json.dumps({"type": "resume", "cursors": {}}))
        with connect(uri, additional_headers=headers, open_timeout=30) as extra:
            frame = json.loads(extra.recv(timeout=10))
            with pytest.raises(ConnectionClosed) as closed:
                extra.recv(timeout=10)
        assert frame["type"] == "error" and frame["status"] == "refused"
        assert "max_streams_per_key" in frame["problems"][0]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        assert "max_streams_per_key" in closed.value.rcvd.reason
        assert _metric(bounded, "hotline_clients_refused_total") == 1
        held.pop().close()
        _wait_until(lambda: _metric(bounded, "hotline_clients_per_key_max") < LIMIT, "the closed socket is given back")
        with connect(uri, additional_headers=headers, open_timeout=30) as again:
            again.send(json.dumps({"type": "resume", "cursors": {}}))
            assert json.loads(again.recv(timeout=10))["type"] != "error"
    finally:
        for stack in held:
            stack.close()
