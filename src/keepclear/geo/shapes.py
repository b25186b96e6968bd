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


def _unwrapped_part(geometry: BaseGeometry) -> BaseGeometry:
    """One single-part geometry with every longitude moved by whole turns to within 180° of its
    centre's: a shape drawn across ±180° becomes continuous (179.5 then 180.5, not -179.5)."""
    _, ref_lon = geometry_center(geometry)

    def shift(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([ref_lon + (coords[:, 0] - ref_lon + 180.0) % 360.0 - 180.0, coords[:, 1]])

    return shapely.transform(geometry, shift)


def winds_round_a_pole(ring: BaseGeometry) -> bool:
    """Whether a closed ring (lon/lat), its edges taken the short way round, goes once round a pole:
    its longitudes then turn a whole 360° and no shift by whole turns makes it continuous."""
    lons = shapely.get_coordinates(ring)[:, 0]
    steps = (np.diff(lons) + 180.0) % 360.0 - 180.0
    return bool(abs(float(np.sum(steps))) > 180.0)


def unwrapped(geometry: BaseGeometry) -> BaseGeometry:
    """``geometry`` (lon/lat) with each part's longitudes made continuous around the part's centre,
    so that a part across ±180° is drawn as the small shape it is, with longitudes past ±180°
    (``split_at_antimeridian`` brings the drawing back). Not for rings round a pole
    (``winds_round_a_pole``): no longitudes make those continuous."""
    if geometry.is_empty:
        return geometry
    if geometry.geom_type.startswith("Multi") or geometry.geom_type == "GeometryCollection":
        parts = [_unwrapped_part(part) for part in shapely.get_parts(geometry)]
        return type(geometry)(parts) if geometry.geom_type.startswith("Multi") else shapely.GeometryCollection(parts)
    return _unwrapped_part(geometry)


def split_at_antimeridian(area: BaseGeometry) -> BaseGeometry:
    """A lon/lat area drawn with longitudes past ±180° (``unwrapped``) as the same area within
    [-180, 180]: what lies past either side moved back by a whole turn. An area within the range is
    returned as it is."""
    if area.is_empty:
        return area
    min_lon, _, max_lon, _ = shapely.bounds(area).tolist()
    if min_lon >= -180.0 and max_lon <= 180.0:
        return area
    first, last = int(np.floor((min_lon + 180.0) / 360.0)), int(np.ceil((max_lon - 180.0) / 360.0))
    parts = []
    for turn in range(first, last + 1):
        window = shapely.box(-180.0 + 360.0 * turn, -90.0, 180.0 + 360.0 * turn, 90.0)
        pieces = shapely.get_parts(shapely.intersection(area, window))
        # where the area only touches the window's side, the intersection holds a line: no area
        for piece in pieces[shapely.area(pieces) > 0.0] if area.area > 0.0 else pieces:
            parts.append(shapely.transform(piece, lambda c, k=turn: c - np.array([360.0 * k, 0.0])))
    return shapely.union_all(parts)
