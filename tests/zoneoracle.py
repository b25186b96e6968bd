"""Brute-force truth for zone shapes anywhere on the Earth (±180° and the poles included), by
pyproj's geodesics alone: whether a point lies inside a circle, a star-shaped polygon or a buffered
line, and how far it lies from the edge (so tests can leave out points within a drawing's tolerance).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, Polygon

GEOD = Geod(ellps="WGS84")
EARTH_M = 6_371_008.8

# Centres that stress the failure places: next to ±180°, within a few hundred km of a pole, anywhere.
centre_lats = st.one_of(st.floats(-70.0, 70.0), st.floats(80.0, 90.0), st.floats(-90.0, -80.0))
centre_lons = st.one_of(st.floats(178.0, 180.0), st.floats(-180.0, -178.0), st.floats(-180.0, 180.0))
#: (bearing, fraction of the shape's reach) of points to test, inside and outside.
#: A line's legs (bearing, length m), its buffer (m) and points to test (where along it, bearing, buffers out).
line_legs = st.lists(st.tuples(st.floats(0.0, 360.0), st.floats(10_000.0, 150_000.0)), min_size=1, max_size=3)
line_buffers = st.floats(1_000.0, 100_000.0)
line_picks = st.lists(
    st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 360.0), st.floats(0.0, 2.5)), min_size=4, max_size=16
)
samples = st.lists(st.tuples(st.floats(0.0, 360.0, exclude_max=True), st.floats(0.0, 2.5)), min_size=4, max_size=24)


def fwd(lat: float, lon: float, bearing: float, dist_m: float) -> tuple[float, float]:
    """(lat, lon) reached from (lat, lon), longitude in [-180, 180)."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, bearing, dist_m)
    return float(lat2), float((lon2 + 180.0) % 360.0 - 180.0)


@st.composite
def stars(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """Bearings (sorted, gaps under 150°) and radii (20-400 km) of a star polygon's vertices."""
    n = draw(st.integers(4, 8))
    offset = draw(st.floats(0.3, 0.7)) * 360.0 / n  # with the jitter: every bearing in [0, 360), sorted
    step = 360.0 / n
    bearings = [offset + k * step + draw(st.floats(-0.3, 0.3)) * step for k in range(n)]
    radii = [draw(st.floats(20_000.0, 400_000.0)) for _ in range(n)]
    return bearings, radii


def star_polygon(lat0: float, lon0: float, bearings: list[float], radii: list[float]) -> Polygon:
    """The polygon (lon/lat, longitudes in [-180, 180)) of vertices at ``radii`` along ``bearings``."""
    ring = [fwd(lat0, lon0, b, r) for b, r in zip(bearings, radii, strict=True)]
    return Polygon([(lon, lat) for lat, lon in ring])


def _cross_track_m(lat_a: float, lon_a: float, az_edge: float, lat_p: float, lon_p: float) -> float:
    """Signed distance (m, + right) of p from the geodesic leaving a at ``az_edge`` (spherical)."""
    az, _, dist = GEOD.inv(lon_a, lat_a, lon_p, lat_p)
    return EARTH_M * math.asin(math.sin(dist / EARTH_M) * math.sin(math.radians(az - az_edge)))


def star_truth(
    lat0: float, lon0: float, bearings: list[float], radii: list[float], bearing: float, dist_m: float
) -> tuple[bool, float]:
    """Whether the point ``dist_m`` from the centre along ``bearing`` lies inside the star polygon
    (geodesic edges), and its distance from the edge of its sector (m)."""
    n = len(bearings)
    k = max(i for i in range(n) if bearings[i] <= bearing) if bearing >= bearings[0] else n - 1
    a = fwd(lat0, lon0, bearings[k], radii[k])
    b = fwd(lat0, lon0, bearings[(k + 1) % n], radii[(k + 1) % n])
    az_edge, _, _ = GEOD.inv(a[1], a[0], b[1], b[0])
    p = fwd(lat0, lon0, bearing, dist_m) if dist_m > 0 else (lat0, lon0)
    side_p = _cross_track_m(a[0], a[1], az_edge, p[0], p[1])
    side_c = _cross_track_m(a[0], a[1], az_edge, lat0, lon0)
    return (side_p > 0) == (side_c > 0), abs(side_p)


def line_distance_m(line: LineString, lat: float, lon: float, per_km: float = 1.0) -> float:
    """Distance (m) from (lat, lon) to the geodesic polyline ``line`` (lon/lat), from points along
    it about ``1 / per_km`` km apart (an over-estimate by at most a few metres at that spacing)."""
    coords = list(line.coords)
    best = math.inf
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(coords):
        length = GEOD.inv(lon1, lat1, lon2, lat2)[2]
        n = max(int(length / 1000.0 * per_km), 1)
        pts = GEOD.npts(lon1, lat1, lon2, lat2, n, initial_idx=0, terminus_idx=0)
        plon = np.array([q[0] for q in pts])
        plat = np.array([q[1] for q in pts])
        _, _, dist = GEOD.inv(plon, plat, np.full(len(pts), lon), np.full(len(pts), lat))
        best = min(best, float(np.min(dist)))
    return best


def line_samples(
    lat0: float,
    lon0: float,
    legs: list[tuple[float, float]],
    buffer_m: float,
    picks: list[tuple[float, float, float]],
    margin: float,
    margin_per_length: float,
    margin_m: float,
) -> tuple[LineString, list[tuple[float, float]], list[bool]]:
    """The line of ``legs`` from (lat0, lon0), and the picked points (lat, lon) farther than
    ``margin * buffer_m + margin_per_length * its length + margin_m`` from its buffer's edge, with
    whether each lies within ``buffer_m`` of it."""
    vertices = [(lat0, lon0)]
    for bearing, length in legs:
        vertices.append(fwd(*vertices[-1], bearing, length))
    line = LineString([(lon, lat) for lat, lon in vertices])
    tolerance_m = margin * buffer_m + margin_per_length * sum(length for _, length in legs) + margin_m
    points, truth = [], []
    for where, bearing, f in picks:
        k = min(int(where * len(legs)), len(legs) - 1)
        base = fwd(*vertices[k], legs[k][0], legs[k][1] * (where * len(legs) - k))
        p = fwd(*base, bearing, f * buffer_m)
        d = line_distance_m(line, *p)
        if abs(d - buffer_m) > tolerance_m:
            points.append(p)
            truth.append(d < buffer_m)
    return line, points, truth
