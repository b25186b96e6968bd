"""Tactical deconfliction inside the service: track table → probe → alert book → events.

Reports drained from the ingest queue update the track table; every tick drops stale units,
probes all pairs of units of different parties, feeds the alert book and the zone watch, and
emits every change on the bus (the hotline, the streams and the record subscribe there).

Its parts: the tuning (``config``), the probe cut by cells for detector workers (``cell_share``),
alerts as their events tell them (``heard_alerts``), what a party may see (``views``).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from keepclear.detect.alerts import AlertBook, candidate_settings
from keepclear.detect.probe import Conflicts, probe
from keepclear.detect.states import TrackStates
from keepclear.detect.tracktable import TrackTable
from keepclear.detect.zoneprobe import ZoneWatch, predict_zone_entries
from keepclear.domain.event_kinds import ALERT_KINDS, EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.ids import RandomBits
from keepclear.errors import NotFoundError
from keepclear.services.policy import alert_visible, unknown
from keepclear.services.tactical.cell_share import CellShare, cell_plan, share_conflicts
from keepclear.services.tactical.config import TacticalConfig
from keepclear.services.tactical.heard_alerts import (
    FULL_ALERT_KINDS,
    AlertMemory,
    acknowledged_event,
    alert_view,
    resolved_event,
)
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.services.tactical.views import AlertPair, UnitState, intruders_witnessed, visible_unit_states
from keepclear.services.zones.undrawable import UndrawableZones
from keepclear.store import Database
from keepclear.store import zones as zone_store

# The probe's tuning, the cells and the party views are modules of their own; importable from here.
__all__ = ["CellShare", "TacticalConfig", "TacticalService", "UnitState", "cell_plan"]

_log = logging.getLogger(__name__)


class TacticalService:
    """The live picture of one deployment and the alerts it raises.

    Embedded (the default) it probes every pair and watches the zones. A detector worker gives it
    ``share`` (it probes its cells and halo, keeps the pairs it owns) and ``watch_zones=False``; an
    API process whose detection runs in workers gives it ``pairs_in_workers=True``: it probes no
    pair, and learns the alerts from the workers' events on the bus (``on_event``) so that
    ``alerts_for`` answers as before. ``zone_events_led``, when given, says whether this process emits
    the zone watch's events now (the leader of API processes that share the picture); the watch is
    kept current either way. ``random_bits`` draws the alert ids (``AlertBook``: the operating
    system's; seeded where ids must repeat run to run, a replay); ``emitted_by`` goes on every alert
    event made here (``Event.emitted_by``: a detector worker's share and run, never in an id).
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        config: TacticalConfig | None = None,
        *,
        share: CellShare | None = None,
        pairs_in_workers: bool = False,
        watch_zones: bool = True,
        zone_events_led: Callable[[], bool] | None = None,
        random_bits: RandomBits = secrets.randbits,
        emitted_by: str | None = None,
        undrawable_zones: UndrawableZones | None = None,
    ) -> None:
        self._db = db
        #: Stored zones that cannot be drawn: the zone watch leaves them out (noted once, counted).
        self.undrawable_zones = UndrawableZones() if undrawable_zones is None else undrawable_zones
        self._clock = clock
        self._events = events
        self.config = config or TacticalConfig()
        self.table = TrackTable(self.config.table)
        self.book = AlertBook(self.config.alerting, random_bits=random_bits, emitted_by=emitted_by)
        self._candidates = candidate_settings(self.config.alerting, self.config.probe)
        if share is not None and share.plan.settings != self._candidates:
            raise ValueError("share.plan: its settings must be the probe's candidate settings (the halo covers them)")
        self._share = share
        #: A worker's knowledge of the alerts other workers hold: alert id -> its pair (``on_event``).
        self._elsewhere: dict[str, tuple[str, str]] = {}
        self._pairs_in_workers = pairs_in_workers
        self._watch_zones = watch_zones
        self._zone_events_led = zone_events_led
        self._lock = threading.RLock()
        #: Called after each tick with its time: the live streams push the new picture to clients.
        self._tick_listeners: list[Callable[[float], None]] = []
        #: Each alert as its events told it, and the last resolved (``heard_alerts``).
        self._alerts = AlertMemory(self.config.resolved_kept)
        self._predicted: set[tuple[str, str]] = set()
        self.zone_watch = ZoneWatch([], self.config.zones)
        self.reload_zones()
        self.last_conflicts = 0
        #: Wall seconds of the last tick's computation (probe, alert book, zones) and of handing its
        #: events to the subscribers (hotline posts, ledger entries, streams), and how many there were.
        self.last_compute_s = 0.0
        self.last_emit_s = 0.0
        self.last_events = 0

    def reload_zones(self) -> None:
        """Read the zones again (after an import). One that cannot be drawn is left out by the watch
        (``prepare_zone`` says why) and noted in ``undrawable_zones``, as are rows that cannot be read."""
        with self._db.read() as conn:
            stored = zone_store.read_zones(conn)
        with self._lock:
            self.zone_watch = ZoneWatch(stored.zones, self.config.zones, previous=self.zone_watch)
            undrawable = dict(self.zone_watch.undrawable)
        self.undrawable_zones.found({**stored.unreadable, **undrawable}, [z.id for z in stored.zones])

    def on_event(self, event: Event) -> None:
        """Bus subscriber: zones changed; with ``pairs_in_workers``, an alert changed in a worker; with a
        share, an alert changed in another worker (the pairs it holds are left to it)."""
        if event.kind == EventKind.ZONES_IMPORTED:
            self.reload_zones()
        elif self._pairs_in_workers and event.kind in ALERT_KINDS:
            with self._lock:
                # a loss or an acknowledgement of an alert not heard raised (this process started
                # after it) would be a partial alert: it is known from its next change on
                if event.kind in FULL_ALERT_KINDS or event.payload.get("alert_id") in self._alerts.latest:
                    self._remember(event)
        elif self._share is not None and event.kind in ALERT_KINDS:
            alert_id = event.payload["alert_id"]
            with self._lock:
                alert = self.book.get(alert_id)
                if alert is not None:  # one of ours: an API process took a party's acknowledgement
                    party = event.party_id
                    if event.kind == EventKind.ALERT_ACKNOWLEDGED and party and party not in alert.acknowledged_by:
                        with contextlib.suppress(KeyError, PermissionError):
                            self.book.acknowledge(alert_id, party, event.time_s)
                            self._remember(event)
                    return
                if event.kind == EventKind.ALERT_RESOLVED:
                    self._elsewhere.pop(alert_id, None)
                elif event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED):
                    self._elsewhere[alert_id] = (event.payload["unit_a"], event.payload["unit_b"])

    def hold_elsewhere(self, alert_id: str, unit_a: str, unit_b: str) -> None:
        """A worker's share: alert ``alert_id`` on this pair is held by another share (of this worker
        or another), which is left to it."""
        with self._lock:
            self._elsewhere[alert_id] = (unit_a, unit_b)

    @property
    def held_elsewhere(self) -> dict[str, tuple[str, str]]:
        """A worker's knowledge of the alerts other workers hold: alert id -> its pair."""
        with self._lock:
            return dict(self._elsewhere)

    def learn_alerts(self, heard: Sequence[Event], retire: Callable[[Event], bool]) -> list[Event]:
        """A worker starting: from the alert events of late (oldest first), the alerts still active.
        Those whose last ``alert.raised`` or ``alert.level_changed`` ``retire`` names (its own earlier
        runs': their book died with them; ``Event.emitted_by`` tells) get an ``alert.resolved`` event,
        returned to be published (the pair is raised again if it still conflicts); the others' are
        left to them (as ``on_event`` would have)."""
        active: dict[str, Event] = {}
        for event in heard:
            alert_id = event.payload.get("alert_id")
            if not isinstance(alert_id, str):
                continue
            if event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED):
                active[alert_id] = event
            elif event.kind == EventKind.ALERT_RESOLVED:
                active.pop(alert_id, None)
        now_s = self._clock.now_s()
        resolved = []
        with self._lock:
            for alert_id, last_event in active.items():
                if self.book.get(alert_id) is not None:
                    continue
                last = last_event.payload
                if not retire(last_event):
                    self._elsewhere[alert_id] = (last["unit_a"], last["unit_b"])
                    continue
                resolved.append(resolved_event(last, now_s, self.book.emitted_by))
        return resolved

    def consume(self, batches: Sequence[ReportColumns]) -> None:
        """Take drained reports into the track table (older or duplicate reports change nothing)."""
        with self._lock:
            for batch in batches:
                self.table.update_columns(batch.unit_ids, batch.values, batch.party_ids, batch.domains)

    def warm_up(self) -> None:
        """Run the whole detection path once on two made-up aircraft, so the compiled (numba) parts
        are ready before the first real tick: the first alert must not wait for a compiler."""
        t = self._clock.now_s()
        states = TrackStates(
            ("warm-a", "warm-b"),
            np.array([0, 1], dtype=np.int64),
            np.array([0, 0], dtype=np.int64),
            np.array([t, t]),
            np.array([35.0, 35.0]),
            np.array([38.0, 38.2]),
            np.array([7000.0, 7000.0]),
            np.array([200.0, -200.0]),
            np.zeros(2),
            np.zeros(2),
        )
        conflicts = probe(states, t, self._candidates)
        AlertBook(self.config.alerting).update(t, states, conflicts, ["warm-party-a", "warm-party-b"])
        ZoneWatch([pz.zone for pz in self.zone_watch.zones[:1]]).update(t, states, ["warm-party-a", "warm-party-b"])

    def _party_ids(self, states: TrackStates) -> list[str]:
        top = int(states.party.max()) + 1 if len(states) else 0
        return [self.table.party_id(code) for code in range(top)]

    def on_tick(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(now_s)`` after every tick, once its events are published (from the tick's
        thread: it must return at once)."""
        self._tick_listeners.append(listener)

    def tick(self, now_s: float) -> list[Event]:
        """One probe cycle at ``now_s``; returns (and emits) the events it produced."""
        started = time.perf_counter()
        with self._lock:
            self.table.drop_stale(now_s)
            states = self.table.states()
            party_ids = self._party_ids(states)
            events: list[Event] = []
            if not self._pairs_in_workers:
                conflicts = self._probe(states, now_s)
                self.last_conflicts = len(conflicts)
                events += self.book.update(now_s, states, conflicts, party_ids)
                events += self._separation_lost(now_s, conflicts)
            if self._watch_zones:
                zone_events = self.zone_watch.update(now_s, states, party_ids)
                zone_events += self._predicted_entries(states, party_ids, now_s)
                # every API process keeps its watch current (it decides who sees an intruder); one
                # emits what it finds, or each would record every entry once per process
                if self._zone_events_led is None or self._zone_events_led():
                    events += zone_events
            for event in events:
                self._remember(event)
        computed = time.perf_counter()
        self._events.publish_nowait(events)
        for listener in list(self._tick_listeners):
            try:
                listener(now_s)
            except Exception:  # a listener's failure must never stop the probe
                _log.exception("tick listener failed")
        self.last_compute_s = computed - started
        self.last_emit_s = time.perf_counter() - computed
        self.last_events = len(events)
        return events

    def _probe(self, states: TrackStates, now_s: float) -> Conflicts:
        """Every pair's conflicts, or with a share those of the pairs this worker owns (rows into ``states``)."""
        share = self._share
        if share is None:
            return probe(states, now_s, self._candidates)
        mine = self.book.followed()
        theirs = set(self._elsewhere.values()) - {(a.unit_a, a.unit_b) for a in self.book.active()}
        return share_conflicts(share, states, now_s, self._candidates, mine, theirs)

    def _separation_lost(self, now_s: float, conflicts: Conflicts) -> list[Event]:
        """One ``alert.separation_lost`` when an alerted pair actually loses separation."""
        events, mark = [], self.book.emitted_by
        for alert in self.book.newly_lost(conflicts.los):
            payload = {**self._alerts.latest.get(alert.id, {}), "alert_id": alert.id, "los": True}
            payload.update(unit_a=alert.unit_a, unit_b=alert.unit_b, party_a=alert.party_a, party_b=alert.party_b)
            payload.update(level=alert.level.name.lower(), raised_s=alert.raised_s, time_s=now_s)
            lost = Event(EventKind.ALERT_SEPARATION_LOST, now_s, None, payload, alert.parties, emitted_by=mark)
            events.append(lost)
        return events

    def _predicted_entries(self, states: TrackStates, party_ids: list[str], now_s: float) -> list[Event]:
        entries = predict_zone_entries(states, party_ids, self.zone_watch.zones, now_s, self.config.zones)
        current = {(e.unit_id, e.zone_id) for e in entries if not e.inside_now}
        events = []
        for entry in entries:
            key = (entry.unit_id, entry.zone_id)
            if entry.inside_now or key in self._predicted:
                continue
            # before it enters, a unit is its own party's business only (need to know: from entry on)
            concerned = frozenset({entry.party_id})
            payload = {
                "unit_id": entry.unit_id,
                "party_id": entry.party_id,
                "zone_id": entry.zone_id,
                "access": entry.access.value,
                "entry_in_s": entry.t_entry_s,
                "entry_time_s": now_s + entry.t_entry_s,
                "lat_deg": entry.lat_deg,
                "lon_deg": entry.lon_deg,
            }
            events.append(Event(EventKind.ZONE_ENTRY_PREDICTED, now_s, None, payload, concerned))
        self._predicted = current
        return events

    def _remember(self, event: Event) -> None:
        self._alerts.remember(event)

    def acknowledge(self, alert_id: str, party_id: str) -> dict[str, Any]:
        """``party_id`` acknowledges an alert that involves its units; emits ``alert.acknowledged``
        the first time only: acknowledging again answers the alert as it stands and emits nothing
        (each event is on both parties' streams, in the record and in their thread, so a party
        acknowledging in a loop filled the other party's alert channel).

        With ``pairs_in_workers`` the alert is a worker's: the event is made here from what this
        process heard of it, and the worker marks its book when the event reaches it on the bus.
        """
        if self._pairs_in_workers:
            return self._acknowledge_workers_alert(alert_id, party_id)
        with self._lock:
            alert, heard = self.book.get(alert_id), self._alerts.latest.get(alert_id)
            if alert is not None and heard is not None and party_id in alert.parties & alert.acknowledged_by:
                return self._view(heard)
            try:
                event = self.book.acknowledge(alert_id, party_id, self._clock.now_s())
            except (KeyError, PermissionError):  # another pair's alert answers exactly as no alert at all
                raise NotFoundError(unknown("alert", alert_id)) from None
            self._remember(event)
            view = self._view(self._alerts.latest[alert_id])
        self._events.emit(event)
        return view

    def _acknowledge_workers_alert(self, alert_id: str, party_id: str) -> dict[str, Any]:
        with self._lock:
            heard = self._alerts.latest.get(alert_id)
            if heard is None or party_id not in (heard["party_a"], heard["party_b"]):
                raise NotFoundError(unknown("alert", alert_id))  # as no alert at all, whoever's it is
            if party_id in heard.get("acknowledged_by", ()):  # acknowledged already: nothing new to tell
                return self._view(heard)
            event = acknowledged_event(heard, party_id, self._clock.now_s())
            self._remember(event)
            view = self._view(self._alerts.latest[alert_id])
        self._events.emit(event)
        return view

    def _view(self, payload: dict[str, Any]) -> dict[str, Any]:
        return alert_view(payload, self.book.get(payload["alert_id"]), self._pairs_in_workers)

    def alerts_for(self, party_id: str, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Alerts that involve ``party_id``'s units, as that party may see them (both units' states):
        the active ones in the order raised (ids, random, order nothing), then the resolved ones."""
        with self._lock:
            active = [
                self._view(p)
                for p in self._alerts.latest.values()
                if alert_visible(party_id, p["party_a"], p["party_b"])
            ]
            resolved = self._alerts.resolved_for(party_id) if include_resolved else []
        return sorted(active, key=lambda p: (p["raised_s"], p["alert_id"])) + resolved

    def visible_states(self, party_id: str) -> list[UnitState]:
        """Own units in full; another party's unit only while an alert involves one of ours with it, or
        while it is an intruder in a zone ``party_id`` is permitted in (``policy.unit_state_visible``)."""
        with self._lock:
            states = self.table.states()
            party_ids = self._party_ids(states)
            # the pairs of the alerts heard from the workers (``pairs_in_workers``), or of this book's
            pairs: list[AlertPair]
            if self._pairs_in_workers:
                pairs = [(p["party_a"], p["party_b"], p["unit_a"], p["unit_b"]) for p in self._alerts.latest.values()]
            else:
                pairs = [(a.party_a, a.party_b, a.unit_a, a.unit_b) for a in self.book.active()]
            inside = self.zone_watch.inside_by_unit()
        return visible_unit_states(party_id, states, party_ids, pairs, inside)

    def intruder_audiences(self, party_id: str) -> dict[str, frozenset[str]]:
        """Another party's units ``party_id`` witnesses as intruders now, each with who it knows sees
        it (``policy.intruder_audience``: the witnesses of the zones it witnesses it in)."""
        with self._lock:
            states = self.table.states()
            party_ids = self._party_ids(states)
            inside = self.zone_watch.inside_by_unit()
        return intruders_witnessed(party_id, states, party_ids, inside)

    def crossings(self) -> list[dict[str, Any]]:
        """Deconfliction-line crossings counted per party, UTC day, line and direction."""
        with self._lock:
            return [
                {"party_id": party, "utc_day": day, "zone_id": zone, "direction": direction, "count": count}
                for (party, day, zone, direction), count in sorted(self.zone_watch.crossings.items())
            ]
