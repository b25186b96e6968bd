"""``LargeBodies``: handling the bodies that take long to parse without making the probe or alerts late.

Parsing JSON builds every value as an object while holding the interpreter (about 10-60 ms a
megabyte, not interruptible), and the route reading what was parsed (an activity batch's polygons,
a track batch's reports) holds it for longer still: a megabyte body parsed as the probe's tick falls
due makes the tick wait for it, and several handled at once leave the event loop (which delivers
alerts) one turn of the interpreter in several. So a body over ``threshold_bytes`` is handled in a
turn of its own: one at a time, each once the probe has a window long enough for it
(``ProbePriority.wait_window_async``, the time estimated from the bodies handled before), parsed on
a worker thread (the event loop serves others around it), and the turn held through its route until
the answer starts (``InputGate``), so that at most one large body's work competes with the event
loop and the probe. At most ``max_waiting`` wait their turn, each holding its bytes: more are
refused with 429 and ``Retry-After`` (``large_bodies_refused_busy_total``).

The parties sending them share the queue fairly: the turns go round the parties waiting (each
party's bodies in the order they came), and over ``max_waiting`` a party holding fewer than its share
(``max_waiting`` over the parties waiting, itself counted) still waits, within twice ``max_waiting``.
So one party's feeds posting large batches from many clients at once (track batches are not counted
in its requests in flight) cannot keep another party's batches out or behind all of theirs: another
party's body waits for the one being handled and at most one of each other party's.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from keepclear.errors import OverloadedError
from keepclear.services.runtime.priority import ProbePriority
from keepclear.services.shares import Shares

T = TypeVar("T")
#: Seconds a byte takes to parse and judge, before any body was measured (measured: 60-100 ns).
_FIRST_S_PER_BYTE = 1.5e-7


class LargeBodies:
    """The queue of large bodies waiting to be judged; see the module docstring."""

    def __init__(self, priority: ProbePriority | None, threshold_bytes: int = 256 * 1024, max_waiting: int = 8) -> None:
        self.priority = priority
        self.threshold_bytes = threshold_bytes
        self.max_waiting = max_waiting
        #: Bodies waiting for their turn or in it now (``large_bodies_waiting``).
        self.waiting = 0
        #: Bodies refused because ``max_waiting`` were waiting (``large_bodies_refused_busy_total``).
        self.refused_busy = 0
        #: Seconds a byte's turn took (parse and route), smoothed over the last bodies
        #: (``large_body_judge_ns_per_byte``).
        self.s_per_byte = _FIRST_S_PER_BYTE
        #: Bodies waiting or judged now, per party sending them (``large_bodies_waiting_per_party_max``).
        self.waiting_of: Shares[str] = Shares()
        self._busy = False  # a body is being judged (or its turn was just given to it)
        #: Per party with bodies waiting for the turn, their wake-ups in order; the dict's order is the
        #: round of the parties (the party served goes to the end).
        self._queues: dict[str, deque[asyncio.Future[None]]] = {}

    async def judge(self, size_bytes: int, work: Callable[[], T], party: str = "") -> T:
        """``work()`` (judging a body of ``size_bytes`` that ``party`` sent) on a worker thread in its
        party's turn, at once when small; the turn ends with it."""
        if size_bytes <= self.threshold_bytes:
            return work()
        with self.place(party):
            async with self.turn(size_bytes, party):
                return await run_in_threadpool(work)

    @contextmanager
    def place(self, party: str) -> Iterator[None]:
        """A place in the queue for one of ``party``'s large bodies, held for the block (its reading
        and its ``turn``); 429 (``OverloadedError``, counted) unless one more may wait: under
        ``max_waiting``, or under the party's share of it and twice it. Taken before a body whose
        length is declared is read, so a party refused reads nothing."""
        most = self.max_waiting
        if not (self.waiting < most or self.waiting_of.within_share(party, 1, most, self.waiting, 2 * most)):
            held = self.waiting_of.get(party, 0)
            self.refused_busy += 1
            raise OverloadedError(
                f"{self.waiting} large request bodies are waiting to be read, {held} of them this party's; send"
                " this one again shortly",
                1.0,
            )
        self.waiting += 1
        self.waiting_of.take(party, 1)
        try:
            yield
        finally:
            self.waiting -= 1
            self.waiting_of.give_back(party, 1)

    @asynccontextmanager
    async def turn(self, size_bytes: int, party: str = "") -> AsyncIterator[Callable[[], None]]:
        """Within its ``place``, wait for ``party``'s turn for a body of ``size_bytes``, then for a
        window of the probe long enough for it; yields ``end``, which ends the turn early (its answer
        is ready), else it ends with the block. The time the turn took teaches the estimate."""
        await self._turn(party)
        started_s: float | None = None
        ended = False

        def end() -> None:
            nonlocal ended
            if ended:
                return
            ended = True
            if started_s is not None:
                taken_s = time.perf_counter() - started_s
                self.s_per_byte = 0.7 * self.s_per_byte + 0.3 * taken_s / size_bytes
            self._pass_turn(party)

        try:
            if self.priority is not None:
                await self.priority.wait_window_async(size_bytes * self.s_per_byte)
            started_s = time.perf_counter()
            yield end
        finally:
            end()

    async def _turn(self, party: str) -> None:
        """Wait for ``party``'s turn: at once when no body is being judged and none waits."""
        if not self._busy and not self._queues:
            self._busy = True
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(party, deque()).append(woken)
        try:
            await woken
        except asyncio.CancelledError:  # its client went away: its place, or the turn given to it, goes on
            if woken.done() and not woken.cancelled():
                self._pass_turn(party)
            raise

    def _pass_turn(self, served: str) -> None:
        """``served``'s body is done: the turn goes to the next party of the round (its oldest body),
        ``served`` waiting behind every other party."""
        if served in self._queues and len(self._queues) > 1:
            self._queues[served] = self._queues.pop(served)
        while self._queues:
            party = next(iter(self._queues))
            waiting = self._queues.pop(party)
            woken = waiting.popleft()
            if waiting:
                self._queues[party] = waiting  # the party's next body waits a round
            if not woken.done():
                woken.set_result(None)
                return
        self._busy = False
