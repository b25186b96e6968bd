"""One active instance per role, standbys ready to take over: a PostgreSQL advisory lock per role.

Some work must run in exactly one process of a deployment: the record signer (one chain), the
hotline and the activity deadline watchers. Each candidate holds a dedicated connection and asks for
the role's session-level lock (``pg_try_advisory_lock``; a detector worker holds its home and share
locks on one session, ``LockSession``); the one that gets it is active until its
session ends, which PostgreSQL notices when the process dies or its connection drops, and a
standby's next try then succeeds. The active one checks its session every poll; a failed check
means it must stop at once (``on_lost``), because a standby may already hold the lock.

On SQLite (the embedded default: one process) ``EmbeddedLeadership`` is always the leader.

Not a fence on its own: between the session's end and the old leader's next check, both may act
for up to one poll. What they do then cannot clash: the signer appends under the ledger head's row
lock and takes outbox rows ``FOR UPDATE`` (a row signed by one is gone for the other), and the
deadline watchers change each activity or message in a transaction that re-reads its state.

Wired in ``Runtime``: the signer's thread (``RecordSigner(active=...)``) and the hotline and
activity deadline tasks run in the leader of their role only. The hotline's notices need no
leader: each process posts those of the events it emitted itself (the bus hands other processes'
events only to what keeps memory current), so each is posted once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

import psycopg
import sqlalchemy as sa
from psycopg import sql

_log = logging.getLogger("keepclear.leader")


class Role(StrEnum):
    """Work that runs in one process at a time."""

    SIGNER = "signer"
    HOTLINE_DEADLINES = "hotline-deadlines"
    ACTIVITY_DEADLINES = "activity-deadlines"
    #: The zone watch's events of API processes that share the picture (``detect_in_workers``).
    ZONE_EVENTS = "zone-events"


def lock_key(role: Role | str, namespace: str = "keepclear") -> int:
    """The advisory lock key of ``role``: a stable signed 64-bit hash of namespace and role (the
    namespace keeps deployments sharing one PostgreSQL apart)."""
    digest = hashlib.blake2b(f"{namespace}:{role}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership(Protocol):
    """Whether this process holds a role."""

    def try_acquire(self) -> bool:
        """Take the role if it is free; True when this process holds it (now or already)."""
        ...

    def still_held(self) -> bool:
        """True while the role is still this process's (False once lost: stop acting at once)."""
        ...

    def release(self) -> None:
        """Give the role up (and the connection behind it)."""
        ...

    @property
    def held(self) -> bool:
        """What the last ``try_acquire``/``still_held`` found (no round trip): for metrics."""
        ...


