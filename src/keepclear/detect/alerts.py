"""The alert book: conflicts as people see them, with levels, hysteresis and a lifecycle.

Each probe tick feeds the candidate conflicts; each pair gets a raw level from its domain pair's
policy (``wellclear``), filtered by its hysteresis. An alert is raised when a pair's level leaves
0, changes level, is acknowledged by each of its two parties, and is resolved when the level
returns to 0. Every change is an ``Event`` (``alert.raised``, ``alert.level_changed``,
``alert.acknowledged``, ``alert.resolved``) concerning both parties, with a JSON-ready payload.
Deterministic: the same ticks give the same events, ids included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

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
        raw: dict[tuple[str, str], tuple[int, int, int]] = {}
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
                raw[(a, b)] = (int(levels[k]), ra, rb)
        events: list[Event] = []
        row_of = {u: k for k, u in enumerate(states.unit_ids)}
        for key in sorted(set(raw) | set(self._pairs)):
            level, ra, rb = raw.get(key, (0, row_of.get(key[0], -1), row_of.get(key[1], -1)))
            pair = self._pairs.get(key)
            if pair is None:
                if level == 0:
                    continue
                policy = self.settings.policy(int(states.domain[ra]), int(states.domain[rb]))
                pair = self._pairs[key] = _Pair(PairHysteresis(policy.hysteresis))
            shown = AlertLevel(pair.hysteresis.step(time_s, level))
            events.extend(
                self._transition(
                    key, pair, shown, time_s, states, kin_rows=(ra, rb), party_ids=party_ids, conflicts=conflicts
                )
            )
            if pair.alert is None and shown == 0 and level == 0:
                del self._pairs[key]
        return events

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
        kin_rows: tuple[int, int],
        party_ids: Sequence[str],
        conflicts: Conflicts,
    ) -> list[Event]:
        alert = pair.alert
        if alert is None and shown == AlertLevel.NONE:
            return []
        ra, rb = kin_rows
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
            return [self._event("alert.raised", alert, None, time_s, states, kin_rows, conflicts)]
        if shown == AlertLevel.NONE:
            done = replace(alert, level=shown, updated_s=time_s, resolved_s=time_s)
            pair.alert = None
            del self._by_id[alert.id]
            return [self._event("alert.resolved", done, alert.level, time_s, states, kin_rows, conflicts)]
        if shown != alert.level:
            pair.alert = replace(alert, level=shown, updated_s=time_s)
            return [self._event("alert.level_changed", pair.alert, alert.level, time_s, states, kin_rows, conflicts)]
        return []

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

    def _event(
        self,
        kind: str,
        alert: Alert,
        previous: AlertLevel | None,
        time_s: float,
        states: TrackStates,
        rows: tuple[int, int],
        conflicts: Conflicts,
    ) -> Event:
        payload = self._base_payload(alert)
        payload["previous_level"] = None if previous is None else previous.name.lower()
        payload["time_s"] = time_s
        payload["positions"] = {}
        payload["cpa"] = None
        ra, rb = rows
        conflict_k = _find(conflicts, ra, rb)
        tcpa = float(conflicts.tcpa_s[conflict_k]) if conflict_k is not None else 0.0
        for unit, r in ((alert.unit_a, ra), (alert.unit_b, rb)):
            if r < 0:
                continue
            payload["positions"][unit] = _position(states, r, time_s)
        if conflict_k is not None:
            k = conflict_k
            payload["cpa"] = {
                "t_in_s": float(conflicts.t_in_s[k]),
                "t_out_s": float(conflicts.t_out_s[k]),
                "tcpa_s": tcpa,
                "dcpa_m": float(conflicts.dcpa_m[k]),
                "vsep_cpa_m": float(conflicts.vsep_cpa_m[k]),
                "los": bool(conflicts.los[k]),
                "points": {
                    unit: _position(states, r, time_s + tcpa) for unit, r in ((alert.unit_a, ra), (alert.unit_b, rb))
                },
            }
        return Event(kind, time_s, None, payload, alert.parties)


def _find(conflicts: Conflicts, ra: int, rb: int) -> int | None:
    lo, hi = min(ra, rb), max(ra, rb)
    hits = np.flatnonzero((conflicts.row_a == lo) & (conflicts.row_b == hi))
    return int(hits[0]) if hits.shape[0] else None


def _position(states: TrackStates, row: int, time_s: float) -> dict[str, float]:
    """Where row ``row`` is predicted at ``time_s`` (straight line along its track)."""
    dt = time_s - float(states.time_s[row])
    ve, vn = float(states.vel_east_mps[row]), float(states.vel_north_mps[row])
    lat, lon = float(states.lat_deg[row]), float(states.lon_deg[row])
    dist = math.hypot(ve, vn) * dt
    if dist != 0.0:
        la, lo = destination(lat, lon, math.degrees(math.atan2(ve, vn)), dist)
        lat, lon = float(la), float(lo)
    alt = float(states.alt_m[row]) + float(states.vel_up_mps[row]) * dt
    return {"lat_deg": round(lat, 7), "lon_deg": round(lon, 7), "alt_m": round(alt, 2)}
