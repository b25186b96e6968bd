"""Which shares a detector worker runs (``ShareKeeper``): its own, those it adopts from dead workers
and hands back, and none while workers of another build run theirs. The worker that probes them is
``detect_worker``; one share running here is ``detect_share_run``'s ``RunningShare``.

Shares and takeover. Started as ``--worker-index I --workers N``, a worker is named ``w<I>of<N>``
and owns one share, or with ``--shares-per-worker K`` ``K`` finer ones (``detect_shares``), so that
when it dies its cells spread over ``K`` adopters rather than doubling one worker's load. The other
workers' shares are ones it may adopt. Each share runs where its PostgreSQL advisory lock
``detect-share:<name>`` is held; a worker holds ``detect-home:<its name>`` while it lives. A share
whose worker's home lock nobody holds (the worker is dead: PostgreSQL frees a dead session's locks
at once) is taken by the first living worker to get its share lock, after ``adopt_after_s`` for a
standby, one more for a worker with shares of its own, and one more for each share it adopted
already. The adopter resumes the share's durable consumer where the dead worker stopped (no report
lost or taken twice), resolves the dead run's alerts and raises again the pairs still in conflict.
When the share's worker is back (its home lock held again), the adopter hands the share back: it
stops probing it, waits until its last events are on the stream, and frees the lock, which the
returning worker takes. A worker given ``--cells`` (or on SQLite, one process) runs its one share
and adopts none.

Builds. A worker takes a share only while no worker of another build runs one (``detect_builds``):
started beside them it waits, holding no home lock (the other build's workers adopt its share
meanwhile), and takes its own once they are gone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from keepclear.detect.cells import CellPlan
from keepclear.errors import ValidationError
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.detect_builds import BuildGuard, build_stamp
from keepclear.services.runtime.detect_share_run import RunningShare, retrying
from keepclear.services.runtime.detect_shares import Share, home_role, tidy
from keepclear.services.runtime.leader import EmbeddedLeadership, Leadership, lock_session_for
from keepclear.services.runtime.nats_bus import STREAM_MAX_AGE_S, NatsBus
from keepclear.services.runtime.nats_tracks import recent_alert_events
from keepclear.services.tactical.service import TacticalConfig

_log = logging.getLogger("keepclear.worker.detect")


class ShareKeeper:
    """The shares worker ``name`` runs (``running``, by name): ``home``, its own (none: a standby), and
    ``others``, adopted while their worker is gone (module docstring; only on PostgreSQL, whose locks
    tell a dead worker from a living one). ``config`` and ``plan`` are the probe's and the cells'.

    ``start`` takes the home shares and starts watching the others every ``poll_s``; ``stop`` stops
    watching and every share; ``release`` frees the locks. ``tick_lock`` is held while a share
    starts or stops: a tick holding it sees no share handed over meanwhile."""

    def __init__(
        self,
        deployment: Deployment,
        bus: NatsBus,
        config: TacticalConfig,
        plan: CellPlan,
        name: str,
        *,
        home: Sequence[Share],
        others: Sequence[Share],
        adopt_after_s: float,
        poll_s: float,
        build: str | None,
    ) -> None:
        self._deployment = deployment
        self._bus = bus
        self._config = config
        self._plan = plan
        self.name = name
        self.home = [tidy(share) for share in home]
        url = deployment.settings.resolved_database_url()
        # The home lock and every share lock on one PostgreSQL session (one connection however many
        # shares); shares are adopted only where a dead worker can be told from a living one.
        self._locks = lock_session_for(url, url, f"keepclear-worker-{name}")
        self._home_lock = self._lock(home_role(name))
        #: This worker's build on its lock session, and whether it waits for another build's to stop.
        self._builds = BuildGuard(self._locks, build or build_stamp())
        self.build = self._builds.build
        self._waiting = False
        self._told: tuple[bool, list[str]] = (False, [])  # what ``_tell_build`` said last
        self._home_elsewhere = False
        adopting = self._locks is not None
        if not home and not adopting:
            raise ValidationError(
                ["database_url: a standby worker needs PostgreSQL (it adopts the shares of dead workers)"]
            )
        self._home_names = frozenset(share.name for share in self.home)
        self.others = [tidy(share) for share in others] if adopting else []
        self._owned = [*self.home, *self.others]
        self._share_locks = {s.name: self._lock(f"detect-share:{s.name}") for s in self._owned}
        self._adopt_after_s = adopt_after_s
        self._poll_s = poll_s
        self._absent_since: dict[str, float] = {}
        #: The lock session ended while PostgreSQL could not be reached, and the shares went on.
        self._kept_through_outage = False
        #: The shares probed here now, by name.
        self.running: dict[str, RunningShare] = {}
        #: Held while a tick runs and while a share stops: a share handed over raises nothing after.
        self.tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._manager: threading.Thread | None = None
        #: Alerts of earlier runs resolved when the home shares started.
        self.retired = 0
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def on_shares(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with a line each time a share starts or stops here (taken, handed back, lost)."""
        self._listeners.append(listener)

    @property
    def waiting_for(self) -> list[str]:
        """Other builds whose workers run shares: this worker takes none (empty: it may)."""
        return list(self._builds.waiting_for)

    def start(self, timeout_s: float = 30.0) -> None:
        """Take this worker's own shares (``retired``: the alerts of their earlier runs, resolved now)
        and start watching the shares it may adopt."""
        deadline_s = time.monotonic() + timeout_s
        # Workers of another build run shares: wait for them to stop, without the home lock (``detect_builds``).
        self._waiting = bool(self._builds.look())
        if not self._waiting:
            while not (self._builds.announce() and self._home_lock.try_acquire()):
                if time.monotonic() > deadline_s:
                    raise ValidationError([f"name: a worker {self.name!r} already runs (its lock is held)"])
                time.sleep(self._poll_s)
            self.retired += self._start_taken(self._take(self.home), timeout_s)
            self._builds.settle(self._holding())
        self._tell_build()
        if self._waiting or self.others or any(share.name not in self.running for share in self.home):
            self._manager = threading.Thread(target=self._manage, name="keepclear-worker-shares", daemon=True)
            self._manager.start()

    def stop(self) -> None:
        """Stop watching the shares and stop every one running here (their locks still held)."""
        self._stop.set()
        if self._manager is not None:
            self._manager.join(timeout=10.0)
        for name in list(self.running):
            self._stop_share(name, "closed")

    def release(self) -> None:
        """Free every lock and end the lock session (the durable consumers stay for the next holder)."""
        for lock in self._share_locks.values():
            lock.release()
        self._home_lock.release()
        if self._locks is not None:
            self._locks.drop()

    def _take(self, wanted: Sequence[Share], *, gate: bool = True) -> list[Share]:
        """Those of ``wanted`` whose locks this worker took: none while a worker of another build runs
        shares (``BuildGuard.open``). The caller starts them (``_start_taken``) and settles the build."""
        try:
            return [s for s in wanted if self._builds.open(gate=gate) and self._share_locks[s.name].try_acquire()]
        finally:
            self._builds.close()

    def _start_taken(self, taken: Sequence[Share], timeout_s: float = 30.0) -> int:
        """Start the shares whose locks were just taken (a share that fails frees its lock and those of the
        ones after it); returns how many alerts of earlier runs the home shares among them resolved."""
        retired = 0
        for i, share in enumerate(taken):
            try:
                resolved = self._start_share(share, timeout_s)
            except Exception:
                for rest in taken[i:]:
                    self._share_locks[rest.name].release()
                raise
            retired += resolved if share.name in self._home_names else 0
        return retired

    def _holding(self) -> bool:
        """Whether this worker holds a share lock."""
        return any(lock.held for lock in self._share_locks.values())

    def _tell_build(self) -> None:
        """Say (a line without ``share``) when the worker starts or stops waiting, or for other builds."""
        now = (self._waiting, list(self._builds.waiting_for))
        if now != self._told:
            self._told = now
            self._tell({"build": self.build, "waiting": now[0], "waiting_for_build": now[1]})

    def _start_share(self, share: Share, timeout_s: float = 30.0) -> int:
        """Start probing ``share`` (its lock held): learn the alerts held, resolve its earlier runs',
        resume its consumer. Returns how many alerts it resolved."""
        running = RunningShare(self._deployment, self._bus, self._config, self._plan, share)
        running.tactical.warm_up()
        since_s = time.time() - STREAM_MAX_AGE_S
        heard = retrying(lambda: self._bus.call(lambda nc: recent_alert_events(nc, since_s)).result(timeout_s))
        resolved = running.retire(heard)
        # The alerts of the shares held here already count as held elsewhere for this one.
        for other in list(self.running.values()):
            for alert in other.tactical.book.active():
                running.tactical.hold_elsewhere(alert.id, alert.unit_a, alert.unit_b)
        self._bus.publish(resolved)
        retrying(running.feed.start)
        with self.tick_lock:
            self.running[share.name] = running
        self._tell({"share": share.name, "state": "started", "earlier_alerts_resolved": len(resolved)})
        return len(resolved)

    def _stop_share(self, name: str, reason: str) -> None:
        """Stop probing share ``name``: no tick of it after this; its feed stopped; its events on the
        stream before its lock is freed (the next holder learns them)."""
        with self.tick_lock:
            running = self.running.pop(name, None)
        if running is None:
            return
        with contextlib.suppress(Exception):  # stopping must not fail: the next holder resumes the consumer
            running.feed.stop()
        if not self._bus.wait_sent():
            _log.warning("share %s: events still unsent when it was handed over", name)
        self._tell({"share": name, "state": "stopped", "reason": reason})

    def _tell(self, line: dict[str, Any]) -> None:
        for listener in self._listeners:
            listener({"worker": self.name, **line})

    def _manage(self) -> None:
        """Every ``poll_s``: keep the home share, adopt the shares whose worker is gone, hand them back
        when it returns, stop any whose lock was lost."""
        while not self._stop.wait(self._poll_s):
            try:
                self._manage_once()
            except Exception:  # logged; tried again next poll (a store hiccup)
                _log.exception("managing the shares failed")

    def _lock(self, role: str) -> Leadership:
        """The lock of ``role`` on the worker's session (on SQLite, one process: always held)."""
        return self._locks.lock(role) if self._locks is not None else EmbeddedLeadership()

    def _session_ended(self) -> None:
        """This worker's lock session ended. A new one that takes the home lock back keeps each running
        share whose lock it takes back too; while PostgreSQL cannot be reached at all (a restart, a
        failover) the shares go on probing, as nobody can take their locks either: the alerts of a
        theatre must not stop with the store. Otherwise (another process holds them now) they stop."""
        assert self._locks is not None  # an embedded lock never ends
        if self._builds.announce() and self._home_lock.try_acquire():
            if self._kept_through_outage:
                _log.warning("worker %s: PostgreSQL answers again; taking its shares' locks back", self.name)
            self._kept_through_outage = False
            # Not gated (``BuildGuard.open``): a worker taking back what it ran waits for nobody.
            kept = {s.name for s in self._take([s for s in self._owned if s.name in self.running], gate=False)}
            for name in list(self.running):
                if name not in kept:
                    self._stop_share(name, "lost its lock")
            return
        if not self._locks.reachable and self.running:
            if not self._kept_through_outage:
                _log.warning(
                    "worker %s: PostgreSQL cannot be reached; shares %s go on until it answers",
                    self.name,
                    ", ".join(sorted(self.running)),
                )
            self._kept_through_outage = True
            return
        self._kept_through_outage = False
        for name in list(self.running):
            self._stop_share(name, "lost its lock")

    def _worker_alive(self, share: Share) -> bool:
        """Whether ``share``'s worker holds its home lock (it lives). Only asked of the shares this
        worker adopts, which it has only on PostgreSQL."""
        assert self._locks is not None
        return self._locks.held_by_anyone(home_role(share.worker))

    def _manage_once(self) -> None:
        if self._waiting and not self._end_wait():
            self._tell_build()
            return
        if self._builds.waiting_for:
            self._builds.look()  # a race or an outage let another build run beside this one: is it gone?
        self._manage_shares()
        self._builds.settle(self._holding())
        if self._builds.waiting_for and not self.running:
            # Another build runs shares and this worker none: it waits, its home lock freed, so that
            # the other build's workers adopt its shares meanwhile.
            self._home_lock.release()
            self._waiting = True
        self._tell_build()

    def _end_wait(self) -> bool:
        """Whether a waiting worker may stop waiting: no worker of another build runs shares, and it holds
        its home lock again."""
        if self._builds.look() != []:
            return False
        if not self._home_lock.try_acquire():
            if not self._home_elsewhere:
                _log.warning("worker %s: its home lock is held by another process (one of its name runs?)", self.name)
            self._home_elsewhere = True
            return False
        self._home_elsewhere = False
        self._waiting = False
        return True

    def _manage_shares(self) -> None:
        home_lock = self._home_lock
        if not home_lock.still_held():
            self._session_ended()
            return
        now_s = time.monotonic()
        taken: list[Share] = []
        try:
            self._choose(now_s, taken)
        finally:
            self._builds.close()
        self.retired += self._start_taken(taken)

    def _choose(self, now_s: float, taken: list[Share]) -> None:
        """Stop the shares lost or handed back, and take (into ``taken``) the locks of those to start."""
        for share in self._owned:
            name = share.name
            lock = self._share_locks[name]
            mine = share.worker == self.name
            if name in self.running:
                # The home lock's check above was a round trip on the session every share lock is on:
                # a share lock is still held if it was taken in that session (no round trip each).
                if not lock.held:
                    self._stop_share(name, "lost its lock")
                elif not mine and self._worker_alive(share):
                    self._stop_share(name, "handed back")
                    lock.release()
                continue
            if mine:
                wanted = True
            else:
                if self._worker_alive(share):
                    self._absent_since.pop(name, None)
                    wanted = False
                else:
                    # A worker with shares of its own waits one ``adopt_after_s`` more than a standby,
                    # and one more for each share it has adopted already: a standby adopts first, and
                    # the shares of a worker (or a machine) that died spread over the living instead
                    # of piling up on whichever polled first.
                    adopted = sum(
                        1 for held in [*self.running, *(s.name for s in taken)] if held not in self._home_names
                    )
                    wait_s = self._adopt_after_s * (1 + (1 if self.home else 0) + adopted)
                    wanted = now_s - self._absent_since.setdefault(name, now_s) >= wait_s
            if wanted and self._builds.open() and lock.try_acquire():
                taken.append(share)
