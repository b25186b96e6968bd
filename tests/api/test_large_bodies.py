"""Large bodies are judged between the probe's ticks, one at a time (their routes too), and only so many wait."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from keepclear.api.input_gate import InputGate
from keepclear.api.large_bodies import LargeBodies
from keepclear.api.party_rate import REQUEST_BODY_BYTES, PartyRate
from keepclear.domain.identity import Principal, Role
from keepclear.domain.limits import InputLimits
from keepclear.errors import OverloadedError
from keepclear.services.runtime.priority import ProbePriority

PERIOD_S = 0.4
PROBE_S = 0.05


class Ticker:
    """A probe's tick every ``PERIOD_S``, computing ``PROBE_S``; records when each computed."""

    def __init__(self, priority: ProbePriority) -> None:
        self.priority = priority
        self.ticks: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        due_s = time.monotonic() + PERIOD_S
        self.priority.expect_tick(due_s, PERIOD_S)
        while not self._stop.wait(max(0.0, due_s - time.monotonic())):
            with self.priority.probing():
                started = time.monotonic()
                time.sleep(PROBE_S)
                self.ticks.append((started, time.monotonic()))
            due_s += PERIOD_S
            self.priority.expect_tick(due_s, PERIOD_S)
        self.priority.expect_tick(None)

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_large_body_is_judged_in_a_window_between_ticks_and_never_across_one() -> None:
    priority = ProbePriority(max_wait_s=5.0)
    queue = LargeBodies(priority, threshold_bytes=1000)
    queue.s_per_byte = 0.15 / 1_000_000  # a megabyte takes 0.15 s: more than some gaps leave
    spans: list[tuple[float, float]] = []

    def parse() -> None:  # holds for 0.08 s, as a parse of about a megabyte would
        started = time.monotonic()
        time.sleep(0.08)
        spans.append((started, time.monotonic()))

    async def bodies() -> None:
        for _ in range(8):
            await queue.judge(1_000_000, parse)
            await asyncio.sleep(0.07)  # the next body arrives at a random point of the period

    with Ticker(priority) as ticker:
        asyncio.run(bodies())
    assert len(spans) == 8 and len(ticker.ticks) >= 2
    for started, ended in spans:
        for tick_started, tick_ended in ticker.ticks:
            assert ended <= tick_started + 0.03 or started >= tick_ended - 0.03, (spans, ticker.ticks)


def test_work_longer_than_any_window_starts_when_a_tick_ends() -> None:
    priority = ProbePriority(max_wait_s=5.0)
    queue = LargeBodies(priority, threshold_bytes=1000)
    queue.s_per_byte = 10.0 / 1_000_000  # 10 s: no window is that long
    started: list[float] = []
    with Ticker(priority) as ticker:
        time.sleep(PERIOD_S * 1.5)
        asyncio.run(queue.judge(1_000_000, lambda: started.append(time.monotonic())))
    ends = [end for _, end in ticker.ticks]
    assert any(0 <= started[0] - end < 0.05 for end in ends), (started, ticker.ticks)


def test_small_bodies_never_wait_and_without_a_tick_nothing_waits() -> None:
    priority = ProbePriority(max_wait_s=5.0)
    queue = LargeBodies(priority, threshold_bytes=1000)
    with priority.probing():  # the probe computing holds back a large body, not a small one
        started = time.monotonic()
        assert asyncio.run(queue.judge(10, lambda: "small")) == "small"
        assert time.monotonic() - started < 0.05
    started = time.monotonic()
    assert asyncio.run(queue.judge(10_000_000, lambda: "large")) == "large"  # no tick runs: no window to wait for
    assert time.monotonic() - started < 0.5