class EmbeddedLeadership:
    """The embedded default (SQLite, one process): always the leader."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None

    @property
    def held(self) -> bool:
        return True


class LockSession:
    """Advisory locks on one dedicated PostgreSQL session: as many locks as a process needs (a
    detector worker's home and each of its shares) for one connection, where a lock a connection
    would want hundreds of connections for hundreds of workers. ``lock(role)`` gives a
    ``Leadership`` of this session. The locks last as long as the session: when it ends (the process
    dies, the connection drops) PostgreSQL frees them all, and each lock of it reads as lost here.

    ``url`` is keepclear's database URL (``postgresql+psycopg://…``). The connection is opened
    lazily, with TCP keepalives on both ends: a silent network loss ends the session (and frees
    its locks) on the server, and fails the next check here, within about 3 × ``keepalive_s``.
    Safe to use from several threads (one statement at a time).
    """

    def __init__(
        self,
        url: str,
        namespace: str = "keepclear",
        *,
        application_name: str = "keepclear-locks",
        connect_timeout_s: int = 5,
        keepalive_s: int = 5,
    ) -> None:
        if not (isinstance(keepalive_s, int) and keepalive_s >= 1):
            raise ValueError(f"keepalive_s: {keepalive_s!r} must be a whole number of seconds >= 1")
        parsed = sa.make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"url: {parsed.get_backend_name()!r} has no advisory locks; use EmbeddedLeadership")
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.namespace = namespace
        self._application_name = application_name
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_s = keepalive_s
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        #: Moves on each time the session is dropped: a lock taken in an earlier one is lost.
        self.generation = 0
        #: Whether the last statement reached PostgreSQL (False after an error on the way: the server
        #: restarting, failing over or cut off, when nobody else can take a lock either, or one
        #: session of several lost).
        self.reachable = True
        self._lock = threading.RLock()

    def lock(self, role: Role | str) -> SessionLock:
        """The lock of ``role`` (in this session's namespace) held through this session."""
        return SessionLock(self, role)

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of this session (for drills), if connected."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    def fetch(self, query: str, params: tuple[object, ...] = (), *, connect: bool = True) -> object | None:
        """The first column of the first row of ``query`` on the session (connected first when
        ``connect``, else ``psycopg.OperationalError`` when it is not open); a ``psycopg.Error`` on
        the way drops the session (every lock of it is lost) and is raised."""
        with self._lock:
            if (self._conn is None or self._conn.closed) and not connect:
                raise psycopg.OperationalError("the session is not open")
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                row = self._conn.execute(query, params).fetchone()
            except psycopg.Error:
                self.reachable = False
                self.drop()
                raise
            self.reachable = True
        return row[0] if row else None

    def try_lock(self, key: int) -> int | None:
        """Take the advisory lock ``key`` if it is free: the session's generation it is held in, or
        None when another session holds it (``psycopg.Error``: see ``fetch``)."""
        with self._lock:  # the generation read is the one the lock is taken in
            taken = bool(self.fetch("SELECT pg_try_advisory_lock(%s)", (key,)))
            return self.generation if taken else None

    def try_lock_shared(self, class_key: int, key: int) -> int | None:
        """Take the shared advisory lock of the two signed 32-bit keys ``(class_key, key)`` unless a
        session holds it exclusively: the generation it is held in, or None (``psycopg.Error``: see
        ``fetch``). Shared: every session may hold it at once (a detector worker's build, ``detect_builds``)."""
        with self._lock:
            taken = bool(self.fetch("SELECT pg_try_advisory_lock_shared(%s::int4, %s::int4)", (class_key, key)))
            return self.generation if taken else None

    def held_by_anyone(self, role: Role | str) -> bool:
        """Whether some session (this one included) holds ``role``'s lock in this namespace, asked
        without taking it: a detector worker sees whether the worker a share belongs to runs. False
        (and the session dropped) when PostgreSQL cannot answer: ask again next poll."""
        key = lock_key(role, self.namespace)
        if self.backend_pid is None:
            return False  # not connected: nothing to ask on (the caller holds no lock of it either)
        try:
            # A bigint advisory key shows as its high half in classid and its low half in objid.
            found = self.fetch(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1)",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
                connect=False,
            )
        except psycopg.Error as exc:
            _log.warning("locks %s: cannot reach PostgreSQL: %s", self._application_name, exc)
            return False
        return bool(found)

    def drop(self) -> None:
        """Close the session: PostgreSQL frees every lock of it."""
        with self._lock:
            self.generation += 1
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout_s,
            keepalives=1,
            keepalives_idle=self._keepalive_s,
            keepalives_interval=self._keepalive_s,
            keepalives_count=3,
            application_name=self._application_name,
        )
        # The server's side of the same: a holder whose machine vanishes without closing its
        # socket loses its session (and its locks) after ~3 × keepalive_s.
        try:
            for name, value in (
                ("tcp_keepalives_idle", self._keepalive_s),
                ("tcp_keepalives_interval", self._keepalive_s),
                ("tcp_keepalives_count", 3),
            ):
                conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        except BaseException:  # cut off half way (a drill ends sessions): closed, not left to the collector
            conn.close()
            raise
        return conn


