"""A detector worker: ``keepclear worker detect`` (issue 20), the probe for a set of cells.

The worker consumes the track subjects of its cells and of the cells within the halo
(``nats_tracks.TrackFeed``, a durable consumer named after the worker: a restart resumes), keeps
their units' states in a track table, and on every tick of the deployment's clock probes them and
feeds the alert book with the pairs it owns (``TacticalService`` with a ``CellShare``: a pair on a
cell boundary belongs to the lower cell, so it is raised by exactly one worker). The alert events
go on the bus like any process's: this worker records them (its own record signer on the store),
opens the incidents of losses of separation and posts them to the hotline as a ``serve`` process
does (an API process freezes an incident's evidence: it holds the durable track history), and the
API processes hand them to the parties' streams and ``/v1/alerts``. Their ids are stable (the same
event, the same id), so a publish retried or redelivered is taken once. Zones are watched by the API
processes, not here. Alert ids and runs: ``detect_share_run``.

Which shares it probes (its own, those it adopts from dead workers and hands back, none while
workers of another build run theirs): ``detect_share_keeper``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from keepclear.detect.cells import cells_in_view
from keepclear.domain.event_kinds import ALERT_KINDS
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.services.hotline.phrases import load_catalogue
from keepclear.services.hotline.service import HotlineService
from keepclear.services.incidents.service import IncidentService
from keepclear.services.record.signer import ledger_for, signer_for
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.detect_builds import build_problem
from keepclear.services.runtime.detect_share_keeper import ShareKeeper
from keepclear.services.runtime.detect_shares import Share, check_shares, worker_name_problem
from keepclear.services.runtime.leader import Role as LeaderRole
from keepclear.services.runtime.leader import leadership_for
from keepclear.services.runtime.nats_bus import NatsBus
from keepclear.services.tactical.service import TacticalService, cell_plan

_log = logging.getLogger("keepclear.worker.detect")


class DetectWorker:
    """One worker's parts on ``deployment`` (whose bus must be NATS): its shares (feed, probe, alert
    book each), and the record, incidents and hotline of their events.

    ``name`` names the worker (its home lock); ``home`` are its own shares, each naming it as its
    worker (none: a standby, which only adopts); ``others`` the shares it adopts while their worker is
    gone (``detect_share_keeper``; only on PostgreSQL). ``build``: this build's stamp (default ``build_stamp()``;
    tests give another). ``start`` warms the probe up, takes the home shares
    (one an adopter still holds comes back within a few polls) and starts watching the others;
    ``tick`` runs one probe cycle over every share held (``run`` ticks every ``tick_s`` until told to
    stop); ``close`` stops consuming and signing.
    """

    def __init__(
        self,
        deployment: Deployment,
        name: str,
        config: RuntimeConfig | None = None,
        *,
        home: Sequence[Share],
        others: Sequence[Share] = (),
        adopt_after_s: float = 1.0,
        poll_s: float = 0.5,
        build: str | None = None,
    ) -> None:
        settings = deployment.settings
        bus = deployment.bus
        if not isinstance(bus, NatsBus):
            raise ValidationError(["bus_url: keepclear worker detect needs the NATS bus (set bus_url)"])
        problem = worker_name_problem(name)
        if problem:
            raise ValidationError([f"name: {problem}"])
        if build is not None and build_problem(build):
            raise ValidationError([f"build: {build_problem(build)}"])
        if not (adopt_after_s >= 0 and poll_s > 0):
            raise ValidationError([f"adopt_after_s, poll_s: {adopt_after_s!r}, {poll_s!r} must be >= 0 and > 0"])
        self.deployment = deployment
        self.bus = bus
        self.name = name
        self.config = config or RuntimeConfig.from_settings(settings)
        self.plan = cell_plan(self.config.tactical, settings.detect_cell_deg)
        check_shares(name, home, others, self.plan.grid.cell_count)
        self._keeper = ShareKeeper(
            deployment,
            bus,
            self.config.tactical,
            self.plan,
            name,
            home=home,
            others=others,
            adopt_after_s=adopt_after_s,
            poll_s=poll_s,
            build=build,
        )
        self.home = self._keeper.home
        self.others = self._keeper.others
        self.build = self._keeper.build
        #: The cells of the home shares (none for a standby), ascending.
        self.cells = np.unique(np.concatenate([s.cells for s in self.home])) if self.home else np.zeros(0, np.int64)
        #: Every cell whose subject the home shares consume (their own and the halo's), ascending.
        self.view_cells = cells_in_view(self.plan, self.cells) if len(self.cells) else self.cells
        bus.subscribe(self._on_event, remote=True)
        # What a serve process does with its own alert events: the record and the hotline.
        # One process of the deployment signs (``services/runtime/leader.py``): as a standby the worker
        # stages its alert entries in the outbox for the leader, which may be an API process or itself.
        url = settings.resolved_database_url()
        ledger = ledger_for(deployment.db, deployment.clock, self.config.record)
        self._signer_role = leadership_for(url, LeaderRole.SIGNER, url)
        self.record = signer_for(deployment.db, ledger, self.config.record, active=self._signer_role.try_acquire)
        bus.subscribe_batches(self.record.record)
        # Incidents opened from its losses of separation; their evidence is frozen by an API process,
        # which holds the durable track history (no history here: ``freeze_due`` is not run).
        self.incidents = IncidentService(
            deployment.db, deployment.clock, bus, None, self.config.incidents, ledger=ledger
        )
        bus.subscribe_batches(self.incidents.on_events)
        self.hotline = HotlineService(
            deployment.db,
            deployment.clock,
            bus,
            load_catalogue(self.config.hotline_phrase_files),
            self.config.hotline,
        )
        bus.subscribe_batches(self.hotline.on_events)
        self.ticks = 0
        self.alert_events_total = 0
        self._listeners: list[Callable[[list[Event]], None]] = []

    def on_alerts(self, listener: Callable[[list[Event]], None]) -> None:
        """Call ``listener`` with each tick's alert events (after they are published)."""
        self._listeners.append(listener)

    def on_shares(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with a line each time a share starts or stops here (taken, handed back, lost)."""
        self._keeper.on_shares(listener)

    @property
    def shares(self) -> list[str]:
        """The shares probed here now, by name."""
        return sorted(self._keeper.running)

    @property
    def retired(self) -> int:
        """Alerts of earlier runs resolved when the home shares started (``start``)."""
        return self._keeper.retired

    def _on_event(self, event: Event) -> None:
        answers = [a for running in list(self._keeper.running.values()) for a in running.on_event(event)]
        if answers:
            self.bus.publish_nowait(answers)

    def start(self, timeout_s: float = 30.0) -> None:
        """Warm the probe up, start signing, take this worker's own share (``retired``: the alerts of
        its earlier runs, resolved now) and start watching the shares it may adopt."""
        TacticalService(
            self.deployment.db,
            self.deployment.clock,
            self.bus,
            self.config.tactical,
            watch_zones=False,
            undrawable_zones=self.deployment.undrawable_zones,
        ).warm_up()
        self.record.start()
        # The record, incidents and hotline take the tick's events on the bus's dispatcher thread:
        # a tick never waits for the store (as in ``Runtime.start``).
        self.bus.start_dispatching()
        self._keeper.start(timeout_s)

    def tick(self, now_s: float | None = None) -> list[Event]:
        """One probe cycle of every share held, at ``now_s`` (default: the deployment's clock)."""
        at_s = self.deployment.clock.now_s() if now_s is None else now_s
        events: list[Event] = []
        with self._keeper.tick_lock:
            for running in self._keeper.running.values():
                events.extend(running.tactical.tick(at_s))
        self.ticks += 1
        alerts = [e for e in events if e.kind in ALERT_KINDS]
        self.alert_events_total += len(alerts)
        if alerts:
            for listener in self._listeners:
                listener(alerts)
        return events

    def run(self, stop: threading.Event) -> None:
        """Tick every ``tick_s`` (a fixed rate; an overrun tick is followed at once) until ``stop``."""
        period_s = self.config.tick_s
        due_s = time.monotonic() + period_s
        while not stop.wait(max(0.0, due_s - time.monotonic())):
            try:
                self.tick()
            except Exception:  # logged; the next tick is tried (a store or bus hiccup)
                _log.exception("detector tick failed")
            due_s = max(due_s + period_s, time.monotonic())

    def status(self) -> dict[str, Any]:
        """Counters: ticks, units in the tables, alerts active, reports taken (all shares held), stored
        zones that cannot be drawn, and per share the messages and reports its feed took."""
        running = list(self._keeper.running.values())
        out: dict[str, Any] = {
            "ticks": self.ticks,
            "shares": {r.name: {name: float(read()) for name, read in r.feed.gauges().items()} for r in running},
            "tracks": sum(len(r.tactical.table) for r in running),
            "alerts_active": sum(len(r.tactical.book) for r in running),
            "alerts_acknowledged": sum(1 for r in running for a in r.tactical.book.active() if a.acknowledged_by),
            "alert_events_total": self.alert_events_total,
            # Stored zones its shares cannot draw and leave out (each logged once): an API process's
            # ``zones_undrawable`` metric.
            "zones_undrawable": len(self.deployment.undrawable_zones),
            "build": self.build,
            # Other builds whose workers run shares: this worker takes none (empty: it may).
            "waiting_for_build": self._keeper.waiting_for,
        }
        for name in ("feed_messages_total", "feed_reports_total", "feed_bad_messages_total", "feed_failures_total"):
            out[name] = sum(share[name] for share in out["shares"].values())
        return out

    def close(self) -> None:
        """Stop managing and consuming, deliver what the bus holds, stop signing, free the locks (the
        durable consumers stay for the next holder)."""
        self._keeper.stop()
        self.deployment.bus.stop_dispatching()
        self.record.stop()
        self._keeper.release()
        self._signer_role.release()
