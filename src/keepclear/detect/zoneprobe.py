"""The zone probe: predicted and actual entries of units into zones their party may not enter (or
only with notice), and crossings of deconfliction lines, counted per party per UTC day.

Geometry is done in a local plane around each zone (``geo.shapes``), so metres are metres and the
antimeridian is ordinary. Lines count with ``buffer_m`` each side, point sites with radius
``buffer_m``. Pure apart from ``ZoneWatch``, which remembers the previous tick; time is passed in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from keepclear.detect.states import TrackStates
from keepclear.domain import Access, Zone, ZoneKind
from keepclear.domain.events import Event
from keepclear.geo.geodesy import destination
from keepclear.geo.plane import LocalPlane
from keepclear.geo.shapes import plane_for, to_plane

FT_M = 0.3048
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ZoneProbeSettings:
    """How far ahead entries are predicted, per domain of the unit (seconds)."""

    lookahead_air_s: float = 300.0
    lookahead_land_s: float = 1800.0
    lookahead_sea_s: float = 1200.0

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
    """Project and buffer a zone once; reuse it every tick."""
    plane = plane_for(zone.geometry)
    flat = to_plane(zone.geometry, plane)
    if zone.kind is ZoneKind.DECONFLICTION_LINE:
        return PreparedZone(zone, plane, flat.buffer(zone.buffer_m, quad_segs=16), flat)
    if flat.geom_type == "Point" or zone.buffer_m > 0:
        return PreparedZone(zone, plane, flat.buffer(max(zone.buffer_m, 0.0), quad_segs=16))
    return PreparedZone(zone, plane, flat)


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


def _window(
    states: TrackStates, r: int, pz: PreparedZone, time_s: float, horizon_s: float
) -> tuple[float, float] | None:
    """Times in [0, horizon] when the unit's altitude is in the band and the zone is valid."""
    lo, hi = 0.0, horizon_s
    v = pz.zone.validity
    if v.valid_from_s is not None:
        lo = max(lo, v.valid_from_s - time_s)
    if v.valid_until_s is not None:
        hi = min(hi, v.valid_until_s - time_s)
    band = pz.zone.altitude
    alt = float(states.alt_m[r]) + float(states.vel_up_mps[r]) * (time_s - float(states.time_s[r]))
    vz = float(states.vel_up_mps[r])
    b0, b1 = band.lower_ft * FT_M, band.upper_ft * FT_M
    if abs(vz) < 1e-9:
        if not b0 <= alt <= b1:
            return None
    else:
        ta, tb = (b0 - alt) / vz, (b1 - alt) / vz
        lo, hi = max(lo, min(ta, tb)), min(hi, max(ta, tb))
    return (lo, hi) if lo <= hi else None


