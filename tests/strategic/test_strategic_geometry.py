"""Drawn shapes contain the true ones: circles and buffers never under-reach (exact geodesic oracle)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from keepclear.detect.activity_geometry import buffered_lonlat, circle_polygon
from keepclear.domain.activities import Circle
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
