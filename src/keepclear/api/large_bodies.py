"""``LargeBodies``: judging the bodies that take long to parse without making the probe late.

Parsing JSON builds every value as an object while holding the interpreter (about 60 ms a megabyte,
not interruptible): a megabyte body parsed as the probe's tick falls due makes the tick wait for it.
So a body over ``threshold_bytes`` is judged on a worker thread (the event loop serves others around
the parse), one at a time (two would share one window), each once the probe has a window long
enough for it (``ProbePriority.wait_window_async``), the time estimated from the bodies judged
before. At most ``max_waiting`` wait their turn, each holding its bytes: more are refused with 429
and ``Retry-After`` (``large_bodies_refused_busy_total``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from keepclear.errors import OverloadedError
from keepclear.services.runtime.priority import ProbePriority

T = TypeVar("T")
#: Seconds a byte takes to parse and judge, before any body was measured (measured: 60-100 ns).
_FIRST_S_PER_BYTE = 1.5e-7


class LargeBodies:
    """The queue of large bodies waiting to be judged; see the module docstring."""

    def __init__(self, priority: ProbePriority | None, threshold_bytes: int = 256 * 1024, max_waiting: int = 8) -> None:
        self.priority = priority
        self.threshold_bytes = threshold_bytes
        self.max_waiting = max_waiting
        #: Bodies waiting for their turn or being judged now (``large_bodies_waiting``).
        self.waiting = 0
        #: Bodies refused because ``max_waiting`` were waiting (``large_bodies_refused_busy_total``).
        self.refused_busy = 0
        #: Seconds a byte took to judge, smoothed over the last bodies (``large_body_judge_ns_per_byte``).
        self.s_per_byte = _FIRST_S_PER_BYTE
        self._turn = asyncio.Lock()

    async def judge(self, size_bytes: int, work: Callable[[], T]) -> T:
        """``work()`` (judging a body of ``size_bytes``): at once when small, otherwise in its turn."""
        if size_bytes <= self.threshold_bytes:
            return work()
        if self.waiting >= self.max_waiting:
            self.refused_busy += 1
            raise OverloadedError(
                f"{self.waiting} large request bodies are waiting to be read; send this one again shortly", 1.0
            )
        self.waiting += 1
        try:
            async with self._turn:
                if self.priority is not None:
                    await self.priority.wait_window_async(size_bytes * self.s_per_byte)
                started_s = time.perf_counter()
                result = await run_in_threadpool(work)
                self.s_per_byte = 0.7 * self.s_per_byte + 0.3 * (time.perf_counter() - started_s) / size_bytes
                return result
        finally:
            self.waiting -= 1
