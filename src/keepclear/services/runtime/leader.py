"""One active instance per role, standbys ready to take over: a PostgreSQL advisory lock per role.

Some work must run in exactly one process of a deployment: the record signer (one chain), the
hotline and the activity deadline watchers. Each candidate holds a dedicated connection and asks for
the role's session-level lock (``pg_try_advisory_lock``); the one that gets it is active until its
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


class PostgresLeadership:
    """A role held through a session-level advisory lock on a dedicated PostgreSQL connection.

    ``url`` is keepclear's database URL (``postgresql+psycopg://…``). The connection is opened
    lazily, with TCP keepalives on both ends: a silent network loss ends the session (and frees
    the lock) on the server, and fails the holder's next check, within about 3 × ``keepalive_s``.
    """

    def __init__(
        self,
        url: str,
        role: Role | str,
        namespace: str = "keepclear",
        connect_timeout_s: int = 5,
        keepalive_s: int = 5,
    ) -> None:
        if not (isinstance(keepalive_s, int) and keepalive_s >= 1):
            raise ValueError(f"keepalive_s: {keepalive_s!r} must be a whole number of seconds >= 1")
        parsed = sa.make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"url: {parsed.get_backend_name()!r} has no advisory locks; use EmbeddedLeadership")
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.role = str(role)
        self.namespace = namespace
        self.key = lock_key(role, namespace)
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_s = keepalive_s
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of this holder's session (for drills), if connected."""
        return None if self._conn is None or self._conn.closed else self._conn.info.backend_pid

    def try_acquire(self) -> bool:
        if self._held:
            return self.still_held()
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=self._connect_timeout_s,
                    keepalives=1,
                    keepalives_idle=self._keepalive_s,
                    keepalives_interval=self._keepalive_s,
                    keepalives_count=3,
                    application_name=f"keepclear-{self.role}",
                )
                # The server's side of the same: a leader whose machine vanishes without closing
                # its socket loses its session (and the lock) after ~3 × keepalive_s.
                for name, value in (
                    ("tcp_keepalives_idle", self._keepalive_s),
                    ("tcp_keepalives_interval", self._keepalive_s),
                    ("tcp_keepalives_count", 3),
                ):
                    self._conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as exc:
            _log.warning("leader %s: cannot reach PostgreSQL: %s", self.role, exc)
            self._drop()
            return False
        self._held = bool(row and row[0])
        return self._held

    def still_held(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            # A session lock lasts as long as the session: a round trip on it proves both.
            self._conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            _log.warning("leader %s: lost the session: %s", self.role, exc)
            self._drop()
            return False
        return True

    def held_by_anyone(self, role: Role | str) -> bool:
        """Whether some session (this one included) holds ``role``'s lock in this namespace, asked on
        this holder's connection without taking it: a detector worker sees whether the worker a
        share belongs to is running. False (and the session dropped) when PostgreSQL cannot answer:
        ask again next poll."""
        if self._conn is None or self._conn.closed:
            return False
        key = lock_key(role, self.namespace)
        try:
            # A bigint advisory key shows as its high half in classid and its low half in objid.
            row = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1)",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
            ).fetchone()
        except psycopg.Error as exc:
            _log.warning("leader %s: cannot reach PostgreSQL: %s", self.role, exc)
            self._drop()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed and self._held:
            with contextlib.suppress(psycopg.Error):  # a session gone takes its lock along
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._drop()

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def leadership_for(database_url: str, role: Role | str, namespace: str = "keepclear") -> Leadership:
    """The leadership that fits the store: an advisory lock on PostgreSQL, always the leader on
    SQLite (one process owns the file)."""
    if sa.make_url(database_url).get_backend_name() == "sqlite":
        return EmbeddedLeadership()
    return PostgresLeadership(database_url, role, namespace)


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
