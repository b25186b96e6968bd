"""The alert book: conflicts as people see them, with levels, hysteresis and a lifecycle.

Each probe tick feeds the candidate conflicts; each pair gets a raw level from its domain pair's
policy (``wellclear``), filtered by its hysteresis. An alert is raised when a pair's level leaves
0, changes level, is acknowledged by each of its two parties, and is resolved when the level
returns to 0. Every change is an ``Event`` (``alert.raised``, ``alert.level_changed``,
``alert.acknowledged``, ``alert.resolved``) concerning both parties, with a JSON-ready payload.
Deterministic: the same ticks give the same events, ids included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from keepclear.detect.hysteresis import PairHysteresis
from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.probe import Conflicts
from keepclear.detect.relative import relative_motion
from keepclear.detect.states import TrackStates, kinematics_at
from keepclear.detect.wellclear import AlertingSettings, AlertLevel, raw_levels
from keepclear.domain.events import Event
from keepclear.geo.geodesy import destination


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


@dataclass
class _Pair:
    hysteresis: PairHysteresis
    alert: Alert | None = None


def candidate_settings(alerting: AlertingSettings, probe: ProbeSettings) -> ProbeSettings:
    """Probe minima wide enough that every pair an alert volume could concern is a conflict.

    Air–air: the probe row must reach the DO-365 volumes (DTHR, ZTHR) with a lookahead of the
    longest alerting time plus twice TTHR; surface pairs: their advisory (enlarged) volume.
    """

    def widen(row: SeparationMinima, d0: int, d1: int) -> SeparationMinima:
        policy = alerting.policy(d0, d1)
        h = max([row.horizontal_m] + [s.volume.dthr_m for s in policy.levels])
        z = max([row.vertical_m] + [s.volume.zthr_m for s in policy.levels])
        t = max([row.lookahead_s] + [s.alerting_time_s + 2 * s.volume.tthr_s for s in policy.levels])
        return SeparationMinima(h, z, t)

    return ProbeSettings(
        air_air=widen(probe.air_air, 0, 0),
        air_land=widen(probe.air_land, 0, 1),
        air_sea=widen(probe.air_sea, 0, 2),
        land_land=widen(probe.land_land, 1, 1),
        land_sea=widen(probe.land_sea, 1, 2),
        sea_sea=widen(probe.sea_sea, 2, 2),
    )


class AlertBook:
    """Alerts by pair of units, fed once per probe tick."""

    def __init__(self, settings: AlertingSettings | None = None) -> None:
        self.settings = settings or AlertingSettings()
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._by_id: dict[str, tuple[str, str]] = {}
        self._seq = 0

    def active(self) -> list[Alert]:
        """Alerts raised and not resolved, by id."""
        alerts = [p.alert for p in self._pairs.values() if p.alert is not None]
        return sorted(alerts, key=lambda a: a.id)

    def get(self, alert_id: str) -> Alert | None:
        """The active alert with this id, or None."""
        key = self._by_id.get(alert_id)
        pair = self._pairs.get(key) if key else None
        return pair.alert if pair else None

    def update(self, time_s: float, states: TrackStates, conflicts: Conflicts, party_ids: Sequence[str]) -> list[Event]:
        """One tick: ``conflicts`` from a probe of ``states`` at ``time_s`` (``party_ids[code]`` names
        each party code). Pairs seen before but absent now count as raw level 0."""
        kin = kinematics_at(states, time_s)
        raw: dict[tuple[str, str], tuple[int, int, int, int | None]] = {}
        if len(conflicts):
            rel = relative_motion(kin, conflicts.row_a, conflicts.row_b)
            levels = np.zeros(len(conflicts), dtype=np.int64)
            dom_a = states.domain[conflicts.row_a]
            dom_b = states.domain[conflicts.row_b]
            for d0, d1 in sorted({(int(min(a, b)), int(max(a, b))) for a, b in zip(dom_a, dom_b, strict=True)}):
                sel = (np.minimum(dom_a, dom_b) == d0) & (np.maximum(dom_a, dom_b) == d1)
                sub = type(rel)(rel.ss[sel], rel.sv[sel], rel.vv[sel], rel.dz_m[sel], rel.dvz_mps[sel])
                levels[sel] = raw_levels(sub, self.settings.policy(d0, d1))
            for k in range(len(conflicts)):
                ra, rb = int(conflicts.row_a[k]), int(conflicts.row_b[k])
                a, b = conflicts.unit_ids[ra], conflicts.unit_ids[rb]
                if a > b:
                    a, b, ra, rb = b, a, rb, ra
                raw[(a, b)] = (int(levels[k]), ra, rb, k)
        changes: list[_Change] = []
        row_of = {u: k for k, u in enumerate(states.unit_ids)}
        for key in sorted(set(raw) | set(self._pairs)):
            level, ra, rb, conflict = raw.get(key, (0, row_of.get(key[0], -1), row_of.get(key[1], -1), None))
            pair = self._pairs.get(key)
            if pair is None:
                if level == 0:
                    continue
                policy = self.settings.policy(int(states.domain[ra]), int(states.domain[rb]))
                pair = self._pairs[key] = _Pair(PairHysteresis(policy.hysteresis))
            shown = AlertLevel(pair.hysteresis.step(time_s, level))
            change = self._transition(key, pair, shown, time_s, states, (ra, rb), party_ids)
            if change is not None:
                changes.append(_Change(*change, (ra, rb), conflict))
            if pair.alert is None and shown == 0 and level == 0:
                del self._pairs[key]
        return _events(changes, time_s, states, conflicts)

    def acknowledge(self, alert_id: str, party_id: str, time_s: float) -> Event:
        """``party_id`` acknowledges the alert; raises ``KeyError`` (unknown or resolved alert) or
        ``PermissionError`` (a party the alert does not concern)."""
        key = self._by_id.get(alert_id)
        pair = self._pairs.get(key) if key else None
        if pair is None or pair.alert is None:
            raise KeyError(f"alert {alert_id!r} is not active")
        alert = pair.alert
        if party_id not in alert.parties:
            raise PermissionError(f"alert {alert_id!r} does not concern party {party_id!r}")
        pair.alert = replace(alert, acknowledged_by=alert.acknowledged_by | {party_id}, updated_s=time_s)
        payload = self._base_payload(pair.alert)
        payload["acknowledged_by"] = sorted(pair.alert.acknowledged_by)
        return Event("alert.acknowledged", time_s, party_id, payload, pair.alert.parties)

    def _transition(
        self,
        key: tuple[str, str],
        pair: _Pair,
        shown: AlertLevel,
        time_s: float,
        states: TrackStates,
        rows: tuple[int, int],
        party_ids: Sequence[str],
    ) -> tuple[str, Alert, AlertLevel | None] | None:
        """Move the pair's alert to ``shown``; what changed (kind, alert, previous level), if anything."""
        alert = pair.alert
        if alert is None and shown == AlertLevel.NONE:
            return None
        ra, rb = rows
        if alert is None:
            self._seq += 1
            alert = Alert(
                id=f"alert-{self._seq:06d}",
                unit_a=key[0],
                unit_b=key[1],
                party_a=party_ids[int(states.party[ra])],
                party_b=party_ids[int(states.party[rb])],
                level=shown,
                raised_s=time_s,
                updated_s=time_s,
            )
            pair.alert = alert
            self._by_id[alert.id] = key
            return "alert.raised", alert, None
        if shown == AlertLevel.NONE:
            done = replace(alert, level=shown, updated_s=time_s, resolved_s=time_s)
            pair.alert = None
            del self._by_id[alert.id]
            return "alert.resolved", done, alert.level
        if shown != alert.level:
            pair.alert = replace(alert, level=shown, updated_s=time_s)
            return "alert.level_changed", pair.alert, alert.level
        return None

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

    kind: str
    alert: Alert
    previous: AlertLevel | None
    rows: tuple[int, int]
    conflict: int | None


