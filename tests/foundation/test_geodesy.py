"""Geodesy against pyproj's Geod (Karney), including across ±180° and near the poles."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from keepclear.geo import LocalPlane, bearing_deg, destination, distance_m, fast_distance_m, wrap_lon_deg
from keepclear.geo.shapes import buffer_m, plane_for, to_plane

GEOD = Geod(ellps="WGS84")

lats = st.floats(-89.999, 89.999, allow_nan=False)
lons = st.floats(-180.0, 180.0, allow_nan=False, exclude_max=True)
bearings = st.floats(0.0, 360.0, allow_nan=False, exclude_max=True)
distances = st.floats(1.0, 500_000.0, allow_nan=False)
# Points that stress the usual failure places: the antimeridian and the poles.
edge_lats = st.one_of(lats, st.floats(84.0, 89.999), st.floats(-89.999, -84.0))
edge_lons = st.one_of(lons, st.floats(179.0, 179.9999), st.floats(-180.0, -179.0))


@given(edge_lats, edge_lons, bearings, distances)
@settings(max_examples=300, deadline=None)
def test_fast_distance_within_a_tenth_of_a_percent_up_to_500_km(lat, lon, az, d):
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, d)
    _, _, reference_m = GEOD.inv(lon, lat, lon2, lat2)
    got = float(fast_distance_m(lat, lon, lat2, lon2))
    assert math.isfinite(got)
    assert abs(got - reference_m) <= 1e-3 * reference_m + 1e-3


@given(edge_lats, edge_lons, bearings, distances)
@settings(max_examples=200, deadline=None)
def test_exact_distance_bearing_and_destination_agree_with_geod(lat, lon, az, d):
    lat2, lon2 = destination(lat, lon, az, d)
    assert -180.0 <= float(lon2) < 180.0
    assert abs(float(distance_m(lat, lon, lat2, lon2)) - d) < 1e-6 * d + 1e-6
    ref_az, _, _ = GEOD.inv(lon, lat, float(lon2), float(lat2))
    delta = (float(bearing_deg(lat, lon, lat2, lon2)) - ref_az) % 360.0
    assert min(delta, 360.0 - delta) < 1e-6


@given(edge_lats, edge_lons, bearings, st.floats(1.0, 300_000.0), bearings, st.floats(1.0, 300_000.0))
@settings(max_examples=200, deadline=None)
def test_local_plane_keeps_distances_within_half_a_percent(lat0, lon0, az1, d1, az2, d2):
    plane = LocalPlane(lat0, lon0)
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, az1, d1)
    lon2, lat2, _ = GEOD.fwd(lon0, lat0, az2, d2)
    x1, y1 = plane.to_xy(lat1, lon1)
    x2, y2 = plane.to_xy(lat2, lon2)
    # From the centre: exact.
    assert abs(math.hypot(float(x1), float(y1)) - d1) < 1e-6 * d1 + 1e-3
    # Between two points: within 0.5 % (documented tolerance of the tangent plane).
    _, _, between_m = GEOD.inv(lon1, lat1, lon2, lat2)
    plane_m = math.hypot(float(x2 - x1), float(y2 - y1))
    assert abs(plane_m - between_m) <= 5e-3 * between_m + 1.0
    # And back again.
    back_lat, back_lon = plane.to_latlon(x1, y1)
    assert float(distance_m(back_lat, back_lon, lat1, lon1)) < 1e-3


def test_antimeridian_neighbours_are_close_not_a_world_apart():
    same_pair_at_greenwich_m = float(distance_m(10.0, -0.01, 10.0, 0.01))
    assert 2000 < same_pair_at_greenwich_m < 2400
    assert abs(float(distance_m(10.0, 179.99, 10.0, -179.99)) - same_pair_at_greenwich_m) < 1e-6
    assert abs(float(fast_distance_m(10.0, 179.99, 10.0, -179.99)) - same_pair_at_greenwich_m) < 0.01
    assert round(float(bearing_deg(10.0, 179.99, 10.0, -179.99))) == 90


def test_wrap_lon_maps_into_half_open_range():
    assert np.allclose(wrap_lon_deg(np.array([180.0, -180.0, 540.0, -190.0])), [-180.0, -180.0, -180.0, 170.0])


@given(edge_lats, edge_lons, st.floats(50.0, 50_000.0))
@settings(max_examples=50, deadline=None)
def test_buffer_of_a_point_is_a_disc_of_that_radius(lat, lon, radius_m):
    import shapely.geometry

    point = shapely.geometry.Point(lon, lat)
    disc = buffer_m(point, radius_m)
    assert abs(disc.area - math.pi * radius_m**2) < 0.01 * math.pi * radius_m**2


def test_polygon_across_antimeridian_is_the_small_one():
    import shapely.geometry

    poly = shapely.geometry.Polygon([(179.5, 0), (-179.5, 0), (-179.5, 1), (179.5, 1), (179.5, 0)])
    projected = to_plane(poly, plane_for(poly))
    assert projected.is_valid
    assert 12_000e6 < projected.area < 12_600e6  # ~111 km x 111 km, not the band around the world
