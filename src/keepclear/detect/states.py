"""Unit states as columns: what the probe reads, whatever the source (track table, CSV, replay).

Positions are geodetic (degrees, metres above mean sea level), velocities east/north/up in m/s,
times in seconds since the epoch. Parties and domains are small integer codes; ``unit_ids`` maps a
row back to its unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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


def kinematics_at(states: TrackStates, time_s: float) -> Kinematics:
    """Each unit extrapolated in a straight line from its report to ``time_s``."""
    lat = np.radians(states.lat_deg)
    lon = np.radians(states.lon_deg)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    sin_lon, cos_lon = np.sin(lon), np.cos(lon)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    up = np.column_stack([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat])
    east = np.column_stack([-sin_lon, cos_lon, np.zeros_like(lon)])
    north = np.column_stack([-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat])
    pos = np.column_stack([n * cos_lat * cos_lon, n * cos_lat * sin_lon, n * (1.0 - WGS84_E2) * sin_lat])
    vel = east * states.vel_east_mps[:, None] + north * states.vel_north_mps[:, None]
    dt = time_s - states.time_s
    pos = pos + vel * dt[:, None]
    alt = states.alt_m + states.vel_up_mps * dt
    return Kinematics(
        np.ascontiguousarray(pos), np.ascontiguousarray(vel), np.ascontiguousarray(up), alt, states.vel_up_mps.copy()
    )
