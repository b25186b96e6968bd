"""The probe's priority over work that can wait: a flag the tick raises while it computes.

One interpreter runs the API, the record's fan-out and the probe. Under a flood of track reports the
probe would get only its share of the interpreter and miss its period; while it computes, track
ingest and the event fan-out (both buffered) wait a moment instead (``wait_clear``), so the probe
runs every tick however busy the feeds are. Every wait is bounded: nothing waits for ever.

Some work cannot share the interpreter at all once started: parsing a large JSON body holds it for
the whole parse (about 60 ms a megabyte). Such work waits for a window (``wait_window_async``): the
probe not computing and its next tick (``expect_tick``) far enough away for the work to end first;
work too long for any window starts as soon as a tick has ended, so it delays the next tick the
least it can.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class ProbePriority:
    """Raised while the probe computes; waiters hold off until it is lowered (or ``max_wait_s``)."""

    def __init__(self, max_wait_s: float = 1.0) -> None:
        self.max_wait_s = max_wait_s
        self._clear = threading.Event()
        self._clear.set()
        #: When the next tick is due (``time.monotonic()``), and the period; None while none runs.
        self._next_tick_s: float | None = None
        self._period_s = 0.0

    @property
    def raised(self) -> bool:
        """Whether the probe is computing now."""
        return not self._clear.is_set()

    @contextmanager
    def probing(self) -> Iterator[None]:
        """Raise the flag for the duration of the block."""
        self._clear.clear()
        try:
            yield
        finally:
            self._clear.set()

    def wait_clear(self) -> None:
        """Block (a thread) while the probe computes, at most ``max_wait_s``."""
        self._clear.wait(self.max_wait_s)

    async def wait_clear_async(self, poll_s: float = 0.002) -> None:
        """Yield (a coroutine) while the probe computes, at most ``max_wait_s``."""
        deadline_s = time.monotonic() + self.max_wait_s
        while self.raised and time.monotonic() < deadline_s:
            await asyncio.sleep(poll_s)

    def expect_tick(self, at_s: float | None, period_s: float = 0.0) -> None:
        """The next tick is due at ``at_s`` (``time.monotonic()``), every ``period_s``; None: no
        tick runs on its own (driven by hand, or stopped), and windows are always open."""
        self._next_tick_s, self._period_s = at_s, period_s

    def seconds_to_tick(self) -> float:
        """Seconds until the probe needs the interpreter: 0 while it computes, infinite when no tick runs."""
        if self.raised:
            return 0.0
        if self._next_tick_s is None:
            return float("inf")
        return max(0.0, self._next_tick_s - time.monotonic())

    async def wait_window_async(self, need_s: float, poll_s: float = 0.005) -> None:
        """Yield (a coroutine) until ``need_s`` of work can run before the probe's next tick, at most
        ``max_wait_s``. Work longer than most of a period waits only for the probe to end a tick."""
        need_s = min(need_s, 0.8 * self._period_s) if self._period_s > 0 else need_s
        deadline_s = time.monotonic() + self.max_wait_s
        while self.seconds_to_tick() < need_s and time.monotonic() < deadline_s:
            await asyncio.sleep(poll_s)
