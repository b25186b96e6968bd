"""The probe's priority over work that can wait: a flag the tick raises while it computes.

One interpreter runs the API, the record's fan-out and the probe. Under a flood of track reports the
probe would get only its share of the interpreter and miss its period; while it computes, track
ingest and the event fan-out (both buffered) wait a moment instead (``wait_clear``), so the probe
runs every tick however busy the feeds are. Every wait is bounded: nothing waits for ever.
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
