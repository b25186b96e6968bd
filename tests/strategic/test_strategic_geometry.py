"""Drawn shapes contain the true ones: circles and buffers never under-reach (exact geodesic oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from keepclear.detect.activity_geometry import buffered_lonlat, circle_polygon, zone_area
from keepclear.domain.activities import Circle
from keepclear.domain.zones import Zone, ZoneKind
from keepclear.geo import destination, distance_m


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-60, 60),
    st.floats(-170, 170),  # the antimeridian is refused by validation (see the documents tests)
    st.floats(50, 200_000),
    st.lists(st.floats(0, 360, exclude_max=True), min_size=1, max_size=16),
)
def test_drawn_circle_contains_every_point_of_the_true_circle(lat, lon, radius_m, bearings) -> None:
    polygon = circle_polygon(Circle(lat, lon, radius_m))
    for bearing in bearings:
        point_lat, point_lon = destination(lat, lon, bearing, radius_m * 0.9999)
        assert polygon.contains(Point(float(point_lon), float(point_lat)))
    # and it over-reaches by little: every vertex is within 1 % of the radius
    for vertex_lon, vertex_lat in list(polygon.exterior.coords):
        assert float(distance_m(lat, lon, vertex_lat, vertex_lon)) < radius_m * 1.01


@settings(max_examples=40, deadline=None)
@given(st.floats(-60, 60), st.floats(-170, 170), st.floats(100, 20_000), st.floats(0, 360, exclude_max=True))
def test_buffer_contains_every_point_within_the_distance(lat, lon, distance, bearing) -> None:
    grown = buffered_lonlat(Point(lon, lat), distance)
    point_lat, point_lon = destination(lat, lon, bearing, distance * 0.995)  # local frame: 0.5 % allowed
    assert grown.contains(Point(float(point_lon), float(point_lat)))


def _true_buffer_points(line: list[tuple[float, float]], distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Points ``distance_m`` from ``line`` (lon, lat vertices; along its geodesic) at every bearing, by pyproj."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    along = [line[0]] if len(line) == 1 else geod.npts(*line[0], *line[1], 20, initial_idx=0, terminus_idx=0)
    lons, lats = [], []
    for lon, lat in along:
        lon2, lat2, _ = geod.fwd(np.full(360, lon), np.full(360, lat), np.arange(360.0), np.full(360, distance_m))
        lons.append(lon2)
        lats.append(lat2)
    return np.concatenate(lons), np.concatenate(lats)


@pytest.mark.parametrize(
    ("geometry", "pole_lat"),
    [
        (Point(0.0, 90.0), 90.0),
        (Point(123.0, -90.0), -90.0),
        (LineString([(0.0, 89.99), (10.0, 89.99)]), 90.0),
    ],
)
def test_a_zone_at_or_near_a_pole_is_drawn_within_the_globe_and_holds_its_true_buffer(
    geometry: BaseGeometry, pole_lat: float
) -> None:
    """A local frame's degree of longitude shrinks to nothing at a pole: a site at 90° of radius 1 km
    drew as ±1019° of longitude up to 90.009°, a line at 89.99° too narrow to hold its own buffer.
    Now such an area is the polar cap over every longitude, from just past the true buffer's reach."""
    from pyproj import Geod

    kind = ZoneKind.DECONFLICTION_LINE if geometry.geom_type == "LineString" else ZoneKind.PROTECTED_SITE
    area = zone_area(Zone("pole", "pole", kind, geometry, buffer_m=1000.0))
    min_lon, min_lat, max_lon, max_lat = area.bounds
    assert (min_lon, max_lon) == (-180.0, 180.0)
    lons, lats = _true_buffer_points(list(geometry.coords), 1000.0)
    assert bool(shapely.covers(area, shapely.points(((lons + 180.0) % 360.0) - 180.0, lats)).all())
    # from the pole to just past the farthest point of the true buffer (at most 2 % of it further)
    geod = Geod(ellps="WGS84")
    if pole_lat > 0:
        assert max_lat == 90.0
        farthest = float(lats.min())
        assert farthest - 0.02 * 1000.0 / 110_574.0 <= min_lat <= farthest
    else:
        assert min_lat == -90.0
        farthest = float(lats.max())
        assert farthest <= max_lat <= farthest + 0.02 * 1000.0 / 110_574.0
    if geometry.geom_type == "Point":  # the true circle's edge lies 1 km from the pole
        assert geod.inv(0.0, pole_lat, 0.0, farthest)[2] == pytest.approx(1000.0, rel=1e-6)
