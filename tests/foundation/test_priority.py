"""The probe's priority: while it computes, the event fan-out and track ingest hold off, never for long."""

from __future__ import annotations

import asyncio
import threading
import time

from keepclear.api.app import IngestYield
from keepclear.domain.events import Event
from keepclear.services.runtime.bus import EventBus
from keepclear.services.runtime.priority import ProbePriority


def _events(n: int) -> list[Event]:
    return [Event("test.happened", float(i), None, {"i": i}) for i in range(n)]


def test_the_record_waits_while_the_probe_computes_and_the_streams_do_not() -> None:
    priority = ProbePriority(max_wait_s=5.0)
    bus = EventBus()
    recorded: list[float] = []
    streamed: list[float] = []
    bus.subscribe_batches(lambda es: recorded.append(time.monotonic()))
    bus.subscribe_batches(lambda es: streamed.append(time.monotonic()), live=True)
    bus.start_dispatching(yield_to=priority.wait_clear)
    try:
        with priority.probing():
            bus.publish_nowait(_events(3))
            time.sleep(0.3)
            assert streamed and not recorded  # live subscribers are not held
            lowered = time.monotonic()
        bus.publish(_events(1))
        assert recorded and recorded[0] >= lowered
    finally:
        bus.stop_dispatching()


def test_no_one_waits_longer_than_the_bound() -> None:
    priority = ProbePriority(max_wait_s=0.2)
    with priority.probing():
        started = time.monotonic()
        priority.wait_clear()
        asyncio.run(priority.wait_clear_async())
        assert 0.35 < time.monotonic() - started < 2.0
    started = time.monotonic()
    priority.wait_clear()  # lowered: no wait at all
    assert time.monotonic() - started < 0.05


def test_track_batches_wait_for_the_probe_and_other_requests_do_not() -> None:
    priority = ProbePriority(max_wait_s=5.0)
    reached: list[tuple[str, str, float]] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        reached.append((str(scope["method"]), str(scope["path"]), time.monotonic()))

    middleware = IngestYield(app, priority)  # type: ignore[arg-type]

    def call(method: str, path: str) -> None:
        asyncio.run(middleware({"type": "http", "method": method, "path": path}, None, None))  # type: ignore[arg-type]

    with priority.probing():
        ingest = threading.Thread(target=call, args=("POST", "/v1/tracks"))
        ingest.start()
        call("GET", "/v1/tracks")
        call("POST", "/v1/alerts/a-1/acknowledge")
        time.sleep(0.2)
        assert [(m, p) for m, p, _ in reached] == [("GET", "/v1/tracks"), ("POST", "/v1/alerts/a-1/acknowledge")]
        lowered = time.monotonic()
    ingest.join(timeout=5)
    assert reached[-1][:2] == ("POST", "/v1/tracks") and reached[-1][2] >= lowered
