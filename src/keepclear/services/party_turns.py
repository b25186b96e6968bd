"""A party's writes of one kind take turns: each waits for the party's own write before it, so however
many a party sends at once, at most one of them is being checked or queues for the store's writer.

Why: the store has one writer at a time (SQLite's file; on PostgreSQL the activity write lock), and
the threads queued for it are not served in order. A party sending sixteen batches at once (its
``max_requests_in_flight_per_party``) had sixteen threads checking and queueing beside another
party's single notification, which then waited for most of them: tens of seconds, measured by
``bench/write_turns_bench.py``. With turns it waits for at most the one in progress.

The turns are per process, as the store's writer queue they shorten is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager


class PartyTurns:
    """One lock per party, taken for the length of each of its writes."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}  # one per party that wrote: the registry bounds it
        self._guard = threading.Lock()
        #: Writes now waiting for their party's earlier one (``…_waiting_turn``).
        self.waiting = 0

    @contextmanager
    def turn(self, parties: Iterable[str]) -> Iterator[None]:
        """Hold the turn of each of ``parties`` (taken in a fixed order: two writes naming the same two
        parties cannot each hold one and wait for the other)."""
        with self._guard:
            locks = [self._locks.setdefault(party, threading.Lock()) for party in sorted(set(parties))]
            self.waiting += 1
        with ExitStack() as held:
            try:
                for lock in locks:
                    held.enter_context(lock)
            finally:
                with self._guard:
                    self.waiting -= 1
            yield
