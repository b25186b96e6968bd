"""Activities and zones as 4D pieces: lon/lat polygons with an altitude band and a time window.

A volume is one piece; a route is one piece per leg (the corridor around the leg, occupied from
the time of its first waypoint to the time of its second). Circles are drawn with exact geodesics;
corridors and buffers are drawn in a local frame scaled by the WGS-84 radii of curvature at the
shape's centre (a few metres off at 100 km from the centre, which buffers of hundreds of metres
absorb) because building a projection per shape would cost milliseconds each. Shapes crossing
the antimeridian are not supported (theatres are regional).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from keepclear.domain.activities import Activity, Circle
from keepclear.domain.zones import Zone
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2, destination

#: Vertices of a drawn circle.
CIRCLE_VERTICES = 64


@dataclass(frozen=True, slots=True)
class Piece:
    """A lon/lat polygon occupied within ``[lower_ft, upper_ft]`` during ``[start_s, end_s)``."""

    geometry: BaseGeometry
    lower_ft: float
    upper_ft: float
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """x east, y north metres around (``lat0_deg``, ``lon0_deg``), linear in degrees.

    >>> frame = LocalFrame.at(35.0, 38.0)
    >>> round(frame.metres_per_deg_lat)
    110951
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

    def to_lonlat(self, geometry: BaseGeometry) -> BaseGeometry:
        """``geometry`` in frame metres back to lon/lat."""
        lon0, lat0, kx, ky = self.lon0_deg, self.lat0_deg, self.metres_per_deg_lon, self.metres_per_deg_lat
        return shapely.transform(geometry, lambda c: np.column_stack([c[:, 0] / kx + lon0, c[:, 1] / ky + lat0]))


def frame_for(geometry: BaseGeometry) -> LocalFrame:
    """The local frame centred on the middle of ``geometry``'s bounding box."""
    min_lon, min_lat, max_lon, max_lat = shapely.bounds(geometry).tolist()
    return LocalFrame.at((min_lat + max_lat) / 2.0, (min_lon + max_lon) / 2.0)


def buffered_lonlat(geometry: BaseGeometry, distance_m: float) -> BaseGeometry:
    """``geometry`` grown by ``distance_m`` metres, returned in lon/lat (``geometry`` itself at 0)."""
    if distance_m <= 0:
        return geometry
    frame = frame_for(geometry)
    return frame.to_lonlat(frame.to_xy(geometry).buffer(distance_m, quad_segs=8))


def circle_polygon(circle: Circle) -> Polygon:
    """The circle as a polygon of geodesic points ``radius_m`` from the centre."""
    bearings = np.linspace(0.0, 360.0, CIRCLE_VERTICES, endpoint=False)
    lat, lon = destination(circle.lat_deg, circle.lon_deg, bearings, circle.radius_m)
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
        points = [(wp.lon_deg, wp.lat_deg) for wp in route.waypoints]
        frame = frame_for(LineString(points))
        for first, second in zip(route.waypoints, route.waypoints[1:], strict=False):
            leg = LineString([(first.lon_deg, first.lat_deg), (second.lon_deg, second.lat_deg)])
            if leg.length == 0:
                leg_xy: BaseGeometry = frame.to_xy(Point(first.lon_deg, first.lat_deg))
            else:
                leg_xy = frame.to_xy(leg)
            corridor = frame.to_lonlat(leg_xy.buffer(route.half_width_m, quad_segs=8))
            band = route.altitude
            pieces.append(Piece(corridor, band.lower_ft, band.upper_ft, first.time_s, second.time_s))
    return tuple(pieces)


def zone_area(zone: Zone) -> BaseGeometry:
    """The area a zone covers in lon/lat: lines and points grown by their ``buffer_m``."""
    if zone.geometry.geom_type in ("Polygon", "MultiPolygon") and zone.buffer_m <= 0:
        return zone.geometry
    return buffered_lonlat(zone.geometry, zone.buffer_m)
