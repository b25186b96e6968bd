"""Unit states as columns: what the probe reads, whatever the source (track table, CSV, replay).

Positions are geodetic (degrees, metres above mean sea level), velocities east/north/up in m/s,
times in seconds since the epoch. Parties and domains are small integer codes; ``unit_ids`` maps a
row back to its unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
