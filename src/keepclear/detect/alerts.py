"""The alert book: conflicts as people see them, with levels, hysteresis and a lifecycle.

Each probe tick feeds the candidate conflicts; each pair gets a raw level from its domain pair's
policy (``wellclear``), filtered by its hysteresis. An alert is raised when a pair's level leaves
0, changes level, is acknowledged by each of its two parties, and is resolved when the level
returns to 0. Every change is an ``Event`` (``alert.raised``, ``alert.level_changed``,
``alert.acknowledged``, ``alert.resolved``) concerning both parties, with a JSON-ready payload.

Alert ids are ``alert-`` and ``ALERT_ID_BITS`` random bits (``alert-3f0c9a…``), and nothing else: a
party sees the ids of its own alerts, and a count in them would tell it how many alerts other pairs
of parties had in between, and when; a name in them (a detector worker's share, its run) would tell
it how the deployment is cut and when a worker restarted (need to know). The bits come from
``random_bits`` (the operating system's by default); with a seeded one
(``random.Random(seed).getrandbits``) the same ticks give the same events, ids included, for tests
and replays. ``emitted_by`` names the book's owner on every event it makes (``Event.emitted_by``:
a detector worker's share and run, which the worker carries where no party reads it), never in an
id or a payload.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from keepclear.detect.hysteresis import HysteresisColumns
from keepclear.detect.kinematics import kinematics_at
from keepclear.detect.minima import PAIRS, DomainPair, ProbeSettings, SeparationMinima, pair_indices
from keepclear.detect.probe import Conflicts
from keepclear.detect.relative import relative_motion
from keepclear.detect.states import TrackStates
from keepclear.detect.wellclear import AlertingSettings, AlertLevel, raw_levels
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.ids import ID_BITS, RandomBits, random_id
from keepclear.geo.geodesy import destination

#: Random bits in an alert id (``domain.ids``): unpredictable, and unique in practice across every
#: book of a deployment, the detector workers' shares included (each draws its own; one among a
#: book's own active alerts is drawn again).
ALERT_ID_BITS = ID_BITS


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert between two units of different parties."""

    id: str
    unit_a: str
    unit_b: str
    party_a: str
    party_b: str
    level: AlertLevel
    raised_s: float
    updated_s: float
    acknowledged_by: frozenset[str] = field(default_factory=frozenset)
    resolved_s: float | None = None

    @property
    def parties(self) -> frozenset[str]:
        """Both parties the alert concerns."""
        return frozenset((self.party_a, self.party_b))


def candidate_settings(alerting: AlertingSettings, probe: ProbeSettings) -> ProbeSettings:
    """Probe minima wide enough that every pair an alert volume could concern is a conflict.

    Air–air: the probe row must reach the DO-365 volumes (DTHR, ZTHR) with a lookahead of the
    longest alerting time plus twice TTHR; surface pairs: their advisory (enlarged) volume.
    """

    def widen(pair: DomainPair, row: SeparationMinima) -> SeparationMinima:
        policy = alerting.policy(pair)
        h = max([row.horizontal_m] + [s.volume.dthr_m for s in policy.levels])
        z = max([row.vertical_m] + [s.volume.zthr_m for s in policy.levels])
        t = max([row.lookahead_s] + [s.alerting_time_s + 2 * s.volume.tthr_s for s in policy.levels])
        return SeparationMinima(h, z, t)

    return ProbeSettings.from_rows({pair: widen(pair, row) for pair, row in probe.rows().items()})


