"""Shapely operations done where metres mean metres: in a local plane around the geometry.

Geometries are stored in longitude/latitude degrees. An edge is taken to run the short way
round, so a polygon drawn across the antimeridian (179.5 then -179.5) is the small polygon,
not the band around the world.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from keepclear.geo.geodesy import ecef_from_geodetic
from keepclear.geo.plane import LocalPlane


def geometry_center(geometry: BaseGeometry) -> tuple[float, float]:
    """(lat_deg, lon_deg) of the mean of the vertices on the ellipsoid: safe across ±180° and poles."""
    coords = shapely.get_coordinates(geometry)
    if len(coords) == 0:
        raise ValueError("empty geometry has no centre")
    x, y, z = ecef_from_geodetic(coords[:, 1], coords[:, 0])
    mx, my, mz = float(np.mean(x)), float(np.mean(y)), float(np.mean(z))
    lon = float(np.degrees(np.arctan2(my, mx)))
    lat = float(np.degrees(np.arctan2(mz, np.hypot(mx, my))))
    return lat, lon


def plane_for(geometry: BaseGeometry) -> LocalPlane:
    """The local plane centred on ``geometry``."""
    lat, lon = geometry_center(geometry)
    return LocalPlane(lat, lon)


def to_plane(geometry: BaseGeometry, plane: LocalPlane) -> BaseGeometry:
    """``geometry`` (lon/lat degrees) in ``plane`` coordinates (metres)."""

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = plane.to_xy(coords[:, 1], coords[:, 0])
        return np.column_stack([x, y])

    return shapely.transform(geometry, project)


def to_lonlat(geometry: BaseGeometry, plane: LocalPlane) -> BaseGeometry:
    """``geometry`` in ``plane`` metres back to lon/lat degrees."""

    def unproject(coords: np.ndarray) -> np.ndarray:
        lat, lon = plane.to_latlon(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, unproject)


def buffer_m(geometry: BaseGeometry, distance_m: float, plane: LocalPlane | None = None) -> BaseGeometry:
    """``geometry`` grown by ``distance_m`` metres, computed in a plane, returned in that plane.

    The result stays in plane metres because buffers are used for measuring and intersecting;
    call ``to_lonlat`` to draw one.
    """
    plane = plane or plane_for(geometry)
    return to_plane(geometry, plane).buffer(distance_m, quad_segs=16)
