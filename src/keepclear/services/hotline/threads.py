"""Threads: who is in each (kept in memory: a thread never changes once made), the standing thread of
each pair of parties, and the threads a party opens among any parties, at most
``HotlineConfig.max_threads_per_party`` each (threads are never closed: every one it opened counts)."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event
from keepclear.domain.hotline import Thread
from keepclear.domain.ids import RandomBits, id_problem, random_id
from keepclear.domain.limits import text_problem
from keepclear.errors import NotFoundError, ValidationError
from keepclear.services.hotline.config import HotlineConfig
from keepclear.services.policy import thread_visible, unknown
from keepclear.services.quota import Quota
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store


class ThreadCache:
    """Threads by id, at most ``capacity``, the least recently used forgotten first (a thread never
    changes once made, so a cached one is never stale); safe across threads."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"max_cached_threads: must be at least 1, got {capacity}")
        self.capacity = capacity
        self._threads: OrderedDict[str, Thread] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, thread_id: str) -> Thread | None:
        """The thread ``thread_id`` when kept (now the most recently used), else None."""
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is not None:
                self._threads.move_to_end(thread_id)
            return thread

    def put(self, thread: Thread) -> None:
        """Keep ``thread``, forgetting the least recently used one past ``capacity``."""
        with self._lock:
            self._threads[thread.id] = thread
            self._threads.move_to_end(thread.id)
            if len(self._threads) > self.capacity:
                self._threads.popitem(last=False)

    def __len__(self) -> int:
        return len(self._threads)


def thread_created(thread: Thread, creator_party: str | None) -> Event:
    """``thread.created``: who opened a thread among whom (recorded; seen by its members)."""
    return Event(
        kind=EventKind.THREAD_CREATED,
        time_s=thread.created_s,
        party_id=creator_party,
        payload={
            "thread_id": thread.id,
            "title": thread.title,
            "parties": list(thread.parties),
            "standing": thread.standing,
        },
        parties=frozenset(thread.parties),
    )


