"""A detector worker: ``keepclear worker detect`` (issue 20), the probe for a set of cells.

The worker consumes the track subjects of its cells and of the cells within the halo
(``nats_tracks.TrackFeed``, a durable consumer named after the worker: a restart resumes), keeps
their units' states in a track table, and on every tick of the deployment's clock probes them and
feeds the alert book with the pairs it owns (``TacticalService`` with a ``CellShare``: a pair on a
cell boundary belongs to the lower cell, so it is raised by exactly one worker). The alert events
go on the bus like any process's: this worker records them (its own record signer on the store),
opens the incidents of losses of separation and posts them to the hotline as a ``serve`` process
does (an API process freezes an incident's evidence: it holds the durable track history), and the API processes hand them to the
parties' streams and ``/v1/alerts``. Their ids are stable (the same event, the same id), so a
publish retried or redelivered is taken once; alert ids start with the worker's name and a mark of
this run (``alert-<name>-<run>-000001``), so no two workers, nor two runs of one, give the same id.
Zones are watched by the API processes, not here.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

import nats.errors
import numpy as np

from keepclear.detect.cells import assign_cells, cells_in_view
from keepclear.domain.event_kinds import ALERT_KINDS
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.services.hotline.phrases import load_catalogue
from keepclear.services.hotline.service import HotlineService
from keepclear.services.incidents.service import IncidentService
from keepclear.services.record.signer import ledger_for, signer_for
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.leader import Role as LeaderRole
from keepclear.services.runtime.leader import leadership_for
from keepclear.services.runtime.nats_bus import STREAM_MAX_AGE_S, NatsBus
from keepclear.services.runtime.nats_tracks import TrackFeed, recent_alert_events, track_subjects
from keepclear.services.tactical.service import CellShare, TacticalService, cell_plan

__all__ = ["DetectWorker", "cells_of_worker", "worker_name_problem"]

_log = logging.getLogger("keepclear.worker.detect")
T = TypeVar("T")

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def worker_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a worker (it names its JetStream consumer and its alert ids), or None."""
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        return f"{name!r} must be 1 to 64 letters, digits, '-' or '_'"
    return None


def cells_of_worker(cell_count: int, index: int, workers: int) -> np.ndarray:
    """The cells worker ``index`` of ``workers`` owns: rendezvous hashing over the names ``w<i>of<n>``
    (``detect.cells.assign_cells``), the same map in every process."""
    if workers < 1 or not 0 <= index < workers:
        raise ValidationError([f"worker_index: {index} is not in 0..{workers - 1} (--workers {workers})"])
    names = [f"w{i}of{workers}" for i in range(workers)]
    return assign_cells(np.arange(cell_count, dtype=np.int64), names)[names[index]]