class AlertBook:
    """Alerts by pair of units, fed once per probe tick.

    The pairs it follows (every pair with a raw level above 0 in a recent probe, or an alert) are
    columns sorted by pair key, their hysteresis a ``HysteresisColumns``: a tick costs array
    operations over the pairs plus Python work per alert that changes, so tens of thousands of
    standing alerts stay cheap. Units get small integer codes, remembered while in use.
    """

    def __init__(
        self,
        settings: AlertingSettings | None = None,
        *,
        random_bits: RandomBits = secrets.randbits,
        emitted_by: str | None = None,
    ) -> None:
        """Every alert id is ``alert-`` and ``ALERT_ID_BITS`` from ``random_bits`` (``alert-<20 hex
        digits>``), in every deployment; ``emitted_by`` goes on every event made here (never in an id:
        a detector worker tells its earlier runs' alerts by it, ``services.runtime.detect_worker``)."""
        self.settings = settings or AlertingSettings()
        self.emitted_by = emitted_by
        self._random_bits = random_bits
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        width = max(max(1, self.settings.policy(pair).hysteresis.n) for pair in DomainPair)
        self._hysteresis = HysteresisColumns(width)
        self._keys = np.zeros(0, dtype=np.int64)
        # Alerts have an internal number (never shown: their ids are random), by which arrays refer to them.
        self._alert_seq = np.zeros(0, dtype=np.int64)  # per followed pair: its alert's number, 0 none
        self._conflict_seq = np.zeros(0, dtype=np.int64)  # per conflict of the last update: the same
        self._alerts: dict[str, Alert] = {}
        self._ids: dict[int, str] = {}  # an active alert's number -> its id
        self._lost_seqs: set[int] = set()  # alerts whose loss of separation was reported
        self._seq = 0

    def __len__(self) -> int:
        """How many alerts are active."""
        return len(self._alerts)

    def active(self) -> list[Alert]:
        """Alerts raised and not resolved, in the order they were raised."""
        return list(self._alerts.values())

    def followed(self) -> set[tuple[str, str]]:
        """The pairs the book follows (an alert, or a level above 0 of late: the hysteresis is
        counting), as unit ids in string order."""
        return {self._pair_names(int(key)) for key in self._keys.tolist()}

    def get(self, alert_id: str) -> Alert | None:
        """The active alert with this id, or None."""
        return self._alerts.get(alert_id)

    def newly_lost(self, los: npt.NDArray[np.bool_]) -> list[Alert]:
        """The active alerts whose pair has lost separation among the conflicts of the last update
        (``los``, a mask over them) and had not yet, in the order raised: each alert once."""
        seqs = np.unique(self._conflict_seq[los])
        new = [seq for seq in seqs[seqs > 0].tolist() if seq not in self._lost_seqs]
        self._lost_seqs.update(new)
        return [self._alerts[self._ids[seq]] for seq in new]

    def update(self, time_s: float, states: TrackStates, conflicts: Conflicts, party_ids: Sequence[str]) -> list[Event]:
        """One tick: ``conflicts`` from a probe of ``states`` at ``time_s`` (``party_ids[code]`` names
        each party code). Pairs seen before but absent now count as raw level 0."""
        self._compact(states)
        codes = self._code_rows(states.unit_ids)
        ra, rb, levels = self._raw_levels(time_s, states, conflicts)
        # Orient every pair as (a, b) with a's unit id first in string order: keys and ids are stable.
        if len(conflicts):
            names = np.asarray(conflicts.unit_ids)
            swap = names[ra] > names[rb]
            ra, rb = np.where(swap, rb, ra), np.where(swap, ra, rb)
        keys = (codes[ra] << 32) | codes[rb]
        self._follow(keys[levels > 0], pair_indices(states.domain[ra[levels > 0]], states.domain[rb[levels > 0]]))
        # Each followed pair's raw level, rows and conflict now (-1: not among the conflicts).
        count = len(self._keys)
        slot = np.searchsorted(self._keys, keys)
        found = slot < count
        found[found] = self._keys[slot[found]] == keys[found]
        raw = np.zeros(count, dtype=np.int64)
        conflict = np.full(count, -1, dtype=np.int64)
        raw[slot[found]] = levels[found]
        conflict[slot[found]] = np.flatnonzero(found)
        previous = self._hysteresis.level.copy()  # each pair's alert level (0: none) until this tick
        shown = self._hysteresis.step(time_s, raw)
        changed = np.flatnonzero(shown != previous)
        row_of_code = np.full(len(self._names), -1, dtype=np.int64)
        row_of_code[codes] = np.arange(len(codes))
        pair_rows = np.stack([row_of_code[self._keys >> 32], row_of_code[self._keys & 0xFFFFFFFF]], axis=1)
        pair_rows[conflict >= 0, 0] = ra[conflict[conflict >= 0]]
        pair_rows[conflict >= 0, 1] = rb[conflict[conflict >= 0]]
        changes: list[_Change] = []
        order = sorted(changed.tolist(), key=lambda i: self._pair_names(int(self._keys[i])))
        for i in order:
            rows = (int(pair_rows[i, 0]), int(pair_rows[i, 1]))
            kind, alert, before = self._transition(i, AlertLevel(int(shown[i])), time_s, states, rows, party_ids)
            changes.append(_Change(kind, alert, before, rows, None if conflict[i] < 0 else int(conflict[i])))
        self._conflict_seq = np.zeros(len(conflicts), dtype=np.int64)
        self._conflict_seq[found] = self._alert_seq[slot[found]]
        keep = (shown > 0) | (raw > 0)
        if not keep.all():
            self._take(np.flatnonzero(keep))
        return _events(changes, time_s, states, conflicts, self.emitted_by)

    def acknowledge(self, alert_id: str, party_id: str, time_s: float) -> Event:
        """``party_id`` acknowledges the alert; raises ``KeyError`` (unknown or resolved alert) or
        ``PermissionError`` (a party the alert does not concern)."""
        alert = self._alerts.get(alert_id)
        if alert is None:
            raise KeyError(f"alert {alert_id!r} is not active")
        if party_id not in alert.parties:
            raise PermissionError(f"alert {alert_id!r} does not concern party {party_id!r}")
        alert = self._alerts[alert_id] = replace(
            alert, acknowledged_by=alert.acknowledged_by | {party_id}, updated_s=time_s
        )
        payload = self._base_payload(alert)
        payload["acknowledged_by"] = sorted(alert.acknowledged_by)
        return Event(EventKind.ALERT_ACKNOWLEDGED, time_s, party_id, payload, alert.parties, emitted_by=self.emitted_by)

    def _code_rows(self, unit_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """The code of every row's unit, new units getting the next codes."""
        get = self._codes.get
        out = np.fromiter((get(unit_id, -1) for unit_id in unit_ids), dtype=np.int64, count=len(unit_ids))
        for row in np.flatnonzero(out < 0).tolist():
            out[row] = self._codes[unit_ids[row]] = len(self._names)
            self._names.append(unit_ids[row])
        return out

    def _compact(self, states: TrackStates) -> None:
        """Forget the codes of units neither in the picture nor in a followed pair, once they
        outnumber those in use: a long-running service meets ever new unit ids."""
        if len(self._names) <= 2 * (len(states) + len(self._keys)) + 1024:
            return
        in_use = sorted(
            {*states.unit_ids, *(self._names[c] for c in np.unique(self._keys >> 32).tolist())}
            | {self._names[c] for c in np.unique(self._keys & 0xFFFFFFFF).tolist()}
        )
        new_codes = {name: code for code, name in enumerate(in_use)}
        remap = np.array([new_codes.get(name, -1) for name in self._names], dtype=np.int64)
        self._keys = (remap[self._keys >> 32] << 32) | remap[self._keys & 0xFFFFFFFF]
        self._codes, self._names = new_codes, in_use
        order = np.argsort(self._keys, kind="stable")
        self._take(order)

    def _raw_levels(
        self, time_s: float, states: TrackStates, conflicts: Conflicts
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Rows of both units and the raw alert level of every conflict (each domain pair its policy)."""
        ra, rb = conflicts.row_a.astype(np.int64), conflicts.row_b.astype(np.int64)
        levels = np.zeros(len(conflicts), dtype=np.int64)
        if not len(conflicts):
            return ra, rb, levels
        rel = relative_motion(kinematics_at(states, time_s), ra, rb)
        pair_index = pair_indices(states.domain[ra], states.domain[rb])
        for index in np.unique(pair_index).tolist():
            sel = pair_index == index
            sub = type(rel)(rel.ss[sel], rel.sv[sel], rel.vv[sel], rel.dz_m[sel], rel.dvz_mps[sel])
            levels[sel] = raw_levels(sub, self.settings.policy(PAIRS[index]))
        return ra, rb, levels

    def _follow(self, keys: npt.NDArray[np.int64], pair_index: npt.NDArray[np.int64]) -> None:
        """Start following the pairs of ``keys`` not followed yet, each with the hysteresis of its
        domain pair (``pair_index``: positions in ``PAIRS``)."""
        new = ~np.isin(keys, self._keys, assume_unique=True)
        if not new.any():
            return
        settings = [self.settings.policy(PAIRS[index]).hysteresis for index in pair_index[new].tolist()]
        self._hysteresis.append(settings)
        self._keys = np.concatenate([self._keys, keys[new]])
        self._alert_seq = np.concatenate([self._alert_seq, np.zeros(int(new.sum()), dtype=np.int64)])
        self._take(np.argsort(self._keys, kind="stable"))

    def _take(self, rows: npt.NDArray[np.int64]) -> None:
        self._keys = self._keys[rows]
        self._alert_seq = self._alert_seq[rows]
        self._hysteresis.take(rows)

    def _pair_names(self, key: int) -> tuple[str, str]:
        return self._names[key >> 32], self._names[key & 0xFFFFFFFF]

    def _transition(
        self,
        slot: int,
        shown: AlertLevel,
        time_s: float,
        states: TrackStates,
        rows: tuple[int, int],
        party_ids: Sequence[str],
    ) -> tuple[EventKind, Alert, AlertLevel | None]:
        """Move the alert of the pair in ``slot`` to ``shown`` (a level other than its alert's)."""
        unit_a, unit_b = self._pair_names(int(self._keys[slot]))
        seq = int(self._alert_seq[slot])
        if seq == 0:
            self._seq += 1
            ra, rb = rows
            alert = Alert(
                id=self._new_id(),
                unit_a=unit_a,
                unit_b=unit_b,
                party_a=party_ids[int(states.party[ra])],
                party_b=party_ids[int(states.party[rb])],
                level=shown,
                raised_s=time_s,
                updated_s=time_s,
            )
            self._alerts[alert.id] = alert
            self._ids[self._seq] = alert.id
            self._alert_seq[slot] = self._seq
            return EventKind.ALERT_RAISED, alert, None
        alert_id = self._ids[seq]
        alert = self._alerts[alert_id]
        if shown == AlertLevel.NONE:
            del self._alerts[alert_id]
            del self._ids[seq]
            self._lost_seqs.discard(seq)
            self._alert_seq[slot] = 0
            return (
                EventKind.ALERT_RESOLVED,
                replace(alert, level=shown, updated_s=time_s, resolved_s=time_s),
                alert.level,
            )
        self._alerts[alert_id] = replace(alert, level=shown, updated_s=time_s)
        return EventKind.ALERT_LEVEL_CHANGED, self._alerts[alert_id], alert.level

    def _new_id(self) -> str:
        """A fresh alert id: ``alert-`` and ``ALERT_ID_BITS`` random bits, nothing of other alerts or
        of who raised it (one an active alert has is drawn again)."""
        for _ in range(8):
            alert_id = random_id("alert", self._random_bits)
            if alert_id not in self._alerts:
                return alert_id
        raise RuntimeError(f"random_bits: 8 draws of {ALERT_ID_BITS} bits all gave ids of active alerts")

    @staticmethod
    def _base_payload(alert: Alert) -> dict[str, Any]:
        return {
            "alert_id": alert.id,
            "unit_a": alert.unit_a,
            "unit_b": alert.unit_b,
            "party_a": alert.party_a,
            "party_b": alert.party_b,
            "level": alert.level.name.lower(),
            "level_number": int(alert.level),
            "raised_s": alert.raised_s,
        }


@dataclass(frozen=True, slots=True)
class _Change:
    """One alert change of a tick, before its event is built (rows -1: a unit no longer in the picture)."""

    kind: EventKind
    alert: Alert
    previous: AlertLevel | None
    rows: tuple[int, int]
    conflict: int | None


def _events(
    changes: list[_Change], time_s: float, states: TrackStates, conflicts: Conflicts, emitted_by: str | None
) -> list[Event]:
    """The events of a tick's alert changes, with both units' positions now and at closest approach
    (each ``emitted_by`` the book's owner).

    Positions of every change are computed at once (one geodesic call for the whole tick): a tick
    that raises thousands of alerts must not pay thousands of scalar calls.
    """
    if not changes:
        return []
    count = len(changes)
    rows = np.array([c.rows for c in changes], dtype=np.int64).reshape(count, 2)
    has_cpa = [c.conflict is not None for c in changes]
    k = np.array([0 if c.conflict is None else c.conflict for c in changes], dtype=np.int64)
    tcpa = np.where(has_cpa, conflicts.tcpa_s[k] if len(conflicts) else 0.0, 0.0)
    at = np.concatenate([np.full(2 * count, time_s), np.repeat(time_s + tcpa, 2)])
    lat, lon, alt = _positions(states, np.concatenate([rows.ravel(), rows.ravel()]), at)
    points = [
        {"lat_deg": la, "lon_deg": lo, "alt_m": al}
        for la, lo, al in zip(
            np.round(lat, 7).tolist(), np.round(lon, 7).tolist(), np.round(alt, 2).tolist(), strict=True
        )
    ]
    cpa_columns: list[list[Any]] = [[None] * count] * 5
    if len(conflicts):
        cpa_columns = [
            conflicts.t_in_s[k].tolist(),
            conflicts.t_out_s[k].tolist(),
            conflicts.dcpa_m[k].tolist(),
            conflicts.vsep_cpa_m[k].tolist(),
            conflicts.los[k].tolist(),
        ]
    tcpa_list = tcpa.tolist()
    present = (rows >= 0).tolist()
    events = []
    for i, (change, cpa, t_in, t_out, dcpa, vsep, los) in enumerate(zip(changes, has_cpa, *cpa_columns, strict=True)):
        alert = change.alert
        payload = AlertBook._base_payload(alert)
        payload["previous_level"] = None if change.previous is None else change.previous.name.lower()
        payload["time_s"] = time_s
        positions = {}
        if present[i][0]:
            positions[alert.unit_a] = points[2 * i]
        if present[i][1]:
            positions[alert.unit_b] = points[2 * i + 1]
        payload["positions"] = positions
        payload["cpa"] = None
        if cpa:
            payload["cpa"] = {
                "t_in_s": t_in,
                "t_out_s": t_out,
                "tcpa_s": tcpa_list[i],
                "dcpa_m": dcpa,
                "vsep_cpa_m": vsep,
                "los": los,
                "points": {alert.unit_a: points[2 * count + 2 * i], alert.unit_b: points[2 * count + 2 * i + 1]},
            }
        events.append(Event(change.kind, time_s, None, payload, alert.parties, emitted_by=emitted_by))
    return events


def _positions(
    states: TrackStates, rows: npt.NDArray[np.int64], time_s: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Where each row is predicted at its time (straight line along its track); rows -1 give zeros."""
    r = np.maximum(rows, 0)
    dt = time_s - states.time_s[r]
    ve, vn = states.vel_east_mps[r], states.vel_north_mps[r]
    lat, lon = states.lat_deg[r].copy(), states.lon_deg[r].copy()
    dist = np.hypot(ve, vn) * dt
    moving = dist != 0.0
    if moving.any():
        bearing = np.degrees(np.arctan2(ve[moving], vn[moving]))
        lat[moving], lon[moving] = destination(lat[moving], lon[moving], bearing, dist[moving])
    return lat, lon, states.alt_m[r] + states.vel_up_mps[r] * dt