class Threads:
    """The threads of one deployment: made here, their members read through a bounded cache
    (``HotlineConfig.max_cached_threads``), the standing thread of each pair remembered by id."""

    def __init__(
        self, db: Database, clock: Clock, config: HotlineConfig, random_bits: RandomBits = secrets.randbits
    ) -> None:
        self._db = db
        self._random_bits = random_bits
        self._clock = clock
        self._config = config
        self._cache = ThreadCache(config.max_cached_threads)
        self._pair_threads: dict[str, str] = {}
        #: The opener's bound; its refusals are ``hotline_threads_refused_limit_total``.
        self.quota = Quota(config.max_threads_per_party)

    @property
    def cached(self) -> int:
        """Threads kept in memory (``hotline_threads_cached``; at most ``max_cached_threads``)."""
        return len(self._cache)

    def get(self, conn: Connection, thread_id: str) -> Thread:
        """The thread ``thread_id``: kept, or read through ``conn`` (``NotFoundError`` when none)."""
        thread = self._cache.get(thread_id)
        if thread is None:
            thread = store.get_thread(conn, thread_id)
            self._cache.put(thread)
        return thread

    def known(self, thread_id: str, conn: Connection | None = None) -> Thread:
        """A thread known to exist (a message of it was just stored): kept, or read again through
        ``conn`` (or a read of its own, after a commit) when other threads pushed it out meanwhile."""
        thread = self._cache.get(thread_id)
        if thread is not None:
            return thread
        if conn is not None:
            return self.get(conn, thread_id)
        with self._db.read() as own:
            return self.get(own, thread_id)

    def of_member(self, conn: Connection, thread_id: str, party_id: str) -> Thread:
        """The thread, if ``party_id`` is a member; otherwise the same answer as for no thread at all."""
        try:
            thread = self.get(conn, thread_id)
        except NotFoundError:
            thread = None
        if thread is None or not thread_visible(party_id, thread.parties):
            raise NotFoundError(f"thread_id: {unknown('thread', thread_id)}")
        return thread

    # ---- standing threads, one per pair of parties

    def ensure_pair_thread(self, a: str, b: str) -> Thread:
        """The standing thread between parties ``a`` and ``b``, created when missing."""
        with self._db.write() as conn:
            thread = self.ensure_pair(conn, a, b)
        return thread

    def ensure_pair(self, conn: Connection, a: str, b: str) -> Thread:
        """``ensure_pair_thread`` in ``conn``'s transaction."""
        existing = store.thread_id_for_pair(conn, a, b)
        if existing is not None:
            return self.get(conn, existing)
        first, second = sorted((a, b))
        for party_id in (first, second):
            registry_store.get_party(conn, party_id)
        thread = Thread(
            random_id("t", self._random_bits), f"{first} – {second}", (first, second), True, self._clock.now_s()
        )
        if not store.insert_pair_thread(conn, thread, store.pair_key(first, second)):
            # Another process made it meanwhile (API processes starting side by side): theirs stands.
            made = store.thread_id_for_pair(conn, a, b)
            if made is None:
                raise RuntimeError(f"the standing thread of {first} and {second} could neither be stored nor found")
            return self.get(conn, made)
        stage(conn, [thread_created(thread, None)])
        return thread

    def ensure_standing(self) -> list[Thread]:
        """A standing thread for every pair of parties (for deployments whose parties predate the hotline)."""
        with self._db.write() as conn:
            ids = [p.id for p in registry_store.list_parties(conn)]
            return [self.ensure_pair(conn, a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]

    def pair_thread_id(self, a: str, b: str) -> str:
        """The id of the standing thread of ``a`` and ``b`` (made when missing), remembered once known."""
        thread_id = self._pair_threads.get(store.pair_key(a, b))
        return thread_id if thread_id is not None else self._remember_pair(a, b, self.ensure_pair_thread(a, b).id)

    def stored_pair_thread_id(self, conn: Connection, a: str, b: str) -> str:
        """The id of the standing thread of ``a`` and ``b`` as ``conn`` reads it; a missing one is not
        made here (in a writer's transaction that may roll back, nothing is remembered that may not stand)."""
        thread_id = self._pair_threads.get(store.pair_key(a, b))
        if thread_id is not None:
            return thread_id
        stored = store.thread_id_for_pair(conn, a, b)
        if stored is None:
            raise NotFoundError(f"the standing thread of {a} and {b} is not made yet")
        return self._remember_pair(a, b, stored)

    def _remember_pair(self, a: str, b: str, thread_id: str) -> str:
        self._pair_threads[store.pair_key(a, b)] = thread_id
        return thread_id

    # ---- threads a party opens

    def create(self, creator_party: str, parties: list[str], title: str) -> Thread:
        """A new thread among ``parties`` (the creator included), e.g. with an observer such as the UN."""
        problems = [p for i, party in enumerate(parties) if (p := id_problem(party, f"parties[{i}]"))]
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            problems.append("title: must be 1-200 characters")
        elif p := text_problem(title, "title"):
            problems.append(p)
        if problems:
            raise ValidationError(problems)
        members = sorted({creator_party, *parties})
        if len(members) < 2:
            problems.append("parties: a thread needs at least one party besides its creator")
        if len(members) > self._config.max_thread_parties:
            problems.append(f"parties: at most {self._config.max_thread_parties} parties per thread")
        if problems:
            raise ValidationError(problems)
        thread = Thread(random_id("t", self._random_bits), title.strip(), tuple(members), False, self._clock.now_s())
        with self._db.write() as conn:
            self._require_room(conn, creator_party)
            for i, party_id in enumerate(parties):
                try:
                    registry_store.get_party(conn, party_id)
                except NotFoundError:
                    raise NotFoundError(f"parties[{i}]: party {party_id!r} does not exist") from None
            store.insert_thread(conn, thread, None, creator_party)
            stage(conn, [thread_created(thread, creator_party)])
        self._cache.put(thread)
        return thread

    def _require_room(self, conn: Connection, party_id: str) -> None:
        """``ConflictError`` (409) when ``party_id`` opened ``max_threads_per_party`` threads already,
        counted in ``conn``'s transaction with the party's row locked (``store.threads_opened``): two
        processes opening its last one at once cannot both pass."""
        opened = store.threads_opened(conn, party_id)
        if not self.quota.allows(opened):
            raise self.quota.refused(
                f"party {party_id} has opened {opened} hotline threads, the most one party may open"
                f" (max_hotline_threads_per_party: {self.quota.most}); threads are never closed: post in one of them"
            )
