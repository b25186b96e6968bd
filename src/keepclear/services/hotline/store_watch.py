"""Without a bus: the messages other processes commit (the CLI, another API process on the same
store) found by one look at the store per process, and handed to the live hub as catch-ups.

The hub hands this process's own messages to the sockets at commit (``note`` hears them too). Each
``look`` reads the threads posted to since the last look, less ``margin_s`` (a transaction commits
after the clock it stamped the thread with was read; two processes' clocks may differ a little), an
indexed read of those threads only (``store.threads_posted_since``), and compares each one's last
seq with the last this process knew: a thread that moved on wakes the connected clients of its
parties (``HotlineHub.catch_up``), which read what they were not sent from the store.

Before, every socket read every thread of its party every 2 s: a party others made a member of tens
of thousands of threads cost a second of CPU per socket per look. Now one indexed statement per
process per look, whatever the sockets and the threads. Held: the threads posted to within the last
``margin_s``, id and seq each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from keepclear.domain.events import Clock
from keepclear.domain.hotline import Message, Thread
from keepclear.store import Database
from keepclear.store import hotline as store

#: ``wake(thread_id, parties)``: the thread's clients are to read what they were not sent.
Wake = Callable[[str, Iterable[str]], None]
#: ``parties_of(thread_id)``: who is in the thread.
PartiesOf = Callable[[str], Iterable[str]]


class StoreWatch:
    """Finds the threads other processes posted to; ``look`` it every few seconds (a chore)."""

    def __init__(self, db: Database, clock: Clock, wake: Wake, parties_of: PartiesOf, margin_s: float = 30.0) -> None:
        self._db = db
        self._clock = clock
        self._wake = wake
        self._parties_of = parties_of
        self.margin_s = margin_s
        self._known: dict[str, tuple[int, float]] = {}  # thread -> (last seq known here, when posted)
        self._last_look_s: float | None = None
        self._lock = threading.Lock()
        #: Threads found moved on by another process (``hotline_store_watch_woken_total``).
        self.woken_total = 0

    def note(self, batch: list[tuple[Message, Thread]]) -> None:
        """Posting listener: this process's own messages, which the hub delivered at commit."""
        with self._lock:
            for message, _ in batch:
                seq, _ = self._known.get(message.thread_id, (0, 0.0))
                if message.seq > seq:
                    self._known[message.thread_id] = (message.seq, message.time_s)

    def look(self, now_s: float | None = None) -> list[str]:
        """Wake the clients of every thread another process posted to since the last look; returns those
        threads."""
        now_s = self._clock.now_s() if now_s is None else now_s
        since_s = (now_s if self._last_look_s is None else min(now_s, self._last_look_s)) - self.margin_s
        with self._db.read() as conn:
            posted = store.threads_posted_since(conn, since_s)
        moved: list[str] = []
        with self._lock:
            for thread_id, last_seq, posted_s in posted:
                seq, _ = self._known.get(thread_id, (0, 0.0))
                if last_seq > seq:
                    moved.append(thread_id)
                self._known[thread_id] = (max(seq, last_seq), posted_s)
            # A thread not posted to within the margin is looked at again once it is.
            self._known = {t: known for t, known in self._known.items() if known[1] >= since_s}
            self._last_look_s = now_s
            self.woken_total += len(moved)
        for thread_id in moved:
            self._wake(thread_id, self._parties_of(thread_id))
        return moved

    @property
    def threads_held(self) -> int:
        """Threads whose last seq is held (``hotline_store_watch_threads``)."""
        return len(self._known)
