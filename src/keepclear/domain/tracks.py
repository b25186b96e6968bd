"""Track reports: one position of one unit at one time."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.errors import Problem, ProblemCode


@dataclass(frozen=True, slots=True)
class TrackReport:
    """One position of one unit.

    Time is seconds since the Unix epoch (UTC); altitude is metres above mean sea level;
    velocity is east, north and up components in metres per second.
    """

    unit_id: str
    time_s: float
    lat_deg: float
    lon_deg: float
    alt_m: float
    vel_east_mps: float
    vel_north_mps: float
    vel_up_mps: float = 0.0


#: The numeric fields of a report, in the order columnar batches and the track table keep them.
TRACK_COLUMNS = ("time_s", "lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")

#: Faster than anything that flies in these theatres; a report above it is a feed error.
MAX_SPEED_MPS = 1500.0
#: Altitudes outside this band (metres) are feed errors, not positions.
MIN_ALT_M = -1000.0
MAX_ALT_M = 40000.0
_RANGE = ProblemCode.OUT_OF_RANGE


def track_report_problems(report: TrackReport) -> list[str]:
    """List what is wrong with ``report`` (empty when it may enter the track table).

    Non-finite numbers, out-of-range latitude/longitude/altitude and impossible speeds are refused,
    never clamped: a silent fix would hide a broken feed. Each is a ``Problem`` naming its field, coded
    ``not_finite`` or ``out_of_range``.

    >>> track_report_problems(TrackReport("u1", 0.0, 91.0, 0.0, 0.0, 0.0, 0.0))
    ['lat_deg: 91.0 is outside [-90, 90]']
    """
    problems: list[str] = []
    for field in TRACK_COLUMNS:
        value = getattr(report, field)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            problems.append(Problem(field, ProblemCode.NOT_FINITE, f"{value!r} is not a finite number"))
    if problems:
        return problems
    if not -90.0 <= report.lat_deg <= 90.0:
        problems.append(Problem("lat_deg", _RANGE, f"{report.lat_deg!r} is outside [-90, 90]"))
    if not -180.0 <= report.lon_deg <= 180.0:
        problems.append(Problem("lon_deg", _RANGE, f"{report.lon_deg!r} is outside [-180, 180]"))
    if not MIN_ALT_M <= report.alt_m <= MAX_ALT_M:
        problems.append(Problem("alt_m", _RANGE, f"{report.alt_m!r} is outside [{MIN_ALT_M:g}, {MAX_ALT_M:g}]"))
    speed_mps = math.hypot(report.vel_east_mps, report.vel_north_mps, report.vel_up_mps)
    if not speed_mps <= MAX_SPEED_MPS:
        problems.append(Problem("velocity", _RANGE, f"speed {speed_mps:.1f} m/s exceeds {MAX_SPEED_MPS:g} m/s"))
    if report.time_s < 0:
        problems.append(Problem("time_s", _RANGE, f"{report.time_s!r} is before 1970"))
    return problems


def track_columns_valid(
    time_s: npt.NDArray[np.float64],
    lat_deg: npt.NDArray[np.float64],
    lon_deg: npt.NDArray[np.float64],
    alt_m: npt.NDArray[np.float64],
    vel_east_mps: npt.NDArray[np.float64],
    vel_north_mps: npt.NDArray[np.float64],
    vel_up_mps: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """For columns of reports, True where ``track_report_problems`` would find nothing.

    The same rules, vectorised for batch ingest; a property test pins the two together. Call
    ``track_report_problems`` on the rows that are False to say why.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        columns = np.vstack([time_s, lat_deg, lon_deg, alt_m, vel_east_mps, vel_north_mps, vel_up_mps])
        ok = np.all(np.isfinite(columns), axis=0)
        ok &= (lat_deg >= -90.0) & (lat_deg <= 90.0)
        ok &= (lon_deg >= -180.0) & (lon_deg <= 180.0)
        ok &= (alt_m >= MIN_ALT_M) & (alt_m <= MAX_ALT_M)
        ok &= np.hypot(np.hypot(vel_east_mps, vel_north_mps), vel_up_mps) <= MAX_SPEED_MPS
        ok &= time_s >= 0
    return np.asarray(ok, dtype=np.bool_)
