"""An in-process event bus and the wall clock: the two collaborators services are given."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from keepclear.domain.events import Event

Subscriber = Callable[[Event], None]


class EventBus:
    """Fans each emitted event out to every subscriber, in subscription order, synchronously.

    A subscriber that raises does not stop the others; its error is kept in ``errors`` so a test
    or the service's health check can see it.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.errors: list[tuple[Event, BaseException]] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with every event emitted from now on."""
        with self._lock:
            self._subscribers.append(subscriber)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception as exc:  # one broken consumer must not silence the rest
                self.errors.append((event, exc))


class WallClock:
    """The real clock, for the service and the CLI (never imported by domain, geo or detect)."""

    def now_s(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        return time.time()


class ManualClock:
    """A clock tests and replays move by hand."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s

    def now_s(self) -> float:
        """The time last set."""
        return self._now_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now_s += seconds

    def set(self, time_s: float) -> None:
        """Jump to ``time_s``."""
        self._now_s = time_s
