"""Geodesy on WGS-84 and geometry in local projected planes.

Angles are degrees unless a name says radians; distances are metres.

The names below load on first use (PEP 562), so that a module needing only the ellipsoid's constants
(the numpy probe) does not import pyproj and shapely.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each public name lives.
_HOMES = {
    **dict.fromkeys(
        ("bearing_deg", "destination", "distance_m", "ecef_from_geodetic", "fast_distance_m", "wrap_lon_deg"),
        "keepclear.geo.geodesy",
    ),
    "LocalPlane": "keepclear.geo.plane",
    **dict.fromkeys(("buffer_m", "geometry_center", "plane_for", "to_lonlat", "to_plane"), "keepclear.geo.shapes"),
}


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first access."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'keepclear.geo' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


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
