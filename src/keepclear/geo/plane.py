"""A local tangent plane: azimuthal equidistant projection centred on a point of interest.

Distances and bearings from the centre are exact; between two points within a few hundred
kilometres of the centre they are close (see the property tests for the tolerance). The centre may
be anywhere, poles and antimeridian included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS, Transformer

from keepclear.geo.geodesy import ArrayLike, FloatArray, wrap_lon_deg


@dataclass(frozen=True)
class LocalPlane:
    """x east and y north in metres around (``lat0_deg``, ``lon0_deg``)."""

    lat0_deg: float
    lon0_deg: float
    _forward: Transformer = field(init=False, repr=False, compare=False)
    _inverse: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        crs = CRS.from_proj4(
            f"+proj=aeqd +lat_0={self.lat0_deg!r} +lon_0={self.lon0_deg!r} +datum=WGS84 +units=m +no_defs"
        )
        object.__setattr__(self, "_forward", Transformer.from_crs("EPSG:4326", crs, always_xy=True))
        object.__setattr__(self, "_inverse", Transformer.from_crs(crs, "EPSG:4326", always_xy=True))

    def to_xy(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Project geodetic points to (x_east_m, y_north_m)."""
        x, y = self._forward.transform(np.asarray(lon_deg, dtype=np.float64), np.asarray(lat_deg, dtype=np.float64))
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_latlon(self, x_east_m: ArrayLike, y_north_m: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Back from the plane to (lat_deg, lon_deg), longitude in [-180, 180)."""
        lon, lat = self._inverse.transform(
            np.asarray(x_east_m, dtype=np.float64), np.asarray(y_north_m, dtype=np.float64)
        )
        return np.asarray(lat, dtype=np.float64), wrap_lon_deg(lon)