class DetectWorker:
    """One worker's parts on ``deployment`` (whose bus must be NATS): feed, probe, alert book, record.

    ``start`` warms the probe up and starts consuming; ``tick`` runs one probe cycle (``run`` ticks
    every ``tick_s`` until told to stop); ``close`` stops consuming and signing.
    """

    def __init__(
        self, deployment: Deployment, cells: Sequence[int], name: str, config: RuntimeConfig | None = None
    ) -> None:
        settings = deployment.settings
        bus = deployment.bus
        if not isinstance(bus, NatsBus):
            raise ValidationError(["bus_url: keepclear worker detect needs the NATS bus (set bus_url)"])
        problem = worker_name_problem(name)
        if problem:
            raise ValidationError([f"name: {problem}"])
        self.deployment = deployment
        self.name = name
        self.config = config or RuntimeConfig.from_settings(settings)
        self.plan = cell_plan(self.config.tactical, settings.detect_cell_deg)
        owned = np.unique(np.asarray(list(cells), dtype=np.int64))
        count = self.plan.grid.cell_count
        if not len(owned) or owned[0] < 0 or owned[-1] >= count:
            raise ValidationError([f"cells: give at least one cell, each in 0..{count - 1}"])
        self.cells = owned
        #: Every cell whose subject this worker consumes (its own and the halo's), ascending.
        self.view_cells = cells_in_view(self.plan, owned)
        self._run = run = uuid.uuid4().hex[:8]
        self._bus = bus
        #: Alerts of this worker's earlier runs resolved at start.
        self.retired = 0
        self.tactical = TacticalService(
            deployment.db,
            deployment.clock,
            bus,
            self.config.tactical,
            share=CellShare(self.plan, owned),
            watch_zones=False,
            alert_prefix=f"alert-{name}-{run}",
        )
        # The other workers' alerts: a pair one of them holds is left to it (``TacticalService.on_event``).
        bus.subscribe(self.tactical.on_event, remote=True)
        # What a serve process does with its own alert events: the record and the hotline.
        # One process of the deployment signs (``services/runtime/leader.py``): as a standby the worker
        # stages its alert entries in the outbox for the leader, which may be an API process or itself.
        ledger = ledger_for(deployment.db, deployment.clock, self.config.record)
        url = deployment.settings.resolved_database_url()
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
        self.feed = TrackFeed(
            bus,
            name,
            track_subjects(self.view_cells.tolist(), count),
            self.tactical.consume,
            replicas=settings.bus_replicas,
        )
        self.ticks = 0
        self.alert_events_total = 0
        self._listeners: list[Callable[[list[Event]], None]] = []

    def on_alerts(self, listener: Callable[[list[Event]], None]) -> None:
        """Call ``listener`` with each tick's alert events (after they are published)."""
        self._listeners.append(listener)

    def start(self, timeout_s: float = 30.0) -> None:
        """Warm the probe up, start signing, learn the alerts held (``retired``: those of this
        worker's earlier runs, resolved now), and start consuming reports."""
        self.tactical.warm_up()
        self.record.start()
        # The record, incidents and hotline take the tick's events on the bus's dispatcher thread:
        # a tick never waits for the store (as in ``Runtime.start``).
        bus = self.deployment.bus
        bus.start_dispatching()
        since_s = time.time() - STREAM_MAX_AGE_S
        heard = self._retrying(lambda: self._bus.call(lambda nc: recent_alert_events(nc, since_s)).result(timeout_s))
        resolved = self.tactical.learn_alerts(heard, self._earlier_run)
        self.retired = len(resolved)
        bus.publish(resolved)
        self._retrying(self.feed.start)

    @staticmethod
    def _retrying(step: Callable[[], T], attempts: int = 5) -> T:
        """``step()``, tried again after a pause when JetStream does not answer in time or is not
        ready yet (a cluster just formed, an election); ``ConnectionError`` after ``attempts``."""
        for attempt in range(1, attempts + 1):
            try:
                return step()
            except (TimeoutError, ConnectionError, nats.errors.Error) as exc:
                if attempt == attempts:
                    raise ConnectionError(f"bus_url: JetStream did not answer: {exc!r}") from exc
                _log.warning("JetStream did not answer (%r); trying again", exc)
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def _earlier_run(self, alert_id: str) -> bool:
        """Whether ``alert_id`` is this worker's (its name), of another run (``alert-<name>-<run>-<n>``)."""
        head, _, _ = alert_id.rpartition("-")
        owner, _, run = head.rpartition("-")
        return owner == f"alert-{self.name}" and run != self._run

    def tick(self, now_s: float | None = None) -> list[Event]:
        """One probe cycle at ``now_s`` (default: the deployment's clock); returns its events."""
        events = self.tactical.tick(self.deployment.clock.now_s() if now_s is None else now_s)
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

    def status(self) -> dict[str, float]:
        """Counters: ticks, units in the table, alerts active, reports taken."""
        out: dict[str, float] = {
            "ticks": self.ticks,
            "tracks": len(self.tactical.table),
            "alerts_active": len(self.tactical.book),
            "alerts_acknowledged": sum(1 for a in self.tactical.book.active() if a.acknowledged_by),
            "alert_events_total": self.alert_events_total,
        }
        out.update({name: float(read()) for name, read in self.feed.gauges().items()})
        return out

    def close(self) -> None:
        """Stop consuming, deliver what the bus holds, stop signing (the durable consumer stays for the
        next run)."""
        self.feed.stop()
        self.deployment.bus.stop_dispatching()
        self.record.stop()
        self._signer_role.release()
