"""The zone probe: predicted and actual entries of units into zones their party may not enter (or
only with notice), and crossings of deconfliction lines, counted per party per UTC day.

Geometry is done in a local plane around each zone (``geo.shapes``), so metres are metres and the
antimeridian is ordinary. Lines count with ``buffer_m`` each side, point sites with radius
``buffer_m``. Pure apart from ``ZoneWatch``, which remembers the previous tick; time is passed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import shapely
import shapely.errors
from pyproj.exceptions import ProjError
from shapely.geometry.base import BaseGeometry

from keepclear.detect.states import TrackStates
from keepclear.domain import Access, Zone, ZoneKind
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.zones import UndrawableZoneError, ZoneRules, drawn_area_problem, zone_drawing_problem
from keepclear.geo.geodesy import destination
from keepclear.geo.plane import LocalPlane
from keepclear.geo.shapes import plane_for, to_plane

FT_M = 0.3048
#: UTC days of line crossings ``ZoneWatch.crossings`` keeps counts for (today and the days before):
#: one count per party, line and direction a day, so older days are forgotten rather than kept for
#: as long as the process runs.
CROSSING_DAYS_KEPT = 31
_DAY_S = 86_400.0
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ZoneProbeSettings:
    """How far ahead entries are predicted, per domain of the unit (seconds), and how far a unit must
    get before a crossing or an exit counts (metres): track noise around a line or an edge must not
    count one crossing three times, nor one entry twice."""

    lookahead_air_s: float = 300.0
    lookahead_land_s: float = 1800.0
    lookahead_sea_s: float = 1200.0
    line_confirm_m: float = 100.0
    exit_margin_m: float = 100.0

    def lookahead_s(self, domain_code: int) -> float:
        """Lookahead for a domain code (0 air, 1 land, 2 sea)."""
        return (self.lookahead_air_s, self.lookahead_land_s, self.lookahead_sea_s)[domain_code]


@dataclass(frozen=True)
class PreparedZone:
    """A zone with its plane, its area in plane metres (lines and points buffered) and, for a line,
    its centre line in plane metres."""

    zone: Zone
    plane: LocalPlane
    area: BaseGeometry
    centerline: BaseGeometry | None = field(default=None)


def prepare_zone(zone: Zone) -> PreparedZone:
    """Project and buffer a zone once; reuse it every tick. ``UndrawableZoneError`` when it cannot
    be drawn (``zone_drawing_problem``, or its drawn area has no finite bounds)."""
    problem = zone_drawing_problem(zone)
    if problem is not None:
        raise UndrawableZoneError(zone.id, problem)
    try:
        plane = plane_for(zone.geometry)
        flat = to_plane(zone.geometry, plane)
        if zone.kind is ZoneKind.DECONFLICTION_LINE:
            prepared = PreparedZone(zone, plane, flat.buffer(zone.buffer_m, quad_segs=16), flat)
        elif flat.geom_type == "Point" or zone.buffer_m > 0:
            prepared = PreparedZone(zone, plane, flat.buffer(max(zone.buffer_m, 0.0), quad_segs=16))
        else:
            prepared = PreparedZone(zone, plane, flat)
    except (ValueError, ArithmeticError, RuntimeWarning, shapely.errors.GEOSException, ProjError) as exc:
        raise UndrawableZoneError(zone.id, f"drawing failed: {exc}") from exc
    # a point of radius 0 draws as nothing: never entered, but no failure either
    if not prepared.area.is_empty and (problem := drawn_area_problem(prepared.area.bounds, False)) is not None:
        raise UndrawableZoneError(zone.id, problem)
    return prepared


@dataclass(frozen=True, slots=True)
class ZoneEntry:
    """A unit predicted to be inside a zone it may not enter (or only with notice).

    ``t_entry_s`` is seconds after the probe time (0: inside now); the point is where it enters.
    """

    unit_id: str
    party_id: str
    zone_id: str
    access: Access
    t_entry_s: float
    lat_deg: float
    lon_deg: float
    inside_now: bool


def _positions_at(
    states: TrackStates, rows: npt.NDArray[np.int64], times_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Where ``rows`` are predicted at ``times_s`` (straight line along their tracks): (lat, lon)."""
    dt = times_s - states.time_s[rows]
    ve, vn = states.vel_east_mps[rows], states.vel_north_mps[rows]
    dist = np.hypot(ve, vn) * dt
    lat, lon = destination(states.lat_deg[rows], states.lon_deg[rows], np.degrees(np.arctan2(ve, vn)), dist)
    moving = dist != 0.0
    return np.where(moving, lat, states.lat_deg[rows]), np.where(moving, lon, states.lon_deg[rows])


