"""Activities and zones as 4D pieces: lon/lat polygons with an altitude band and a time window.

A volume is one piece; a route is one piece per leg (the corridor around the leg, occupied from
the time of its first waypoint to the time of its second). Circles are drawn with exact geodesics;
corridors and buffers are drawn in a local frame scaled by the WGS-84 radii of curvature at the
shape's centre (a few metres off at 100 km from the centre, which buffers of hundreds of metres
absorb) because building a projection per shape would cost milliseconds each. Activities crossing
the antimeridian are not supported (theatres are regional); zones may cross it (``zone_area``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from keepclear.domain.activities import Activity, Circle
from keepclear.domain.zones import Zone
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2, destination
from keepclear.geo.shapes import (
    geometry_center,
    plane_for,
    split_at_antimeridian,
    to_lonlat,
    to_plane,
    unwrapped,
    winds_round_a_pole,
)

#: Vertices of a drawn circle.
CIRCLE_VERTICES = 32
#: How finely ``circle_polygon`` checks its polygon against the true circle, and how it grows it.
_SAMPLES_PER_EDGE = 16
_GROWTH_STEP = 0.0005
_MAX_GROWTH_STEPS = 40
#: Segments per quarter circle of a buffer's rounded ends and corners.
QUAD_SEGS = 4


@dataclass(frozen=True, slots=True)
class Piece:
    """A lon/lat polygon occupied within ``[lower_ft, upper_ft]`` during ``[start_s, end_s)``."""

    geometry: BaseGeometry
    lower_ft: float
    upper_ft: float
    start_s: float
    end_s: float
    bounds: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        min_x, min_y, max_x, max_y = shapely.bounds(self.geometry).tolist()
        object.__setattr__(self, "bounds", (min_x, min_y, max_x, max_y))


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """x east, y north metres around (``lat0_deg``, ``lon0_deg``), linear in degrees.

    >>> frame = LocalFrame.at(35.0, 38.0)
    >>> round(frame.metres_per_deg_lat)
    110941
    """

    lat0_deg: float
    lon0_deg: float
    metres_per_deg_lat: float
    metres_per_deg_lon: float

    @classmethod
    def at(cls, lat0_deg: float, lon0_deg: float) -> LocalFrame:
        """The frame centred on a point, scaled by the meridional and prime-vertical radii there."""
        sin_lat = math.sin(math.radians(lat0_deg))
        w2 = 1.0 - WGS84_E2 * sin_lat * sin_lat
        meridional_m = WGS84_A_M * (1.0 - WGS84_E2) / w2**1.5
        prime_vertical_m = WGS84_A_M / math.sqrt(w2)
        per_deg = math.pi / 180.0
        return cls(
            lat0_deg,
            lon0_deg,
            meridional_m * per_deg,
            max(prime_vertical_m * math.cos(math.radians(lat0_deg)) * per_deg, 1.0),
        )

    def to_xy(self, geometry: BaseGeometry) -> BaseGeometry:
        """``geometry`` (lon/lat) in frame metres."""
        lon0, lat0, kx, ky = self.lon0_deg, self.lat0_deg, self.metres_per_deg_lon, self.metres_per_deg_lat
        return shapely.transform(geometry, lambda c: np.column_stack([(c[:, 0] - lon0) * kx, (c[:, 1] - lat0) * ky]))

    def to_xy_all(self, geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        """An array of lon/lat geometries in frame metres (one pass)."""
        lon0, lat0, kx, ky = self.lon0_deg, self.lat0_deg, self.metres_per_deg_lon, self.metres_per_deg_lat
        moved = shapely.transform(geometries, lambda c: np.column_stack([(c[:, 0] - lon0) * kx, (c[:, 1] - lat0) * ky]))
        return np.asarray(moved, dtype=object)

    def to_lonlat_all(self, geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        """An array of frame geometries back to lon/lat (one pass)."""
        lon0, lat0, kx, ky = self.lon0_deg, self.lat0_deg, self.metres_per_deg_lon, self.metres_per_deg_lat
        moved = shapely.transform(geometries, lambda c: np.column_stack([c[:, 0] / kx + lon0, c[:, 1] / ky + lat0]))
        return np.asarray(moved, dtype=object)

    def to_lonlat(self, geometry: BaseGeometry) -> BaseGeometry:
        """``geometry`` in frame metres back to lon/lat."""
        lon0, lat0, kx, ky = self.lon0_deg, self.lat0_deg, self.metres_per_deg_lon, self.metres_per_deg_lat
        return shapely.transform(geometry, lambda c: np.column_stack([c[:, 0] / kx + lon0, c[:, 1] / ky + lat0]))


def frame_for(geometry: BaseGeometry) -> LocalFrame:
    """The local frame centred on the middle of ``geometry``'s bounding box."""
    min_lon, min_lat, max_lon, max_lat = shapely.bounds(geometry).tolist()
    return LocalFrame.at((min_lat + max_lat) / 2.0, (min_lon + max_lon) / 2.0)


