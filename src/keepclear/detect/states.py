"""Unit states as columns: what the probe reads, whatever the source (track table, CSV, replay).

Positions are geodetic (degrees, metres above mean sea level), velocities east/north/up in m/s,
times in seconds since the epoch. Parties and domains are small integer codes; ``unit_ids`` maps a
row back to its unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TrackStates:
    """One row per unit: its latest state. All arrays have the same length."""

    unit_ids: tuple[str, ...]
    party: IntArray
    domain: IntArray
    time_s: FloatArray
    lat_deg: FloatArray
    lon_deg: FloatArray
    alt_m: FloatArray
    vel_east_mps: FloatArray
    vel_north_mps: FloatArray
    vel_up_mps: FloatArray

    def __len__(self) -> int:
        return len(self.unit_ids)

    def check(self) -> list[str]:
        """Problems with the columns themselves: lengths and non-finite values (empty when sound)."""
        n = len(self.unit_ids)
        problems: list[str] = []
        for name in (
            "party",
            "domain",
            "time_s",
            "lat_deg",
            "lon_deg",
            "alt_m",
            "vel_east_mps",
            "vel_north_mps",
            "vel_up_mps",
        ):
            column = getattr(self, name)
            if column.shape != (n,):
                problems.append(f"{name}: has shape {column.shape}, expected ({n},)")
            elif column.dtype.kind == "f" and not bool(np.all(np.isfinite(column))):
                problems.append(f"{name}: row {int(np.argmin(np.isfinite(column)))} is not finite")
        return problems


def states_from_track(
    unit_ids: tuple[str, ...],
    party: IntArray,
    domain: IntArray,
    time_s: FloatArray,
    lat_deg: FloatArray,
    lon_deg: FloatArray,
    alt_m: FloatArray,
    ground_speed_mps: FloatArray,
    track_deg: FloatArray,
    vertical_speed_mps: FloatArray,
) -> TrackStates:
    """States from ground speed and track angle (degrees clockwise from true north)."""
    trk = np.radians(track_deg)
    return TrackStates(
        unit_ids,
        party,
        domain,
        time_s,
        lat_deg,
        lon_deg,
        alt_m,
        ground_speed_mps * np.sin(trk),
        ground_speed_mps * np.cos(trk),
        np.asarray(vertical_speed_mps, dtype=np.float64),
    )


@dataclass(frozen=True, slots=True)
class Kinematics:
    """States at one probe time in earth-centred, earth-fixed metres: what the detectors compute on.

    ``pos_*`` is the point on the ellipsoid surface below the unit, ``vel_*`` its horizontal
    velocity as an ECEF vector (tangent at that point), ``up_*`` the unit normal there; altitude
    and vertical speed stay apart. There is no singularity anywhere: poles and the antimeridian
    are ordinary points.
    """

    pos: FloatArray  # (n, 3)
    vel: FloatArray  # (n, 3)
    up: FloatArray  # (n, 3)
    alt_m: FloatArray
    vel_up_mps: FloatArray


@jit
def _kinematics(
    lat_deg: FloatArray,
    lon_deg: FloatArray,
    alt_m: FloatArray,
    vel_east_mps: FloatArray,
    vel_north_mps: FloatArray,
    vel_up_mps: FloatArray,
    report_s: FloatArray,
    time_s: float,
    pos: FloatArray,
    vel: FloatArray,
    up: FloatArray,
    alt: FloatArray,
) -> None:
    for k in range(lat_deg.shape[0]):
        lat = math.radians(lat_deg[k])
        lon = math.radians(lon_deg[k])
        sin_lat, cos_lat = math.sin(lat), math.cos(lat)
        sin_lon, cos_lon = math.sin(lon), math.cos(lon)
        radius = WGS84_A_M / math.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
        ve, vn = vel_east_mps[k], vel_north_mps[k]
        vel[k, 0] = -sin_lon * ve - sin_lat * cos_lon * vn
        vel[k, 1] = cos_lon * ve - sin_lat * sin_lon * vn
        vel[k, 2] = cos_lat * vn
        dt = time_s - report_s[k]
        pos[k, 0] = radius * cos_lat * cos_lon + vel[k, 0] * dt
        pos[k, 1] = radius * cos_lat * sin_lon + vel[k, 1] * dt
        pos[k, 2] = radius * (1.0 - WGS84_E2) * sin_lat + vel[k, 2] * dt
        up[k, 0] = cos_lat * cos_lon
        up[k, 1] = cos_lat * sin_lon
        up[k, 2] = sin_lat
        alt[k] = alt_m[k] + vel_up_mps[k] * dt


def kinematics_at(states: TrackStates, time_s: float) -> Kinematics:
    """Each unit extrapolated in a straight line from its report to ``time_s``.

    The arrays come from numpy (huge pages for large ones), the compiled loop fills them.
    """
    n = len(states.lat_deg)
    pos, vel, up, alt = np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 3)), np.empty(n)
    _kinematics(
        np.ascontiguousarray(states.lat_deg, dtype=np.float64),
        np.ascontiguousarray(states.lon_deg, dtype=np.float64),
        np.ascontiguousarray(states.alt_m, dtype=np.float64),
        np.ascontiguousarray(states.vel_east_mps, dtype=np.float64),
        np.ascontiguousarray(states.vel_north_mps, dtype=np.float64),
        np.ascontiguousarray(states.vel_up_mps, dtype=np.float64),
        np.ascontiguousarray(states.time_s, dtype=np.float64),
        float(time_s),
        pos,
        vel,
        up,
        alt,
    )
    return Kinematics(pos, vel, up, alt, np.array(states.vel_up_mps, dtype=np.float64))