def _windows(
    states: TrackStates, rows: npt.NDArray[np.int64], zone: Zone, time_s: float, horizon_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per row, times in [0, horizon] when its altitude is in the band and the zone is valid
    (``lo > hi`` when never)."""
    lo = np.zeros(rows.shape[0])
    hi = horizon_s.copy()
    v = zone.validity
    if v.valid_from_s is not None:
        lo = np.maximum(lo, v.valid_from_s - time_s)
    if v.valid_until_s is not None:
        hi = np.minimum(hi, v.valid_until_s - time_s)
    vz = states.vel_up_mps[rows]
    alt = states.alt_m[rows] + vz * (time_s - states.time_s[rows])
    b0, b1 = zone.altitude.lower_ft * FT_M, zone.altitude.upper_ft * FT_M
    still = np.abs(vz) < 1e-9
    safe = np.where(still, 1.0, vz)
    ta, tb = (b0 - alt) / safe, (b1 - alt) / safe
    lo = np.where(still, lo, np.maximum(lo, np.minimum(ta, tb)))
    hi = np.where(still, hi, np.minimum(hi, np.maximum(ta, tb)))
    outside = still & ((alt < b0) | (alt > b1))
    return lo, np.where(outside, -np.inf, hi)


def predict_zone_entries(
    states: TrackStates,
    party_ids: Sequence[str],
    zones: Sequence[PreparedZone],
    time_s: float,
    settings: ZoneProbeSettings | None = None,
) -> list[ZoneEntry]:
    """Every unit inside, or predicted to enter within its lookahead, a zone its party may not enter
    freely; sorted by unit, zone. Deconfliction lines are not entries (see ``ZoneWatch``)."""
    settings = settings or ZoneProbeSettings()
    out: list[ZoneEntry] = []
    if not any(pz.centerline is None for pz in zones):
        return out
    lookaheads = np.array([settings.lookahead_s(code) for code in range(3)])
    horizons = lookaheads[states.domain].astype(np.float64).reshape(-1)
    for pz in zones:
        zone = pz.zone
        if zone.kind is ZoneKind.DECONFLICTION_LINE or len(states) == 0:
            continue
        access = [zone.rules.access_for(party_ids[int(c)]) for c in states.party]
        rows = np.array([r for r, a in enumerate(access) if a is not Access.PERMITTED], dtype=np.int64)
        if rows.shape[0] == 0:
            continue
        t0, t1 = _windows(states, rows, zone, time_s, horizons[rows])
        keep = t0 <= t1
        rows, t0, t1 = rows[keep], t0[keep], t1[keep]
        if rows.shape[0] == 0:
            continue
        la0, lo0 = _positions_at(states, rows, time_s + t0)
        la1, lo1 = _positions_at(states, rows, time_s + t1)
        x0, y0 = pz.plane.to_xy(la0, lo0)
        x1, y1 = pz.plane.to_xy(la1, lo1)
        inside = shapely.covers(pz.area, shapely.points(x0, y0))
        segs = shapely.linestrings(np.stack([np.column_stack([x0, x1]), np.column_stack([y0, y1])], axis=2))
        hits = shapely.intersection(segs, pz.area)
        for k in range(rows.shape[0]):
            if inside[k]:
                t_hit, px, py = float(t0[k]), float(x0[k]), float(y0[k])
            else:
                if hits[k].is_empty or t1[k] <= t0[k]:
                    continue
                coords = shapely.get_coordinates(hits[k])
                d = np.hypot(coords[:, 0] - x0[k], coords[:, 1] - y0[k])
                j = int(np.argmin(d))
                length = float(np.hypot(x1[k] - x0[k], y1[k] - y0[k]))
                t_hit = float(t0[k] + (t1[k] - t0[k]) * float(d[j]) / max(length, 1e-9))
                px, py = float(coords[j, 0]), float(coords[j, 1])
            lat, lon = pz.plane.to_latlon(px, py)
            r = int(rows[k])
            out.append(
                ZoneEntry(
                    states.unit_ids[r],
                    party_ids[int(states.party[r])],
                    zone.id,
                    access[r],
                    t_hit,
                    float(lat),
                    float(lon),
                    t_hit == 0.0,
                )
            )
    return sorted(out, key=lambda e: (e.unit_id, e.zone_id))


def _sides(line: BaseGeometry, x: FloatArray, y: FloatArray) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """Per point: +1 left of the line's drawing direction, -1 right, 0 on it; and its distance (m)."""
    points = shapely.points(x, y)
    s = shapely.line_locate_point(line, points)
    eps = max(min(1.0, line.length / 1e6), 1e-6)
    a = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(s - eps, 0.0)))
    b = shapely.get_coordinates(shapely.line_interpolate_point(line, np.minimum(s + eps, line.length)))
    cross = (b[:, 0] - a[:, 0]) * (y - a[:, 1]) - (b[:, 1] - a[:, 1]) * (x - a[:, 0])
    return np.sign(cross).astype(np.int8), np.asarray(shapely.distance(points, line), dtype=np.float64)


