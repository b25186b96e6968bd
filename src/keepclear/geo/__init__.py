"""Geodesy on WGS-84 and geometry in local projected planes.

Angles are degrees unless a name says radians; distances are metres.
"""

from keepclear.geo.geodesy import (
    bearing_deg,
    destination,
    distance_m,
    ecef_from_geodetic,
    fast_distance_m,
    wrap_lon_deg,
)
from keepclear.geo.plane import LocalPlane
from keepclear.geo.shapes import buffer_m, geometry_center, plane_for, to_lonlat, to_plane

__all__ = [
    "LocalPlane",
    "bearing_deg",
    "buffer_m",
    "destination",
    "distance_m",
    "ecef_from_geodetic",
    "fast_distance_m",
    "geometry_center",
    "plane_for",
    "to_lonlat",
    "to_plane",
    "wrap_lon_deg",
]