class SessionLock:
    """A role held through a session-level advisory lock of a ``LockSession`` (a ``Leadership``)."""

    def __init__(self, session: LockSession, role: Role | str) -> None:
        self.session = session
        self.role = str(role)
        self.namespace = session.namespace
        self.key = lock_key(role, session.namespace)
        self._generation: int | None = None  # the session's generation the lock was taken in
        self._unreachable = False  # the last try could not reach PostgreSQL (logged once)

    @property
    def held(self) -> bool:
        return self._generation is not None and self._generation == self.session.generation

    def try_acquire(self) -> bool:
        if self.held:
            return self.still_held()
        try:
            self._generation = self.session.try_lock(self.key)
        except psycopg.Error as exc:
            # Said once an outage (the next try is a poll away), then again when it ends.
            (_log.debug if self._unreachable else _log.warning)(
                "leader %s: cannot reach PostgreSQL: %s", self.role, exc
            )
            self._unreachable = True
            self._generation = None
            return False
        if self._unreachable:
            _log.warning("leader %s: PostgreSQL answers again", self.role)
            self._unreachable = False
        return self._generation is not None

    def still_held(self) -> bool:
        if not self.held:
            self._generation = None
            return False
        try:
            # A session lock lasts as long as the session: a round trip on it proves both.
            self.session.fetch("SELECT 1", connect=False)
        except psycopg.Error as exc:
            _log.warning("leader %s: lost the session: %s", self.role, exc)
            self._generation = None
            return False
        return self.held

    def release(self) -> None:
        """Give the role up (the session stays for its other locks)."""
        if self.held:
            with contextlib.suppress(psycopg.Error):  # a session gone takes its lock along
                self.session.fetch("SELECT pg_advisory_unlock(%s)", (self.key,), connect=False)
        self._generation = None


class PostgresLeadership(SessionLock):
    """A role held through a session-level advisory lock on a dedicated connection of its own (a
    ``LockSession`` with this one lock): ``release`` closes it."""

    def __init__(
        self,
        url: str,
        role: Role | str,
        namespace: str = "keepclear",
        connect_timeout_s: int = 5,
        keepalive_s: int = 5,
    ) -> None:
        session = LockSession(
            url,
            namespace,
            application_name=f"keepclear-{role}",
            connect_timeout_s=connect_timeout_s,
            keepalive_s=keepalive_s,
        )
        super().__init__(session, role)

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of this holder's session (for drills), if connected."""
        return self.session.backend_pid

    def held_by_anyone(self, role: Role | str) -> bool:
        """``LockSession.held_by_anyone`` on this holder's connection."""
        return self.session.held_by_anyone(role)

    def release(self) -> None:
        super().release()
        self.session.drop()


def leads_through_outage(leadership: Leadership) -> Callable[[], bool]:
    """A ``try_acquire`` for a role whose work needs no store (the zone watch's events): it leads while
    it holds the lock, and goes on leading while PostgreSQL cannot be reached at all after it held it
    (a restart, a failover: nobody can take the lock then, and the role's events must not stop with
    the store); once PostgreSQL answers, it leads only if it takes the lock back."""
    led = False

    def leads() -> bool:
        nonlocal led
        if leadership.try_acquire():
            led = True
        elif not (led and isinstance(leadership, SessionLock) and not leadership.session.reachable):
            led = False
        return led

    return leads


def leadership_for(database_url: str, role: Role | str, namespace: str = "keepclear") -> Leadership:
    """The leadership that fits the store: an advisory lock on PostgreSQL, always the leader on
    SQLite (one process owns the file)."""
    if sa.make_url(database_url).get_backend_name() == "sqlite":
        return EmbeddedLeadership()
    return PostgresLeadership(database_url, role, namespace)


def lock_session_for(database_url: str, namespace: str, application_name: str) -> LockSession | None:
    """A ``LockSession`` on PostgreSQL; None on SQLite (one process owns the file: every lock is its)."""
    if sa.make_url(database_url).get_backend_name() == "sqlite":
        return None
    return LockSession(database_url, namespace, application_name=application_name)


class LeaderLoop:
    """Keeps trying for a role every ``poll_s`` and checks it while held, on its own thread.

    ``on_elected`` runs when this process becomes the leader, ``on_lost`` when it stops being one
    (its session ended, or ``stop``). Both run on the loop's thread.
    """

    def __init__(
        self,
        leadership: Leadership,
        on_elected: Callable[[], None],
        on_lost: Callable[[], None],
        poll_s: float = 0.5,
    ) -> None:
        if not poll_s > 0:
            raise ValueError(f"poll_s: {poll_s!r} must be > 0")
        self._leadership = leadership
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._leading = False
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        """Whether this process is the leader as of the last poll."""
        return self._leading

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="keepclear-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and give the role up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._leading:
                    if not self._leadership.still_held():
                        self._leading = False
                        self._on_lost()
                elif self._leadership.try_acquire():
                    self._leading = True
                    self._on_elected()
                self._stop.wait(self._poll_s)
        finally:
            if self._leading:
                self._leading = False
                self._on_lost()
            self._leadership.release()