def _events(changes: list[_Change], time_s: float, states: TrackStates, conflicts: Conflicts) -> list[Event]:
    """The events of a tick's alert changes, with both units' positions now and at closest approach.

    Positions of every change are computed at once (one geodesic call for the whole tick): a tick
    that raises thousands of alerts must not pay thousands of scalar calls.
    """
    if not changes:
        return []
    count = len(changes)
    rows = np.array([c.rows for c in changes], dtype=np.int64).reshape(count, 2)
    tcpa = np.array([0.0 if c.conflict is None else float(conflicts.tcpa_s[c.conflict]) for c in changes])
    at = np.concatenate([np.full(2 * count, time_s), np.repeat(time_s + tcpa, 2)])
    lat, lon, alt = _positions(states, np.concatenate([rows.ravel(), rows.ravel()]), at)
    points = [
        {"lat_deg": round(float(la), 7), "lon_deg": round(float(lo), 7), "alt_m": round(float(al), 2)}
        for la, lo, al in zip(lat.tolist(), lon.tolist(), alt.tolist(), strict=True)
    ]
    events = []
    for i, change in enumerate(changes):
        alert, (ra, rb) = change.alert, change.rows
        payload = AlertBook._base_payload(alert)
        payload["previous_level"] = None if change.previous is None else change.previous.name.lower()
        payload["time_s"] = time_s
        payload["positions"] = {
            unit: points[2 * i + j] for j, (unit, r) in enumerate(((alert.unit_a, ra), (alert.unit_b, rb))) if r >= 0
        }
        payload["cpa"] = None
        k = change.conflict
        if k is not None:
            payload["cpa"] = {
                "t_in_s": float(conflicts.t_in_s[k]),
                "t_out_s": float(conflicts.t_out_s[k]),
                "tcpa_s": float(tcpa[i]),
                "dcpa_m": float(conflicts.dcpa_m[k]),
                "vsep_cpa_m": float(conflicts.vsep_cpa_m[k]),
                "los": bool(conflicts.los[k]),
                "points": {alert.unit_a: points[2 * count + 2 * i], alert.unit_b: points[2 * count + 2 * i + 1]},
            }
        events.append(Event(change.kind, time_s, None, payload, alert.parties))
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