def buffered_lonlat(geometry: BaseGeometry, distance_m: float) -> BaseGeometry:
    """``geometry`` grown by at least ``distance_m`` metres (at most 2 % more), in lon/lat."""
    if distance_m <= 0:
        return geometry
    return buffered_all([geometry], distance_m)[0]


def buffered_all(
    geometries: list[BaseGeometry], distance_m: float, frame: LocalFrame | None = None
) -> list[BaseGeometry]:
    """Each geometry grown by ``distance_m`` metres, in one frame (default: centred on them all)."""
    if distance_m <= 0 or not geometries:
        return list(geometries)
    array = np.asarray(geometries, dtype=object)
    if frame is None:
        boxes = shapely.bounds(array).tolist()
        min_lat, max_lat = min(b[1] for b in boxes), max(b[3] for b in boxes)
        min_lon, max_lon = min(b[0] for b in boxes), max(b[2] for b in boxes)
        frame = LocalFrame.at((min_lat + max_lat) / 2.0, (min_lon + max_lon) / 2.0)
    # Arcs are drawn as chords; pushing their vertices out by 1/cos(half a segment's angle) keeps
    # every chord at least ``distance_m`` away, so the drawn buffer contains the true one.
    outward_m = distance_m / math.cos(math.pi / (4 * QUAD_SEGS))
    grown = shapely.buffer(frame.to_xy_all(array), outward_m, quad_segs=QUAD_SEGS)
    reach_deg = _POLE_REACH * outward_m / _MIN_METRES_PER_DEG_LAT
    sources = shapely.bounds(array).tolist()
    return [
        _polar_capped(area, source[1] - reach_deg < -90.0, source[3] + reach_deg > 90.0)
        for area, source in zip(frame.to_lonlat_all(grown), sources, strict=True)
    ]


#: The fewest metres in a degree of latitude (at the equator), and how many buffers from a pole a
#: shape must lie for its buffer to be drawn in a local frame (``_polar_capped``).
_MIN_METRES_PER_DEG_LAT = 110_574.0
_POLE_REACH = 4.0


def _polar_capped(area: BaseGeometry, near_south: bool, near_north: bool) -> BaseGeometry:
    """``area`` as drawn in a local frame, or, where that frame cannot hold it, the polar cap from
    its lowest (highest) latitude to the pole over every longitude.

    A frame's degree of longitude shrinks to nothing at a pole: a point at 90° grown by 1 km drew as
    ±1000° of longitude up to 90.01°, and a shape within a few buffers of a pole (``near_north``,
    ``near_south``: within ``_POLE_REACH`` of them) drew too narrow in longitude. The cap contains
    every point within the buffer of the shape, so no conflict is lost; it reaches further.
    """
    if area.is_empty:
        return area
    min_lon, min_lat, max_lon, max_lat = shapely.bounds(area).tolist()
    north, south = near_north or max_lat > 90.0, near_south or min_lat < -90.0
    if not (north or south or max_lon - min_lon > 360.0):
        return area
    if north and south:
        return shapely.box(-180.0, -90.0, 180.0, 90.0)
    if north or (not south and max_lat + min_lat >= 0.0):
        return shapely.box(-180.0, max(min_lat, -90.0), 180.0, 90.0)
    return shapely.box(-180.0, -90.0, 180.0, min(max_lat, 90.0))


