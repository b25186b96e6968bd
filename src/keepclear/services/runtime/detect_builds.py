"""Which build a detector worker runs, and the rule that keeps two builds from probing at once.

Two builds judging pairs of one deployment at the same time can disagree (other probe code, other
constants): a pair on a share boundary judged by two rules, an alert raised by one build and left
active by the other, which does not know its run marks. So a worker takes a share only while no
worker of another build runs one; a worker of a new build started beside running workers of the old
one waits, as a standby of its own build, until the old ones are stopped (a blue/green upgrade:
``docs/deploy.md``, "Upgrading detector workers").

The build is ``build_stamp``: a hash of the package version and of the sources that decide alerts
(those the kernels read, ``detect.kernel_cache.kernel_sources``, and the alert book's,
``services/tactical``). Each worker tells it on the PostgreSQL session of its home and share locks
(``LockSession``) with two shared advisory locks of two 32-bit keys (told apart in ``pg_locks`` from
the one-key role locks by ``objsubid`` 2): ``(lives, build)`` for its life, first on each session,
and ``(runs, build)`` while it holds a share lock. A worker that wants a share looks in ``pg_locks``
for a ``runs`` lock of another build, under a short exclusive gate lock, so that two builds cannot
both find the other idle and start together. Locks and not a table: they are what the workers already
watch each other by, they vanish with a dead worker's session at once (a row would outlive it and
need a lease), and they need no migration. A worker of a build before this rule holds neither: it is
told by its session's ``application_name`` (``keepclear-worker-<name>``, or before 2026-12-04
``keepclear-detect-home:…`` and ``keepclear-detect-share:…``) holding the lock of the worker or role
it names in this deployment's namespace, without a ``lives`` lock, and is reported as ``unstamped``:
a new worker waits for it too (its standbys included: which of its locks are shares is not known).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path

import psycopg

import keepclear.services.tactical as tactical_package
from keepclear import __version__
from keepclear.detect.kernel_cache import kernel_sources, source_stamp
from keepclear.services.runtime.leader import LockSession, lock_key

__all__ = ["UNSTAMPED", "BuildGuard", "build_problem", "build_stamp"]

_log = logging.getLogger("keepclear.worker.detect")

#: How a worker of a build before build stamps is reported (``waiting_for_build``).
UNSTAMPED = "unstamped"
_BUILD = re.compile(r"^[0-9a-f]{8}$")
#: The application names of the lock sessions of workers (this build's and earlier builds').
_WORKER_SESSIONS = ("keepclear-worker-%", "keepclear-detect-home:%", "keepclear-detect-share:%")


def build_stamp() -> str:
    """This build's stamp: 8 hex digits of a hash of the package version and every source that decides
    alerts (the kernels' folders and ``services/tactical``'s). Equal stamps: the same judgement."""
    tactical = Path(tactical_package.__file__).resolve().parent
    sources = source_stamp((*kernel_sources(), tactical))
    return hashlib.blake2b(f"{__version__}\0{sources}".encode(), digest_size=4).hexdigest()


def build_problem(build: str) -> str | None:
    """Why ``build`` cannot be a build stamp (8 lowercase hex digits), or None."""
    return None if _BUILD.match(build) else f"{build!r} must be 8 lowercase hex digits"


def _int4(value: int) -> int:
    """``value``'s low 32 bits as a signed 32-bit key (an advisory lock's half)."""
    low = value & 0xFFFFFFFF
    return low - (1 << 32) if low >= 1 << 31 else low


class BuildGuard:
    """A worker's build on its lock session (``session``; None on SQLite, one process: it always may
    take). ``announce`` before any other lock of a new session; ``open`` … ``close`` around taking
    share locks; ``settle`` once the worker holds none. ``waiting_for``: the other builds seen running
    shares by the last look (empty: none). Used from one thread at a time."""

    def __init__(self, session: LockSession | None, build: str, *, gate_wait_s: float = 1.0) -> None:
        problem = build_problem(build)
        if problem:
            raise ValueError(f"build: {problem}")
        self.build = build
        self.waiting_for: list[str] = []
        self._session = session
        self._gate = session.lock("detect-build-gate") if session is not None else None
        self._gate_wait_s = gate_wait_s
        namespace = session.namespace if session is not None else ""
        # ``lives`` has no namespace: a stamped worker of any deployment on the database is not unstamped.
        self._lives_class = _int4(lock_key("detect-build-lives", "keepclear"))
        self._runs_class = _int4(lock_key("detect-build-runs", namespace))
        self._build_key = _int4(int(build, 16))
        self._lives_generation: int | None = None
        self._runs_generation: int | None = None
        self._may: bool | None = None  # what ``open`` found, until ``close``
        self._unreachable = False  # the last ``announce`` could not reach PostgreSQL (said once)

    def _held(self, generation: int | None) -> bool:
        return self._session is not None and generation == self._session.generation

    def _take_shared(self, class_key: int) -> int | None:
        assert self._session is not None
        return self._session.try_lock_shared(class_key, self._build_key)

    def announce(self) -> bool:
        """Hold ``(lives, build)`` on the session (connecting it if needed); True when held."""
        if self._session is None or self._held(self._lives_generation):
            return True
        try:
            self._lives_generation = self._take_shared(self._lives_class)
        except psycopg.Error as exc:
            # Said once an outage (the next try is a poll away), as ``SessionLock`` does.
            (_log.debug if self._unreachable else _log.warning)(
                "build %s: cannot reach PostgreSQL: %s", self.build, exc
            )
            self._unreachable = True
            return False
        self._unreachable = False
        return self._lives_generation is not None

    def look(self) -> list[str] | None:
        """The other builds whose workers run shares now (``UNSTAMPED`` for workers of a build before
        stamps), sorted, kept as ``waiting_for``; None when PostgreSQL did not answer. Takes nothing."""
        if self._session is None:
            return []
        if not self.announce():
            return None
        sessions = " OR ".join("a.application_name LIKE %s" for _ in _WORKER_SESSIONS)
        try:
            # pg_locks shows each 32-bit half of a key as an oid (unsigned)
            builds = self._session.fetch(
                "SELECT array(SELECT DISTINCT lpad(to_hex(r.objid::bigint), 8, '0') FROM pg_locks r"
                " WHERE r.locktype = 'advisory' AND r.granted AND r.objsubid = 2 AND r.database = d.oid"
                " AND r.classid = %s::bigint::oid AND r.objid <> %s::bigint::oid ORDER BY 1)"
                " FROM pg_database d WHERE d.datname = current_database()",
                (self._runs_class & 0xFFFFFFFF, self._build_key & 0xFFFFFFFF),
                connect=False,
            )
            # The one-key advisory locks of unstamped worker sessions (``(lives, build)`` not held).
            unstamped = self._session.fetch(
                "SELECT coalesce(json_agg(json_build_array(a.application_name, l.classid::bigint,"
                " l.objid::bigint)), '[]'::json) FROM pg_database d"
                " JOIN pg_stat_activity a ON a.datid = d.oid JOIN pg_locks l ON l.pid = a.pid"
                f" WHERE d.datname = current_database() AND ({sessions}) AND l.locktype = 'advisory'"
                " AND l.granted AND l.objsubid = 1 AND l.database = d.oid AND NOT EXISTS (SELECT 1"
                " FROM pg_locks m WHERE m.pid = a.pid AND m.locktype = 'advisory' AND m.granted"
                " AND m.objsubid = 2 AND m.classid = %s::bigint::oid)",
                (*_WORKER_SESSIONS, self._lives_class & 0xFFFFFFFF),
                connect=False,
            )
        except psycopg.Error as exc:
            _log.warning("build %s: cannot look at the other builds: %s", self.build, exc)
            return None
        assert isinstance(builds, list) and isinstance(unstamped, list)
        found = [*builds, *([UNSTAMPED] if self._of_this_deployment(unstamped) else [])]
        self.waiting_for = sorted(str(build) for build in found)
        return self.waiting_for

    def _of_this_deployment(self, held: list[list[object]]) -> bool:
        """Whether one of ``held`` (application name, key halves of a one-key advisory lock of that
        session) is the lock its name says it holds in this deployment: ``keepclear-worker-<name>``
        holds ``detect-home:<name>``; ``keepclear-<role>`` (builds before 2026-12-04) holds ``<role>``.
        A name PostgreSQL cut at 63 characters matches nothing."""
        assert self._session is not None
        for app, high, low in held:
            name = str(app)
            role = f"detect-home:{name[17:]}" if name.startswith("keepclear-worker-") else name[10:]
            if lock_key(role, self._session.namespace) & 0xFFFFFFFFFFFFFFFF == (int(str(high)) << 32) | int(str(low)):
                return True
        return False

    def open(self, *, gate: bool = True) -> bool:
        """Whether this worker may take share locks now: ``(runs, build)`` held first, then ``look``
        finds no other build running (of two builds doing this at once, one at least sees the other),
        all under the gate (``gate``: one worker of the deployment at a time between its look and its
        take, so that two builds never both back off nor both go on). The same answer until ``close``,
        which must follow (it frees the gate); ``settle`` frees ``(runs, build)`` again if nothing was
        taken. Without ``gate``: a worker taking back the shares it ran when its session ended."""
        if self._may is not None:
            return self._may
        self._may = False
        if self._session is None or self._gate is None:
            self._may = True
            return True
        deadline_s = time.monotonic() + self._gate_wait_s
        while gate and not (self.announce() and self._gate.try_acquire()):
            if time.monotonic() > deadline_s:
                return False  # another worker is taking, or PostgreSQL does not answer: next poll
            time.sleep(0.025)
        if not self.announce():
            return False
        if not self._held(self._runs_generation):
            try:
                self._runs_generation = self._take_shared(self._runs_class)
            except psycopg.Error as exc:
                _log.warning("build %s: cannot reach PostgreSQL: %s", self.build, exc)
                return False
        self._may = self._runs_generation is not None and self.look() == []
        return self._may

    def close(self) -> None:
        """End what ``open`` began: free the gate."""
        if self._gate is not None and self._gate.held:
            self._gate.release()
        self._may = None

    def settle(self, holding: bool) -> None:
        """Free ``(runs, build)`` when the worker holds no share lock (``holding`` False)."""
        if holding or self._session is None or not self._held(self._runs_generation):
            return
        try:
            self._session.fetch(
                "SELECT pg_advisory_unlock_shared(%s::int4, %s::int4)",
                (self._runs_class, self._build_key),
                connect=False,
            )
        except psycopg.Error:
            return  # the session is gone, and the lock with it
        self._runs_generation = None