def utc_day(time_s: float) -> str:
    """``YYYY-MM-DD`` of an epoch time in UTC."""
    return datetime.fromtimestamp(time_s, tz=UTC).date().isoformat()


class ZoneWatch:
    """Actual entries into zones and crossings of deconfliction lines, between consecutive ticks.

    Events: ``zone.entered`` (a unit is now inside a zone its party may not enter freely, and was
    not at the previous tick) and ``zone.line_crossed`` (``direction`` ``left-to-right`` or
    ``right-to-left`` relative to the line as drawn). ``crossings`` counts
    ``(party_id, utc_day, zone_id, direction)`` for the last ``CROSSING_DAYS_KEPT`` UTC days.

    With hysteresis against track noise: a crossing counts once the unit's track has cut the line
    and the unit is more than ``line_confirm_m`` beyond it on the other side (going round the end
    of a line is no crossing); a unit that entered a zone has left it once it is more than
    ``exit_margin_m`` outside.
    """

    def __init__(
        self, zones: Sequence[Zone], settings: ZoneProbeSettings | None = None, previous: ZoneWatch | None = None
    ) -> None:
        """``previous``: the watch this one replaces (zones changed): what it knew carries over.
        A zone that cannot be drawn is left out, named with why in ``undrawable``."""
        self.zones: list[PreparedZone] = []
        #: Zone id -> why it cannot be drawn, of the zones given and left out.
        self.undrawable: dict[str, str] = {}
        for zone in zones:
            try:
                self.zones.append(prepare_zone(zone))
            except UndrawableZoneError as exc:
                self.undrawable[zone.id] = exc.problem
        self.settings = settings or ZoneProbeSettings()
        self._last: dict[str, tuple[float, float, float]] = {}
        self._inside: set[tuple[str, str]] = set()
        self._side: dict[tuple[str, str], int] = {}  # (unit, line): the side it was last seen clearly on
        self._cut: set[tuple[str, str]] = set()  # (unit, line): its track cut the line since then
        self.crossings: Counter[tuple[str, str, str, str]] = Counter()
        self._day = ""  # the UTC day of the last update: older days' counts are pruned when it changes
        if previous is not None:
            self._day = previous._day
            self._last, self._inside = dict(previous._last), set(previous._inside)
            self._side, self._cut = dict(previous._side), set(previous._cut)
            self.crossings.update(previous.crossings)

    def update(self, time_s: float, states: TrackStates, party_ids: Sequence[str]) -> list[Event]:
        """Positions of every unit at ``time_s``; the events since the previous call."""
        events: list[Event] = []
        n = len(states)
        if not self.zones:
            self._last.clear()  # nothing to cross: no positions to remember either
            return events
        rows = np.arange(n, dtype=np.int64)
        lats, lons = _positions_at(states, rows, np.full(n, time_s))
        alts = states.alt_m + states.vel_up_mps * (time_s - states.time_s)
        parties = [party_ids[int(c)] for c in states.party]
        prev = [self._last.get(u) for u in states.unit_ids]
        has_prev = np.array([p is not None for p in prev], dtype=bool)
        prev_lat = np.array([p[0] if p is not None else 0.0 for p in prev])
        prev_lon = np.array([p[1] if p is not None else 0.0 for p in prev])
        day = utc_day(time_s)
        if day != self._day:
            self._day = day
            oldest = utc_day(time_s - (CROSSING_DAYS_KEPT - 1) * _DAY_S)
            for stale in [k for k in self.crossings if k[1] < oldest]:  # ISO days sort as they fall
                del self.crossings[stale]
        for pz in self.zones:
            zone = pz.zone
            if n == 0 or not zone.validity.contains(time_s):
                continue
            x, y = pz.plane.to_xy(lats, lons)
            if pz.centerline is not None:
                px, py = pz.plane.to_xy(prev_lat, prev_lon)
                events += self._line(
                    pz, time_s, day, states.unit_ids, parties, x, y, px, py, has_prev, alts, lats, lons
                )
                continue
            access = {p: zone.rules.access_for(p) for p in set(parties)}
            concerned = np.array([access[p] is not Access.PERMITTED for p in parties], dtype=bool)
            alt_ft = alts / FT_M
            in_band = (zone.altitude.lower_ft <= alt_ft) & (alt_ft <= zone.altitude.upper_ft)
            watched = concerned & in_band
            points = shapely.points(x, y)
            inside = watched & shapely.covers(pz.area, points)
            was = np.fromiter(((u, zone.id) in self._inside for u in states.unit_ids), dtype=bool, count=n)
            for r in np.flatnonzero(inside != was).tolist():  # only those whose state may change
                key = (states.unit_ids[r], zone.id)
                if was[r]:  # no longer strictly inside: out once clearly out (or no longer watched)
                    if not watched[r] or shapely.distance(pz.area, points[r]) > self.settings.exit_margin_m:
                        self._inside.discard(key)
                    continue
                self._inside.add(key)
                party = parties[r]
                events.append(
                    Event(
                        EventKind.ZONE_ENTERED,
                        time_s,
                        None,
                        {"unit_id": states.unit_ids[r], "party_id": party, "zone_id": zone.id,
                         "access": access[party].value, "lat_deg": float(lats[r]), "lon_deg": float(lons[r]),
                         "alt_m": float(alts[r])},
                        zone.rules.witnesses(party),
                    )
                )  # fmt: skip
        for r, unit in enumerate(states.unit_ids):
            self._last[unit] = (float(lats[r]), float(lons[r]), float(alts[r]))
        if len(self._last) > 2 * n + 1000:
            self._forget_all_but(set(states.unit_ids))
        return events

    def held(self) -> int:
        """Entries this watch keeps between ticks (positions, units inside zones, sides of and cuts
        across lines): a few per unit in the picture and zone, forgotten with the unit."""
        return len(self._last) + len(self._inside) + len(self._side) + len(self._cut)

    def inside_by_unit(self) -> dict[str, list[ZoneRules]]:
        """The rules of every zone each unit is inside now (entered, not yet clearly out)."""
        rules = {pz.zone.id: pz.zone.rules for pz in self.zones}
        out: dict[str, list[ZoneRules]] = {}
        for unit_id, zone_id in self._inside:
            if zone_id in rules:
                out.setdefault(unit_id, []).append(rules[zone_id])
        return out

    def _forget_all_but(self, units: set[str]) -> None:
        """Drop what is remembered of units no longer in the picture (a long run meets many)."""
        self._last = {u: v for u, v in self._last.items() if u in units}
        self._inside = {k for k in self._inside if k[0] in units}
        self._side = {k: v for k, v in self._side.items() if k[0] in units}
        self._cut = {k for k in self._cut if k[0] in units}

    def _line(
        self,
        pz: PreparedZone,
        time_s: float,
        day: str,
        unit_ids: Sequence[str],
        parties: list[str],
        x: FloatArray,
        y: FloatArray,
        px: FloatArray,
        py: FloatArray,
        has_prev: npt.NDArray[np.bool_],
        alts: FloatArray,
        lats: FloatArray,
        lons: FloatArray,
    ) -> list[Event]:
        """Crossings of one deconfliction line since the previous tick (see the class docstring)."""
        zone, line = pz.zone, pz.centerline
        assert line is not None
        # A line binds within its altitude band only: aircraft above a river line do not cross it.
        in_band = (alts >= zone.altitude.lower_ft * FT_M) & (alts <= zone.altitude.upper_ft * FT_M)
        segs = shapely.linestrings(np.stack([np.column_stack([px, x]), np.column_stack([py, y])], axis=2))
        moved = has_prev & ((px != x) | (py != y))
        cut = moved & in_band & shapely.intersects(segs, line)
        side, dist_m = _sides(line, x, y)
        known = np.fromiter((self._side.get((u, zone.id), 0) for u in unit_ids), dtype=np.int8, count=len(unit_ids))
        clear = dist_m > self.settings.line_confirm_m
        pending = np.zeros(len(unit_ids), dtype=bool)
        if self._cut:
            pending = np.fromiter(((u, zone.id) in self._cut for u in unit_ids), dtype=bool, count=len(unit_ids))
        look = in_band & (cut | ((side != 0) & (side != known) & (clear | (known == 0))) | (pending & clear))
        events = []
        for r in np.flatnonzero(look).tolist():
            key = (unit_ids[r], zone.id)
            if cut[r]:
                self._cut.add(key)
            before, now = int(known[r]), int(side[r])
            if before == 0:  # first seen: the side it is on, without a crossing
                if now != 0:
                    self._side[key] = now
                self._cut.discard(key)
                continue
            if not clear[r] or now == 0:
                continue  # near the line: wait until it is clearly on one side
            if now != before and key in self._cut:
                direction = "left-to-right" if before > 0 else "right-to-left"
                party = parties[r]
                self.crossings[(party, day, zone.id, direction)] += 1
                events.append(
                    Event(
                        EventKind.ZONE_LINE_CROSSED,
                        time_s,
                        None,
                        {"unit_id": unit_ids[r], "party_id": party, "zone_id": zone.id,
                         "direction": direction, "lat_deg": float(lats[r]), "lon_deg": float(lons[r]),
                         "utc_day": day, "count_today": self.crossings[(party, day, zone.id, direction)]},
                        zone.rules.witnesses(party),
                    )
                )  # fmt: skip
            self._side[key] = now
            self._cut.discard(key)
        return events