def circle_polygon(circle: Circle) -> Polygon:
    """The circle as a polygon that contains it, so the drawn shape never misses a conflict the true
    circle has; it over-reaches by about 1 % of the radius at most.

    Vertices lie on geodesics from the centre, ``radius_m / cos(pi / n)`` out, which would be enough
    in a plane. The polygon's edges are straight in longitude and latitude, though, where a geodesic
    circle is not quite an ellipse (up to 0.1 % short at 80° latitude), so the vertices move out in
    small steps until the polygon holds the true circle sampled finely, and one step more for what
    lies between the samples.
    """
    bearings = np.linspace(0.0, 360.0, CIRCLE_VERTICES, endpoint=False)
    sample_lat, sample_lon = destination(
        circle.lat_deg,
        circle.lon_deg,
        np.linspace(0.0, 360.0, CIRCLE_VERTICES * _SAMPLES_PER_EDGE, endpoint=False),
        circle.radius_m,
    )
    vertex_m = circle.radius_m / math.cos(math.pi / CIRCLE_VERTICES)
    for _ in range(_MAX_GROWTH_STEPS):
        lat, lon = destination(circle.lat_deg, circle.lon_deg, bearings, vertex_m)
        polygon = Polygon(np.column_stack([lon, lat]))
        vertex_m *= 1.0 + _GROWTH_STEP
        if bool(np.all(shapely.contains_xy(polygon, sample_lon, sample_lat))):
            break
    lat, lon = destination(circle.lat_deg, circle.lon_deg, bearings, vertex_m)
    return Polygon(np.column_stack([lon, lat]))


def activity_pieces(activity: Activity) -> tuple[Piece, ...]:
    """The 4D pieces an activity occupies (call after validation)."""
    pieces: list[Piece] = []
    for volume in activity.volumes:
        area = volume.area
        polygon = circle_polygon(area) if isinstance(area, Circle) else area
        band = volume.altitude
        pieces.append(Piece(polygon, band.lower_ft, band.upper_ft, volume.start_s, volume.end_s))
    route = activity.route
    if route is not None:
        legs: list[BaseGeometry] = []
        for first, second in zip(route.waypoints, route.waypoints[1:], strict=False):
            start, end = (first.lon_deg, first.lat_deg), (second.lon_deg, second.lat_deg)
            legs.append(Point(start) if start == end else LineString([start, end]))
        band = route.altitude
        corridors = buffered_all(legs, route.half_width_m)
        for corridor, first, second in zip(corridors, route.waypoints, route.waypoints[1:], strict=False):
            pieces.append(Piece(corridor, band.lower_ft, band.upper_ft, first.time_s, second.time_s))
    return tuple(pieces)


def zone_area(zone: Zone) -> BaseGeometry:
    """The area a zone covers in lon/lat, within [-180, 180]: lines and points grown by their
    ``buffer_m``.

    Zones, unlike activities, may cross ±180° (edges run the short way round) and reach the poles:
    each part is drawn with continuous longitudes (``unwrapped``) and what lies past ±180° is moved
    back a whole turn (``split_at_antimeridian``), so a zone from 179.5° to -179.5° is that small
    area, not the band round the world between. A polygon whose ring goes round a pole is drawn as
    the polar cap from its lowest (highest) vertex to the pole, which holds it (over-reaching, as
    ``_polar_capped`` does)."""
    geometry = zone.geometry
    polygons = shapely.get_parts(geometry) if geometry.geom_type in ("Polygon", "MultiPolygon") else []
    caps = [_pole_cap(polygon) for polygon in polygons if winds_round_a_pole(polygon.exterior)]
    if caps:
        others = [_as_drawn(polygon) for polygon in polygons if not winds_round_a_pole(polygon.exterior)]
        geometry = shapely.union_all([*caps, *others])
    else:
        geometry = _as_drawn(geometry)
    if geometry.geom_type in ("Polygon", "MultiPolygon") and zone.buffer_m <= 0:
        return split_at_antimeridian(geometry)
    return split_at_antimeridian(buffered_lonlat(geometry, zone.buffer_m))


#: Longest edge, metres, of a zone's shape as the strategic check draws it in lon/lat (``_as_drawn``).
ZONE_EDGE_STEP_M = 5_000.0


def _as_drawn(geometry: BaseGeometry) -> BaseGeometry:
    """``geometry`` with its edges as the zone watch draws them (straight in the zone's plane, the
    short way round), cut into steps of ``ZONE_EDGE_STEP_M`` so that the straight lon/lat edges
    between them stay close to that; longitudes continuous (``unwrapped``)."""
    if geometry.geom_type in ("Point", "MultiPoint"):
        return unwrapped(geometry)
    plane = plane_for(geometry)
    return unwrapped(to_lonlat(shapely.segmentize(to_plane(geometry, plane), ZONE_EDGE_STEP_M), plane))


def _pole_cap(polygon: Polygon) -> Polygon:
    """The cap over every longitude from ``polygon``'s farthest vertex to the pole its ring goes round
    (the pole on the side of its centre)."""
    lats = shapely.get_coordinates(polygon.exterior)[:, 1]
    if geometry_center(polygon)[0] >= 0.0:
        return shapely.box(-180.0, float(lats.min()), 180.0, 90.0)
    return shapely.box(-180.0, -90.0, 180.0, float(lats.max()))