def test_only_so_many_large_bodies_wait() -> None:
    priority = ProbePriority(max_wait_s=5.0)
    queue = LargeBodies(priority, threshold_bytes=1000, max_waiting=2)
    release = threading.Event()

    async def three() -> list[object]:
        tasks = [asyncio.create_task(queue.judge(5000, release.wait)) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert queue.waiting == 2
        with pytest.raises(OverloadedError) as refused:
            await queue.judge(5000, lambda: None)
        assert refused.value.retry_after_s > 0
        release.set()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(three()) == [True, True]
    assert queue.refused_busy == 1 and queue.waiting == 0


def test_another_party_is_taken_and_served_next_while_one_party_fills_the_queue() -> None:
    """Party a has ``max_waiting`` large bodies waiting (one being judged, held); b's is still taken
    (a holds more than its share), and is judged next, before a's other waiting ones; a's next one is
    refused. Round the parties, each party's bodies in the order they came."""
    queue = LargeBodies(None, threshold_bytes=1000, max_waiting=4)
    release = threading.Event()
    order: list[str] = []

    def work(label: str) -> str:
        if label == "a0":
            release.wait(10)
        order.append(label)
        return label

    async def run() -> list[str]:
        tasks = [asyncio.create_task(queue.judge(5000, lambda k=k: work(f"a{k}"), "a")) for k in range(4)]
        await asyncio.sleep(0.05)
        assert queue.waiting == 4 and queue.waiting_of == {"a": 4}
        with pytest.raises(OverloadedError, match="4 of them this party's"):
            await queue.judge(5000, lambda: work("a-refused"), "a")
        b_tasks = [asyncio.create_task(queue.judge(5000, lambda k=k: work(f"b{k}"), "b")) for k in range(2)]
        await asyncio.sleep(0.05)
        assert queue.waiting == 6 and queue.waiting_of == {"a": 4, "b": 2}  # b's share of 4 is 2
        with pytest.raises(OverloadedError):
            await queue.judge(5000, lambda: work("b-refused"), "b")
        release.set()
        return list(await asyncio.gather(*tasks, *b_tasks))

    assert sorted(asyncio.run(run())) == ["a0", "a1", "a2", "a3", "b0", "b1"]
    assert order == ["a0", "b0", "a1", "b1", "a2", "a3"]
    assert queue.waiting == 0 and queue.waiting_of == {} and queue.refused_busy == 2


def test_a_body_whose_client_went_away_gives_up_its_place() -> None:
    queue = LargeBodies(None, threshold_bytes=1000, max_waiting=4)
    release = threading.Event()
    order: list[str] = []

    async def run() -> None:
        first = asyncio.create_task(queue.judge(5000, lambda: order.append("a0") or release.wait(10), "a"))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(queue.judge(5000, lambda: order.append("b0"), "b"))
        after = asyncio.create_task(queue.judge(5000, lambda: order.append("c0"), "c"))
        await asyncio.sleep(0.05)
        gone.cancel()
        release.set()
        await asyncio.gather(first, after)
        with pytest.raises(asyncio.CancelledError):
            await gone

    asyncio.run(run())
    assert order == ["a0", "c0"]
    assert queue.waiting == 0 and queue.waiting_of == {}
    assert asyncio.run(queue.judge(5000, lambda: "next", "b")) == "next"  # the turn is free again


def _gate(
    queue: LargeBodies, handled: list[str], release: asyncio.Event, body_rate: PartyRate | None = None
) -> InputGate:
    """The gate before an app that notes when each request's route starts and answers, the route of
    ``/slow`` waiting for ``release`` first; every key is party a's liaison's."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].strip("/")
        handled.append(f"{name} routed")
        if name == "slow":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        handled.append(f"{name} answered")
        await send({"type": "http.response.body", "body": name.encode()})

    return InputGate(
        app,
        InputLimits(),
        authenticate=lambda key: Principal(key, Role.LIAISON, "a"),
        large_bodies={"/slow": "max_batch_body_bytes", "/next": "max_batch_body_bytes"},
        queue=queue,
        body_rate=body_rate,
    )


KEY = {"Authorization": "Bearer a-liaison-key"}
LARGE_BODY = b'{"values": [' + b",".join(b"1.25" for _ in range(400_000)) + b"]}"


def test_a_large_body_holds_its_turn_through_its_route_until_its_answer_starts() -> None:
    """Two large bodies: the second is not parsed or routed while the first's route runs, so at most
    one large body's work competes with the event loop (which delivers alerts) and the probe."""
    queue = LargeBodies(None, threshold_bytes=1000)
    handled: list[str] = []

    async def run() -> list[int]:
        release = asyncio.Event()
        transport = httpx.ASGITransport(app=_gate(queue, handled, release))
        async with httpx.AsyncClient(transport=transport, base_url="http://gate", headers=KEY) as client:
            headers = {"content-type": "application/json"}
            slow = asyncio.create_task(client.post("/slow", content=LARGE_BODY, headers=headers))
            await asyncio.sleep(0.3)
            after = asyncio.create_task(client.post("/next", content=LARGE_BODY, headers=headers))
            await asyncio.sleep(0.5)
            assert handled == ["slow routed"] and queue.waiting == 2, handled
            release.set()
            return [(await slow).status_code, (await after).status_code]

    assert asyncio.run(run()) == [200, 200]
    assert handled == ["slow routed", "slow answered", "next routed", "next answered"]
    assert queue.waiting == 0


def test_a_large_body_refused_before_it_is_read_closes_its_connection() -> None:
    """A body whose declared length is past its route's limit (413), or while the large bodies'
    queue is full (429), is refused before a byte of it is read; the answer says the connection
    closes, so the bytes still coming are not read and dropped for nothing."""
    queue = LargeBodies(None, threshold_bytes=1000, max_waiting=1)
    body_rate = PartyRate(1.0, 64 * 1024 * 1024, REQUEST_BODY_BYTES, monotonic=lambda: 0.0)
    handled: list[str] = []

    async def run() -> list[httpx.Response]:
        release = asyncio.Event()
        transport = httpx.ASGITransport(app=_gate(queue, handled, release, body_rate))
        async with httpx.AsyncClient(transport=transport, base_url="http://gate", headers=KEY) as client:
            headers = {"content-type": "application/json"}
            slow = asyncio.create_task(client.post("/slow", content=LARGE_BODY, headers=headers))
            await asyncio.sleep(0.3)
            busy = await client.post("/next", content=LARGE_BODY, headers=headers)
            small_limit = await client.post("/other", content=b"[" + b"0," * 2_000_000 + b"0]", headers=headers)
            release.set()
            return [await slow, busy, small_limit]

    slow, busy, too_large = asyncio.run(run())
    assert slow.status_code == 200 and "connection" not in slow.headers
    assert busy.status_code == 429 and busy.headers["connection"] == "close", busy.headers
    assert "large request bodies are waiting" in busy.json()["detail"]
    assert too_large.status_code == 413 and too_large.headers["connection"] == "close", too_large.headers
    assert handled == ["slow routed", "slow answered"] and queue.refused_busy == 1
    # The party's body bytes: the body read took its length; the one refused unread gave its back.
    assert body_rate.take("a", 64 * 1024 * 1024 - len(LARGE_BODY)) is None
    assert body_rate.take("a", 1) is not None