def positions_at(states: TrackStates, time_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(lat_deg, lon_deg, alt_m) of every unit extrapolated along its track to ``time_s``, in one call."""
    dt = time_s - states.time_s
    ve, vn = states.vel_east_mps, states.vel_north_mps
    dist = np.hypot(ve, vn) * dt
    moved = dist != 0.0
    lat = states.lat_deg.copy()
    lon = states.lon_deg.copy()
    if bool(moved.any()):
        la, lo = destination(lat[moved], lon[moved], np.degrees(np.arctan2(ve[moved], vn[moved])), dist[moved])
        lat[moved], lon[moved] = la, lo
    return lat, lon, states.alt_m + states.vel_up_mps * dt


def _position_at(states: TrackStates, r: int, time_s: float) -> tuple[float, float]:
    dt = time_s - float(states.time_s[r])
    ve, vn = float(states.vel_east_mps[r]), float(states.vel_north_mps[r])
    dist = math.hypot(ve, vn) * dt
    if dist == 0.0:
        return float(states.lat_deg[r]), float(states.lon_deg[r])
    lat, lon = destination(float(states.lat_deg[r]), float(states.lon_deg[r]), math.degrees(math.atan2(ve, vn)), dist)
    return float(lat), float(lon)


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
    if not zones or len(states) == 0:
        return out
    horizons = np.array([settings.lookahead_s(int(d)) for d in states.domain], dtype=np.float64)
    lat0, lon0, _ = positions_at(states, time_s)
    # Where each unit would be at the end of its lookahead: the swept segment's bounding box must
    # meet the zone's for the unit to be a candidate (a cheap, exact pre-filter).
    end = TrackStates(
        states.unit_ids, states.party, states.domain, states.time_s - horizons, states.lat_deg, states.lon_deg,
        states.alt_m, states.vel_east_mps, states.vel_north_mps, states.vel_up_mps,
    )  # fmt: skip
    lat1, lon1, _ = positions_at(end, time_s)
    for pz in zones:
        if pz.zone.kind is ZoneKind.DECONFLICTION_LINE:
            continue
        x0, y0 = pz.plane.to_xy(lat0, lon0)
        x1, y1 = pz.plane.to_xy(lat1, lon1)
        minx, miny, maxx, maxy = pz.area.bounds
        # A geodesic drawn in the plane bows a little away from its chord: allow for it generously.
        margin = 0.02 * np.hypot(x1 - x0, y1 - y0) + 100.0
        near = (
            (np.minimum(x0, x1) - margin <= maxx)
            & (np.maximum(x0, x1) + margin >= minx)
            & (np.minimum(y0, y1) - margin <= maxy)
            & (np.maximum(y0, y1) + margin >= miny)
        )
        for r in np.flatnonzero(near).tolist():
            party = party_ids[int(states.party[r])]
            access = pz.zone.rules.access_for(party)
            if access is Access.PERMITTED:
                continue
            horizon = settings.lookahead_s(int(states.domain[r]))
            window = _window(states, r, pz, time_s, horizon)
            if window is None:
                continue
            t0, t1 = window
            la0, lo0 = _position_at(states, r, time_s + t0)
            la1, lo1 = _position_at(states, r, time_s + t1)
            x, y = pz.plane.to_xy(np.array([la0, la1]), np.array([lo0, lo1]))
            p0 = (float(x[0]), float(y[0]))
            if pz.area.covers(Point(p0)):
                t_hit, point = t0, p0
            else:
                if t1 <= t0:
                    continue
                seg = LineString([p0, (float(x[1]), float(y[1]))])
                hit = seg.intersection(pz.area)
                if hit.is_empty:
                    continue
                coords = shapely.get_coordinates(hit)
                d = np.hypot(coords[:, 0] - p0[0], coords[:, 1] - p0[1])
                k = int(np.argmin(d))
                t_hit = t0 + (t1 - t0) * float(d[k]) / max(seg.length, 1e-9)
                point = (float(coords[k, 0]), float(coords[k, 1]))
            lat, lon = pz.plane.to_latlon(point[0], point[1])
            out.append(
                ZoneEntry(states.unit_ids[r], party, pz.zone.id, access, t_hit, float(lat), float(lon), t_hit == 0.0)
            )
    return sorted(out, key=lambda e: (e.unit_id, e.zone_id))


def _side(line: BaseGeometry, x: float, y: float) -> int:
    """+1 left of the line's drawing direction, -1 right, 0 on it."""
    p = Point(x, y)
    s = line.project(p)
    eps = max(min(1.0, line.length / 1e6), 1e-6)
    a = line.interpolate(max(s - eps, 0.0))
    b = line.interpolate(min(s + eps, line.length))
    cross = (b.x - a.x) * (y - a.y) - (b.y - a.y) * (x - a.x)
    return 0 if cross == 0 else (1 if cross > 0 else -1)


def utc_day(time_s: float) -> str:
    """``YYYY-MM-DD`` of an epoch time in UTC."""
    return datetime.fromtimestamp(time_s, tz=UTC).date().isoformat()


class ZoneWatch:
    """Actual entries into zones and crossings of deconfliction lines, between consecutive ticks.

    Events: ``zone.entered`` (a unit is now inside a zone its party may not enter freely, and was
    not at the previous tick) and ``zone.line_crossed`` (``direction`` ``left-to-right`` or
    ``right-to-left`` relative to the line as drawn). ``crossings`` counts
    ``(party_id, utc_day, zone_id, direction)``.
    """

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones = [prepare_zone(z) for z in zones]
        self._last: dict[str, tuple[float, float, float]] = {}
        self._inside: set[tuple[str, str]] = set()
        self.crossings: Counter[tuple[str, str, str, str]] = Counter()

    def update(self, time_s: float, states: TrackStates, party_ids: Sequence[str]) -> list[Event]:
        """Positions of every unit at ``time_s``; the events since the previous call."""
        events: list[Event] = []
        now: dict[str, tuple[float, float, float]] = {}
        lats, lons, alts = positions_at(states, time_s)
        if not self.zones:
            self._last = dict(
                zip(states.unit_ids, zip(lats.tolist(), lons.tolist(), alts.tolist(), strict=True), strict=True)
            )
            return events
        for r, unit in enumerate(states.unit_ids):
            lat, lon, alt = float(lats[r]), float(lons[r]), float(alts[r])
            now[unit] = (lat, lon, alt)
            party = party_ids[int(states.party[r])]
            for pz in self.zones:
                zone = pz.zone
                if not zone.validity.contains(time_s):
                    continue
                x, y = pz.plane.to_xy(lat, lon)
                cx, cy = float(x), float(y)
                concerned = frozenset({party} | set(zone.rules.permitted_parties or ()))
                if pz.centerline is not None:
                    prev = self._last.get(unit)
                    # A line binds within its altitude band only: aircraft above a river line do not cross it.
                    if prev is None or not zone.altitude.contains_ft(alt / FT_M):
                        continue
                    px, py = pz.plane.to_xy(prev[0], prev[1])
                    seg = LineString([(float(px), float(py)), (cx, cy)])
                    if seg.length == 0 or not seg.intersects(pz.centerline):
                        continue
                    before, after = _side(pz.centerline, float(px), float(py)), _side(pz.centerline, cx, cy)
                    if before == after or before == 0:
                        continue
                    direction = "left-to-right" if before > 0 else "right-to-left"
                    self.crossings[(party, utc_day(time_s), zone.id, direction)] += 1
                    events.append(
                        Event(
                            "zone.line_crossed",
                            time_s,
                            None,
                            {"unit_id": unit, "party_id": party, "zone_id": zone.id, "direction": direction,
                             "lat_deg": lat, "lon_deg": lon, "utc_day": utc_day(time_s),
                             "count_today": self.crossings[(party, utc_day(time_s), zone.id, direction)]},
                            concerned,
                        )
                    )  # fmt: skip
                    continue
                access = zone.rules.access_for(party)
                key = (unit, zone.id)
                inside = (
                    access is not Access.PERMITTED
                    and zone.altitude.contains_ft(alt / FT_M)
                    and bool(pz.area.covers(Point(cx, cy)))
                )
                if inside and key not in self._inside:
                    self._inside.add(key)
                    events.append(
                        Event(
                            "zone.entered",
                            time_s,
                            None,
                            {"unit_id": unit, "party_id": party, "zone_id": zone.id, "access": access.value,
                             "lat_deg": lat, "lon_deg": lon, "alt_m": alt},
                            concerned,
                        )
                    )  # fmt: skip
                elif not inside:
                    self._inside.discard(key)
        self._last.update(now)
        return events
