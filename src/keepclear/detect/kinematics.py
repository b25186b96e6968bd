"""States extrapolated to the probe time in earth-centred metres, by a compiled loop (numba).

Apart from ``states`` so that reading states (a CSV, the numpy probe) does not load numba.
"""

from __future__ import annotations

import math

import numpy as np

from keepclear.detect._jit import jit
from keepclear.detect.states import FloatArray, Kinematics, TrackStates
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2


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
