"""The messages other processes commit (the CLI, another API process on the same store) found by
one look at the store per process, and handed to the live hub as catch-ups.

Without a bus this is how they are found. With one, their ``message.posted`` events wake the
sockets at once and are ``heard`` here, and a look every ``every_s`` finds only what the bus did not
bring: a process killed between its commit and its publish, events it dropped while NATS was away
too long (``bus_outgoing_events``). Those threads are woken late but woken.

The hub hands this process's own messages to the sockets at commit (``note`` hears them too). Each
post stamps its thread with its transaction in commit order (``posted_tx``); each ``look`` reads
first the store's horizon (``store.posted_horizon``: no transaction the look cannot see, whenever it
commits, has a stamp below it), then the threads stamped at or above the previous look's horizon,
an indexed read of those threads only (``store.threads_posted_from``), and compares each one's last
seq with the last this process knew: a thread that moved on wakes the connected clients of its
parties (``HotlineHub.catch_up``), which read what they were not sent from the store.

So a post is found whenever its transaction commits: before, a look read the threads posted to
since the last look less ``margin_s`` (30 s) of the poster's clock, and a transaction that
committed later than that after it read the clock was never found. ``margin_s`` now only reaches
back on the first look, from when this process starts watching. A transaction held open long keeps
PostgreSQL's horizon (its oldest transaction in progress) back, and the looks read again the
threads posted to meanwhile, until it ends.

Before, every socket read every thread of its party every 2 s: a party others made a member of tens
of thousands of threads cost a second of CPU per socket per look. Now two indexed statements per
process per look, whatever the sockets and the threads. Held: the threads stamped at or above the
last horizon, id, seq and stamp each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event
from keepclear.domain.hotline import Message, Thread
from keepclear.store import Database
from keepclear.store import hotline as store

#: ``wake(thread_id, parties)``: the thread's clients are to read what they were not sent.
Wake = Callable[[str, Iterable[str]], None]
#: ``parties_of(thread_id)``: who is in the thread.
PartiesOf = Callable[[str], Iterable[str]]


class StoreWatch:
    """Finds the threads other processes posted to; ``look`` it every few seconds (a chore)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        wake: Wake,
        parties_of: PartiesOf,
        margin_s: float = 30.0,
        every_s: float = 0.0,
    ) -> None:
        """``every_s``: a ``look`` sooner than this after the last one (by ``clock``) reads nothing."""
        self._db = db
        self._every_s = every_s
        self._looked_s: float | None = None
        self._clock = clock
        self._wake = wake
        self._parties_of = parties_of
        self.margin_s = margin_s
        self._known: dict[str, tuple[int, int]] = {}  # thread -> (last seq known here, its stamp)
        self._horizon: int | None = None  # the last look's: the next reads from it
        self._lock = threading.Lock()
        #: Threads found moved on by another process (``hotline_store_watch_woken_total``).
        self.woken_total = 0

    def note(self, batch: list[tuple[Message, Thread]]) -> None:
        """Posting listener: this process's own messages, which the hub delivered at commit (their
        stamp, unknown here, is taken as the last horizon: the next look reads them with it)."""
        with self._lock:
            for message, _ in batch:
                self._noted(message.thread_id, message.seq)

    def heard(self, event: Event) -> None:
        """Bus subscriber for other processes' events: a ``message.posted`` the bus brought (and woke
        the sockets with) is known here, so the next look does not wake its thread again."""
        if event.kind != EventKind.MESSAGE_POSTED:
            return
        thread_id, seq = event.payload.get("thread_id"), event.payload.get("seq")
        if isinstance(thread_id, str) and isinstance(seq, int):
            with self._lock:
                self._noted(thread_id, seq)

    def _noted(self, thread_id: str, seq: int) -> None:
        # its stamp, unknown here, is taken as the last horizon: the next look reads the thread with it
        known_seq, stamp = self._known.get(thread_id, (0, self._horizon or 0))
        if seq > known_seq:
            self._known[thread_id] = (seq, stamp)

    def look(self, now_s: float | None = None) -> list[str]:
        """Wake the clients of every thread another process posted to since the last look, whenever its
        transaction committed; returns those threads (none, and nothing read, within ``every_s`` of
        the last look)."""
        now_s = self._clock.now_s() if now_s is None else now_s
        if self._every_s > 0:
            if self._looked_s is not None and 0 <= now_s - self._looked_s < self._every_s:
                return []
            self._looked_s = now_s
        with self._db.read() as conn:
            horizon = store.posted_horizon(conn)  # first: what the read below misses is stamped at least this
            if self._horizon is None:  # the first look reaches back ``margin_s`` of the clock
                posted = [(t, seq, horizon) for t, seq, _ in store.threads_posted_since(conn, now_s - self.margin_s)]
            else:
                posted = store.threads_posted_from(conn, self._horizon)
        moved: list[str] = []
        with self._lock:
            for thread_id, last_seq, stamp in posted:
                seq, _ = self._known.get(thread_id, (0, 0))
                if last_seq > seq:
                    moved.append(thread_id)
                self._known[thread_id] = (max(seq, last_seq), stamp)
            # A thread stamped below the horizon is not read again until it is posted to again.
            self._known = {t: known for t, known in self._known.items() if known[1] >= horizon}
            self._horizon = horizon
            self.woken_total += len(moved)
        for thread_id in moved:
            self._wake(thread_id, self._parties_of(thread_id))
        return moved

    @property
    def threads_held(self) -> int:
        """Threads whose last seq is held (``hotline_store_watch_threads``)."""
        return len(self._known)
