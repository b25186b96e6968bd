"""The zone watch at the failure places of geometry: zones across ±180° and at or near a pole.

Each zone's truth comes from pyproj's geodesics alone (``tests/zoneoracle.py``): a point within a
circle's radius of its centre, on the inner side of a star polygon's geodesic edge, within a line's
buffer of its geodesic. Points closer to the edge than the drawing's tolerance are left out: a circle
or buffer is a 64-gon inside the true one (0.2 % of the radius short between vertices), and the
zone's plane keeps distances within 0.5 % a few hundred km from its centre (tests/foundation).
"""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from tests.zoneoracle import (
    centre_lats,
    centre_lons,
    fwd,
    line_buffers,
    line_legs,
    line_picks,
    line_samples,
    samples,
    star_polygon,
    star_truth,
    stars,
)

from keepclear.detect.states import TrackStates
from keepclear.detect.zoneprobe import ZoneWatch, prepare_zone
from keepclear.domain import Zone, ZoneKind, ZoneRules
from keepclear.domain.event_kinds import EventKind

DAY = 1509494400.0
PARTIES = ["coalition", "russia"]


def entered(geometry: BaseGeometry, buffer_m: float, points: list[tuple[float, float]], kind: ZoneKind) -> list[bool]:
    """Whether the zone watch reports each stationary unit at (lat, lon), 3,000 m up, as entered."""
    zone = Zone("z", "z", kind, geometry, rules=ZoneRules(frozenset({"coalition"})), buffer_m=buffer_m)
    n = len(points)
    a = np.array([(1, 0, DAY, lat, lon, 3000.0, 0.0, 0.0, 0.0) for lat, lon in points], dtype=np.float64)
    states = TrackStates(
        tuple(f"u{k}" for k in range(n)), a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), *a[:, 2:].T.copy()
    )
    watch = ZoneWatch([zone])
    assert not watch.undrawable
    units = {e.payload["unit_id"] for e in watch.update(DAY, states, PARTIES) if e.kind is EventKind.ZONE_ENTERED}
    return [f"u{k}" in units for k in range(n)]


@given(centre_lats, centre_lons, st.floats(1_000.0, 1_000_000.0), samples)
@settings(max_examples=60, deadline=None)
def test_circle_zone_entries_across_the_antimeridian_and_at_the_poles(lat0, lon0, radius_m, picks) -> None:
    # 0.5 % each side of the radius: the 64-gon is 0.12 % short of it between vertices
    kept = [(b, f) for b, f in picks if abs(f - 1.0) > 0.005]
    points = [fwd(lat0, lon0, b, f * radius_m) for b, f in kept]
    got = entered(Point(lon0, lat0), radius_m, points, ZoneKind.PROTECTED_SITE)
    assert got == [f < 1.0 for _, f in kept], list(zip(kept, got, strict=True))


@given(centre_lats, centre_lons, stars(), samples)
@settings(max_examples=60, deadline=None)
def test_polygon_zone_entries_across_the_antimeridian_and_round_the_poles(lat0, lon0, star, picks) -> None:
    bearings, radii = star
    polygon = star_polygon(lat0, lon0, bearings, radii)
    reach = max(radii)
    points, truth = [], []
    for b, f in picks:
        inside, edge_m = star_truth(lat0, lon0, bearings, radii, b, f * reach)
        if edge_m > 0.005 * reach + 50.0:  # the plane's 0.5 % across the polygon
            points.append(fwd(lat0, lon0, b, f * reach))
            truth.append(inside)
    got = entered(polygon, 0.0, points, ZoneKind.RESTRICTED_OPERATING_ZONE)
    assert got == truth, list(zip(points, got, truth, strict=True))


@given(centre_lats, centre_lons, line_legs, line_buffers, line_picks)
@settings(max_examples=40, deadline=None)
def test_buffered_line_entries_across_the_antimeridian_and_at_the_poles(lat0, lon0, legs, buffer, picks) -> None:
    line, points, truth = line_samples(lat0, lon0, legs, buffer, picks, 0.005, 0.002, 50.0)
    # a deconfliction line is crossed, not entered: its drawn buffer (what the watch's predictions
    # and exits measure against) is checked directly
    pz = prepare_zone(Zone("l", "l", ZoneKind.DECONFLICTION_LINE, line, buffer_m=buffer))
    x, y = pz.plane.to_xy(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    got = [bool(v) for v in shapely.covers(pz.area, shapely.points(x, y))] if points else []
    assert got == truth, list(zip(points, got, truth, strict=True))
