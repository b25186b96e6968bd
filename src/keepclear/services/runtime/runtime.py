"""The running service's moving parts, wired together: the composition root of a deployment.

``Runtime`` is built by ``create_app`` (and by replays) from a ``Deployment`` and its settings: the
ingest queue and unit directory, the track history, the tactical probe, and the periodic tick that
drives them. ``start`` runs the tick on a thread; ``tick(now_s)`` can be driven by hand with a
manual clock (tests, replays).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from keepclear.domain.ids import IdBits, live_bits
from keepclear.errors import StoreUnavailableError, ValidationError
from keepclear.services.activities.live_index import LiveIndex
from keepclear.services.activities.service import ActivityService
from keepclear.services.hotline.frame_texts import MessageTexts
from keepclear.services.hotline.hub import HotlineHub
from keepclear.services.hotline.phrases import load_catalogue
from keepclear.services.hotline.service import HotlineService
from keepclear.services.hotline.store_watch import StoreWatch
from keepclear.services.incidents.service import IncidentService
from keepclear.services.record.signer import ledger_for, signer_for
from keepclear.services.reports.figure_cache import ReportFigures
from keepclear.services.runtime.chores import Chore, one_batch_a_call, run_round, run_to_end
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.leader import EmbeddedLeadership, Leadership, leadership_for, leads_through_outage
from keepclear.services.runtime.leader import Role as LeaderRole
from keepclear.services.runtime.priority import ProbePriority
from keepclear.services.runtime.request_keys import RequestKeyRetention
from keepclear.services.tactical.history import TrackHistory
from keepclear.services.tactical.service import TacticalService, cell_plan
from keepclear.services.tactical.tracks import ReportColumns, TrackIngest, UnitDirectory
from keepclear.store.track_history import history_database

if TYPE_CHECKING:
    from keepclear.services.runtime.nats_tracks import TrackPicture

__all__ = ["Runtime", "RuntimeConfig", "TickTask", "TrackConsumer"]

_log = logging.getLogger("keepclear.runtime")

#: Something run on every tick with the current time (probe, deadline watchers...).
TickTask = Callable[[float], object]
#: Something that takes the reports drained from the ingest queue.
TrackConsumer = Callable[[list[ReportColumns]], None]
#: With a bus, seconds between two looks in the store for hotline messages its events did not bring
#: (``StoreWatch``): the longest a thread whose event was lost waits for its sockets to be woken.
HOTLINE_WATCH_WITH_BUS_S = 5.0


def _held_gauge(leadership: Leadership) -> Callable[[], float]:
    """1 while this process leads the role, else 0 (``/v1/metrics``)."""
    return lambda: float(leadership.held)


class Runtime:
    """Ingest, tick and the tasks wired to it, for one deployment."""

    def __init__(
        self,
        deployment: Deployment,
        config: RuntimeConfig | None = None,
        *,
        id_bits: IdBits = live_bits,
    ) -> None:
        """``config`` defaults to what the deployment's settings ask for (``RuntimeConfig.from_settings``);
        ``id_bits`` draws the ids the services make up (``domain.ids``): the operating system's, which a
        live service keeps (ids must be unpredictable); a replay passes sources seeded by its scenario,
        so it repeats them."""
        self.deployment = deployment
        self.config = config or RuntimeConfig.from_settings(deployment.settings)
        self.directory = UnitDirectory(deployment.db)
        deployment.bus.subscribe(self.directory.on_event, remote=True)
        deployment.bus.subscribe(deployment.keys.on_event, remote=True)
        # The durable track history is written when a batch is acknowledged (before 202) and read
        # back here, so evidence and look-back survive a crash.
        self._history_db = history_database(deployment.db)
        self.history = TrackHistory(self.config.history, self._history_db)
        self.history.load(deployment.clock.now_s())
        self.ingest = TrackIngest(
            self.directory, deployment.clock, self.config.ingest, self.tick_late_s, on_accepted=self.history.add
        )
        self._last_tick_start_s: float | None = None  # monotonic, while the tick thread runs
        self._consumers: list[TrackConsumer] = []
        self._gauges: dict[str, Callable[[], float]] = {}
        self._tasks: list[tuple[str, TickTask, LeaderRole | None]] = []
        #: Tasks that run on their own thread when the runtime runs (``add_task(chore=True)``, ``chores``).
        self._chores: list[Chore] = []
        self._chores_thread: threading.Thread | None = None

        self.add_task("history", self.history.prune)
        self.add_gauge("history_reports", lambda: len(self.history))
        self.add_gauge("history_rows_written", lambda: self.history.rows_written)
        self.add_gauge("history_rows_pending", lambda: self.history.pending_rows)
        self.add_gauge("history_rows_dropped_total", lambda: self.history.pending_dropped_total)
        self.request_keys = RequestKeyRetention(deployment.db, self.config.request_key_retention_s)
        self.add_task("request-keys", self.request_keys.prune, chore=True)
        self.add_task("api-keys", deployment.keys.refresh, chore=True)  # every valid key known here, for a store outage
        # A rolling upgrade: once a newer build migrated the schema, this process writes nothing more.
        self.add_task("schema-watch", deployment.db.look_at_schema, chore=True)
        self.add_gauge("schema_outdated", lambda: int(deployment.db.outdated is not None))

        # The record first: every event is in the ledger before anything that reads the ledger runs.
        self.ledger = ledger_for(deployment.db, deployment.clock, self.config.record)
        #: Signs the outbox into the ledger: on each delivery, and on its own thread once started.
        # Work that runs in one process of several sharing a PostgreSQL in the scale-out mode (a bus
        # across processes): an advisory lock per role, keyed by the database URL so deployments
        # sharing a server stay apart. Without a bus there is one process: always here.
        url = deployment.settings.resolved_database_url()
        scaled_out = deployment.settings.bus_url is not None
        #: Who leads each one-process role (``services/runtime/leader.py``).
        self.leaders: dict[LeaderRole, Leadership] = {
            role: leadership_for(url, role, url) if scaled_out else EmbeddedLeadership() for role in LeaderRole
        }
        signs = self.leaders[LeaderRole.SIGNER].try_acquire if scaled_out else None  # None: always, at once
        self.record = signer_for(deployment.db, self.ledger, self.config.record, active=signs)
        # The record's Merkle tree: its leaves (every entry) and the bytes it holds (64 for every
        # 2^tree_block_level entries, the last block's leaves, the blocks it keeps: docs/buffers.md).
        self.add_gauge("ledger_tree_leaves", lambda: self.ledger.tree_leaves)
        self.add_gauge("ledger_tree_bytes", lambda: self.ledger.tree_bytes)
        for role, leadership in self.leaders.items():
            self.add_gauge(f"leader_{role}", _held_gauge(leadership))
        deployment.bus.subscribe_batches(self.record.record)
        self.incidents = IncidentService(
            deployment.db,
            deployment.clock,
            deployment.bus,
            self.history.between,
            self.config.incidents,
            ledger=self.ledger,
            random_bits=id_bits("incident"),
        )
        deployment.bus.subscribe_batches(self.incidents.on_events)
        self.add_task("incidents", self.incidents.freeze_due, chore=True)
        self.add_gauge("incident_accounts_refused_limit_total", lambda: self.incidents.accounts_refused_limit_total)
        self.report_figures = ReportFigures()
        self.add_gauge("incident_report_figures_kept", lambda: self.report_figures.kept)
        self.add_gauge("incident_report_figure_bytes", lambda: self.report_figures.bytes_held)
        self.add_gauge("incident_report_figures_drawn_total", lambda: self.report_figures.drawn_total)
        self.add_gauge("incident_report_figures_waiting_turn", lambda: self.report_figures.waiting)

        self.hotline = HotlineService(
            deployment.db,
            deployment.clock,
            deployment.bus,
            load_catalogue(self.config.hotline_phrase_files),
            self.config.hotline,
            random_bits=id_bits("thread"),
        )
        deployment.bus.subscribe_batches(self.hotline.on_events)
        self.add_gauge("hotline_threads_cached", lambda: self.hotline.threads_cached)
        self.add_gauge("hotline_threads_refused_limit_total", lambda: self.hotline.threads_refused_limit_total)
        self.add_gauge(
            "hotline_ack_requests_refused_limit_total", lambda: self.hotline.ack_requests_refused_limit_total
        )
        self.hotline_hub = HotlineHub(self.config.hotline_hub, MessageTexts(self.hotline.view))
        for name, read in self.hotline_hub.gauges().items():
            self.add_gauge(name, read)
        self.hotline.add_listener(self.hotline_hub.on_messages)
        deployment.bus.subscribe(self.hotline_hub.on_event, remote=True)
        deployment.bus.subscribe(self.hotline_hub.on_remote_event, remote=True, local=False)
        # Other processes' messages: without a bus found in the store (one look a tick); with one their
        # events wake the sockets, and a look every few seconds finds what the bus did not bring.
        watch = StoreWatch(
            deployment.db,
            deployment.clock,
            self.hotline_hub.catch_up,
            self.hotline.parties_of,
            every_s=HOTLINE_WATCH_WITH_BUS_S if deployment.settings.bus_url else 0.0,
        )
        self.hotline.add_listener(watch.note)
        deployment.bus.subscribe(watch.heard, remote=True, local=False)
        self.add_task("hotline-watch", watch.look, chore=True)
        self.add_gauge("hotline_store_watch_threads", lambda: watch.threads_held)
        self.add_gauge("hotline_store_watch_woken_total", lambda: watch.woken_total)
        self.hotline.ensure_standing_threads()
        hotline_deadlines = one_batch_a_call(self.hotline.run_deadlines, self.hotline.deadline_page)
        self.add_task("hotline-deadlines", hotline_deadlines, LeaderRole.HOTLINE_DEADLINES, chore=True)

        live = LiveIndex(undrawable=deployment.undrawable_zones)
        self.activities = ActivityService(
            deployment.db,
            deployment.clock,
            deployment.bus,
            self.config.activities,
            live=live,
            notices=self.hotline.post_within,  # a notification and its notice: one commit, one signing
            random_bits=id_bits("activity"),
        )
        # The live activities this process holds (as its index last caught up with the store).
        self.add_gauge("activities_live", lambda: len(live.index))
        self.add_gauge("activities_live_per_party_max", live.index.most_live_of_one_party)
        self.add_gauge("activities_refused_live_limit_total", lambda: self.activities.refused_live_limit_total)
        self.add_gauge("activity_writes_waiting_turn", lambda: self.activities.writes_waiting_turn)
        activity_deadlines = one_batch_a_call(self.activities.run_deadlines, self.config.activities.deadline_batch)
        self.add_task("activity-deadlines", activity_deadlines, LeaderRole.ACTIVITY_DEADLINES, chore=True)

        in_workers = deployment.settings.detect_in_workers
        self.tactical = TacticalService(
            deployment.db,
            deployment.clock,
            deployment.bus,
            self.config.tactical,
            pairs_in_workers=in_workers,
            random_bits=id_bits("alert"),
            # every API process has the whole picture then (``TrackPicture``): one emits the zone events
            zone_events_led=leads_through_outage(self.leaders[LeaderRole.ZONE_EVENTS]) if in_workers else None,
            undrawable_zones=deployment.undrawable_zones,
        )
        deployment.bus.subscribe(self.tactical.on_event, remote=True)
        self.add_consumer(self.tactical.consume)
        #: With ``detect_in_workers``: the reports the other API processes accepted (``TrackPicture``).
        self.picture: TrackPicture | None = None
        if in_workers:
            self._publish_tracks_to_workers()
        self._seed_picture()
        #: Raised while the probe computes: ingest and the event fan-out hold off (``services.priority``).
        self.priority = ProbePriority()
        self.add_task("probe", self._probe)
        self.add_gauge("tracks", lambda: len(self.tactical.table))
        self.add_gauge("conflicts", lambda: self.tactical.last_conflicts)
        #: Seconds between the starts of the last minute's ticks: the probe runs every ``tick_s`` as
        #: long as the largest stays near it.
        self.tick_intervals_s: deque[float] = deque(maxlen=max(1, int(60 / max(self.config.tick_s, 1e-3))))
        self.add_gauge("tick_interval_max_s", lambda: max(self.tick_intervals_s, default=0.0))
        self.add_gauge("alerts_active", lambda: len(self.tactical.book))
        self.add_gauge("zone_crossing_counts", lambda: len(self.tactical.zone_watch.crossings))
        self.add_gauge("zone_watch_entries", lambda: self.tactical.zone_watch.held())
        self.add_gauge("zones_undrawable", lambda: len(deployment.undrawable_zones))
        self.add_gauge("units_known", lambda: len(self.directory))
        self.add_gauge("probe_compute_ms", lambda: 1e3 * self.tactical.last_compute_s)
        self.add_gauge("probe_events_emit_ms", lambda: 1e3 * self.tactical.last_emit_s)
        self.add_gauge("probe_events", lambda: self.tactical.last_events)
        self.add_gauge("events_queued", lambda: self.deployment.bus.queued_events)
        self.add_gauge("zone_proposals_pending", lambda: self.deployment.zone_proposals.pending())
        self.add_gauge(
            "zone_proposals_pending_per_party_limit", lambda: self.deployment.zone_proposals.pending_quota.most
        )
        self.add_gauge(
            "zone_proposals_refused_limit_total", lambda: self.deployment.zone_proposals.pending_quota.refused_total
        )
        self.add_gauge("events_queue_limit", lambda: self.deployment.bus.max_queued_events)
        for name, read in deployment.bus.gauges().items():
            self.add_gauge(name, read)
        self.add_gauge("ingest_backlog_s", lambda: self.ingest.backlog_s)
        self.add_gauge("ingest_backlog_limit_reports", lambda: self.ingest.backlog_limit_reports)
        self.add_gauge("ingest_batches_refused_full_total", lambda: self.ingest.batches_refused_full_total)
        self.add_gauge("ingest_batches_refused_backlog_total", lambda: self.ingest.batches_refused_backlog_total)
        self.add_gauge("ingest_batches_refused_probe_late_total", lambda: self.ingest.batches_refused_probe_late_total)
        self.add_gauge(
            "ingest_batches_admitted_fair_share_total", lambda: self.ingest.batches_admitted_fair_share_total
        )
        self.add_gauge("ingest_queued_per_party_max", lambda: self.ingest.queued_per_party_max)
        self.add_gauge("pump_cost_us_per_report", lambda: 1e6 * (self.ingest.pump_cost_s or 0.0))
        self.add_gauge("tick_s", lambda: self.config.tick_s)
        self.add_gauge("tick_late_total", lambda: self.ticks_late)
        self.add_gauge("keys_remembered", deployment.keys.known_keys)
        self.add_gauge("requests_taken_in_store_outage_total", lambda: deployment.keys.taken_in_outage_total)
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()
        self._pump_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pump_thread: threading.Thread | None = None
        self.last_tick_s: float | None = None
        self.tick_errors = 0
        #: Tick tasks whose last run met a store outage (logged once when it starts and when it ends).
        self._waiting_for_store: set[str] = set()
        self.ticks = 0
        #: Ticks that started more than 1.5 periods after the one before (``tick_late_total``).
        self.ticks_late = 0
        #: Wall seconds the last run of each task took (and "pump": the last chunk of reports moved).
        self.task_duration_s: dict[str, float] = {}

    def _publish_tracks_to_workers(self) -> None:
        """``detect_in_workers``: the pump also publishes the reports by cell for the detector workers."""
        settings, bus = self.deployment.settings, self.deployment.bus
        # Imported here: nats-py is the cluster extra's (bus_for refused a bus_url without it already).
        from keepclear.services.runtime.nats_bus import NatsBus
        from keepclear.services.runtime.nats_tracks import TrackPicture, TrackPublisher

        if not isinstance(bus, NatsBus):
            raise ValidationError(["detect_in_workers: needs bus_url (the workers are reached through NATS)"])
        publisher = TrackPublisher(
            bus, cell_plan(self.config.tactical, settings.detect_cell_deg), replicas=settings.bus_replicas
        )
        self.add_consumer(publisher)
        # The reports the other API processes accept come into this one's track table too (started
        # with the threads, in ``start``): any process answers with the whole picture.
        self.picture = TrackPicture(bus, self.tactical.consume, replicas=settings.bus_replicas)
        for name, read in (publisher.gauges() | self.picture.gauges()).items():
            self.add_gauge(name, read)

    def _seed_picture(self) -> None:
        """After a restart, each unit's last kept report goes back into the track table (the staleness
        rules then drop those too old), so the picture does not start empty."""
        latest = self.history.latest()
        known = [(i, unit) for i, unit_id in enumerate(latest.unit_ids) if (unit := self.directory.lookup(unit_id))]
        if known:
            indices = [i for i, _ in known]
            self.tactical.consume([latest.take(indices, [u[0] for _, u in known], [u[1] for _, u in known])])

    def counters(self) -> dict[str, float]:
        """Gauges the wired capabilities publish (tracks in the table, open alerts...); one that reads
        the store is left out while the store cannot be reached (the others are wanted most then)."""
        values = {}
        for name, read in self._gauges.items():
            try:
                values[name] = float(read())
            except StoreUnavailableError:
                continue
        return values

    def add_gauge(self, name: str, read: Callable[[], float]) -> None:
        """Publish ``read()`` under ``name`` in the metrics."""
        self._gauges[name] = read

    def add_consumer(self, consumer: TrackConsumer) -> None:
        """Hand every drained batch of reports to ``consumer`` (before the tasks run)."""
        self._consumers.append(consumer)

    def add_task(self, name: str, task: TickTask, role: LeaderRole | None = None, *, chore: bool = False) -> None:
        """Run ``task(now_s)`` on every tick (with ``role``: only while this process leads it).

        ``chore``: work that other parties' data can make long (deadlines falling due by the
        thousand, incidents to freeze, retention). While the runtime runs it goes on a thread of its
        own, every ``tick_s`` and at once while one returns ``chores.MORE``, so the probe never
        waits for it; driven by hand (replays, tests) it runs in the tick, in order, until it has
        nothing more due.
        """
        if chore:
            self._chores.append((name, lambda now_s: self._run_task(name, task, role, now_s)))
        else:
            self._tasks.append((name, task, role))

    @property
    def chore_names(self) -> list[str]:
        """The tasks that run apart from the probe's tick while the runtime runs."""
        return [name for name, _ in self._chores]

    def _probe(self, now_s: float) -> None:
        with self.priority.probing():
            self.tactical.tick(now_s)

    def pump(self, max_reports: int | None = None) -> int:
        """Move queued reports to the consumers, one chunk of at most ``pump_chunk_reports`` at a time,
        until the queue is empty or ``max_reports`` moved; returns how many moved.

        Each chunk's CPU time on this thread (the consumers' own work, not their waits for the probe's
        lock or for the interpreter) is what the ingest's admission estimates the backlog from.
        """
        moved = 0
        while max_reports is None or moved < max_reports:
            with self._pump_lock:  # one pump at a time: consumers see the batches in the order queued
                chunk = self.ingest.take(
                    self.ingest.chunk_reports(self.config.pump_chunk_s, self.config.pump_chunk_reports)
                )
                if not chunk:
                    break
                started_s, cpu_started_s = time.perf_counter(), time.thread_time()
                for consumer in self._consumers:
                    consumer(chunk)
                reports = sum(len(batch) for batch in chunk)
                self.ingest.record_pump(reports, time.thread_time() - cpu_started_s)
                self.task_duration_s["pump"] = time.perf_counter() - started_s
            moved += reports
        return moved

    def _pump_loop(self) -> None:
        while not self._stop.wait(self.config.pump_s):
            try:
                # A chunk at a time, the probe first: while it computes the pump waits (at most 1 s).
                while not self._stop.is_set():
                    self.priority.wait_clear()
                    if not self.pump(1):  # one chunk
                        break
            except Exception:  # logged; this loop must go on (the next round takes the next chunk)
                _log.exception("pumping track reports failed")

    def tick(self, now_s: float | None = None) -> None:
        """Drain ingest, then run every task with the current time."""
        # One tick at a time: the tick thread and a driver (replay, demo) may both call this.
        with self._tick_lock:
            self._tick(self.deployment.clock.now_s() if now_s is None else now_s)

    def _tick(self, now_s: float) -> None:
        # Driven by hand (replays, tests) the tick takes everything queued first; running, the pump
        # thread moves the reports (the probe first) and the tick never pumps: its period does not
        # depend on how much the feeds sent. Likewise the chores: their own thread runs them.
        if self._pump_thread is None:
            self.pump()
        if self._chores_thread is None:
            run_to_end(self._chores, now_s)
        for name, task, role in self._tasks:
            self._run_task(name, task, role, now_s)
        self.last_tick_s = now_s
        self.ticks += 1

    def _run_task(self, name: str, task: TickTask, role: LeaderRole | None, now_s: float) -> object:
        """Run ``task`` (with ``role``: only here while this process leads it); its result, or None
        when it did not run or failed (logged: a failing task must not stop the others or the loop)."""
        started = time.perf_counter()
        result: object = None
        try:
            if role is not None and (self._stop.is_set() or not self.leaders[role].try_acquire()):
                # Another process leads it; or this one is stopping: a tick that outlived ``stop``'s
                # wait must not take the role again on a new session after it was given up.
                return None
            result = task(now_s)
        except StoreUnavailableError as exc:  # an outage: one line when it starts, not a trace a tick
            self.tick_errors += 1
            if name not in self._waiting_for_store:
                self._waiting_for_store.add(name)
                _log.warning("tick task %s waits for the store: %s", name, exc.cause)
        except Exception:
            self.tick_errors += 1
            _log.exception("tick task %s failed", name)
        else:
            if name in self._waiting_for_store:
                self._waiting_for_store.discard(name)
                _log.warning("tick task %s runs again: the store answers", name)
        self.task_duration_s[name] = time.perf_counter() - started
        return result

    def _chores_loop(self) -> None:
        # Every tick_s after the last round ended (a round that took minutes is not followed by a
        # burst), or at once while a chore stopped at its bound with more due.
        more = False
        while not self._stop.wait(0.0 if more else self.config.tick_s):
            more = run_round(self._chores, self.priority.wait_clear, self.deployment.clock.now_s)

    def _loop(self) -> None:
        # A fixed rate, not a fixed pause: a tick that took 0.3 s must not push the next one to 1.3 s.
        # A tick that overruns its period is followed at once, without a burst to catch up.
        due_s = time.monotonic() + self.config.tick_s
        self.priority.expect_tick(due_s, self.config.tick_s)
        last_start_s: float | None = None
        while not self._stop.wait(max(0.0, due_s - time.monotonic())):
            start_s = time.monotonic()
            if last_start_s is not None:
                self.tick_intervals_s.append(start_s - last_start_s)
                if start_s - last_start_s > 1.5 * self.config.tick_s:
                    self.ticks_late += 1
            last_start_s = self._last_tick_start_s = start_s
            self.tick()
            due_s = max(due_s + self.config.tick_s, time.monotonic())
            self.priority.expect_tick(due_s, self.config.tick_s)
        self.priority.expect_tick(None)

    def tick_late_s(self) -> float:
        """Seconds by which the next tick is overdue beyond half a period (0 when on time, or when the
        tick is driven by hand): track ingest waits while it is (``TrackIngest.check_open``)."""
        last_s = self._last_tick_start_s
        if last_s is None or self._thread is None:
            return 0.0
        return max(0.0, time.monotonic() - last_s - 1.5 * self.config.tick_s)

    def start(self) -> None:
        """Run the tick every ``tick_s`` seconds on a background thread (detection warmed up first),
        reports pumped into the track table every ``pump_s`` on another, the chores on a third, and the
        bus delivering on its own thread, so a tick never waits for the record, the hotline or the
        deadlines nor carries a second of ingest."""
        if self._thread is None:
            self.tactical.warm_up()
            self.record.start()
            self.deployment.bus.start_dispatching(yield_to=self.priority.wait_clear)
            if self.picture is not None:
                self.picture.start()
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="keepclear-tick", daemon=True)
            self._thread.start()
            self._pump_thread = threading.Thread(target=self._pump_loop, name="keepclear-pump", daemon=True)
            self._pump_thread.start()
            self._chores_thread = threading.Thread(target=self._chores_loop, name="keepclear-chores", daemon=True)
            self._chores_thread.start()

    def stop(self) -> None:
        """Stop the tick and pump threads and wait for them; the bus delivers what is queued."""
        self._stop.set()
        for thread in (self._thread, self._pump_thread, self._chores_thread):
            if thread is not None:
                thread.join(timeout=10)
        self._thread = self._pump_thread = self._chores_thread = None
        self._last_tick_start_s = None
        if self.picture is not None:
            self.picture.stop()
        self.deployment.bus.stop_dispatching()
        self.record.stop()
        for leadership in self.leaders.values():  # a standby takes over at once rather than at our death
            leadership.release()
        self.history.wait_maintenance()
        if self._history_db is not self.deployment.db:
            self._history_db.dispose()
