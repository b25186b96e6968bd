"""Exact straight-line conflict geometry for one pair of units (jitted, used by every detector).

Horizontal motion is taken in the tangent plane at the pair's midpoint: the ECEF separation and
relative velocity lose their component along the mean normal. Vertical motion is altitude plus
vertical speed. Separation is lost while horizontal distance < ``horizontal_m`` AND vertical
distance < ``vertical_m`` (``inf``: no vertical criterion). No division by a small number, so
identical velocities, stationary units and co-altitude pairs are exact; no NaN can come out.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit

FloatArray = npt.NDArray[np.float64]

#: Below this squared relative horizontal speed (m²/s²) the pair is treated as moving together.
STILL_MPS2 = 1e-12
#: Below this relative vertical speed (m/s) the vertical distance is treated as constant.
STILL_V_MPS = 1e-9


@jit
def solve_pair(
    pos: FloatArray,
    vel: FloatArray,
    up: FloatArray,
    alt_m: FloatArray,
    vel_up_mps: FloatArray,
    i: int,
    j: int,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
    out: FloatArray,
    row: int,
) -> bool:
    """Conflict between rows ``i`` and ``j`` within ``[0, lookahead_s]``; fills column ``row`` of
    the ``(6, k)`` array ``out`` if any.

    ``out[:, row]`` receives ``t_in_s, t_out_s, tcpa_s, dcpa_m, vsep_cpa_m, los`` with ``t_in``/``t_out``
    clipped to the lookahead, ``tcpa_s`` >= 0 (not clipped) and ``los`` 1.0 when separation is
    already lost now.
    """
    mx = up[i, 0] + up[j, 0]
    my = up[i, 1] + up[j, 1]
    mz = up[i, 2] + up[j, 2]
    mn = math.sqrt(mx * mx + my * my + mz * mz)
    if mn < 1e-9:  # antipodes: never within any minimum
        return False
    mx /= mn
    my /= mn
    mz /= mn
    dx = pos[j, 0] - pos[i, 0]
    dy = pos[j, 1] - pos[i, 1]
    dz = pos[j, 2] - pos[i, 2]
    dn = dx * mx + dy * my + dz * mz
    dx -= dn * mx
    dy -= dn * my
    dz -= dn * mz
    wx = vel[j, 0] - vel[i, 0]
    wy = vel[j, 1] - vel[i, 1]
    wz = vel[j, 2] - vel[i, 2]
    wn = wx * mx + wy * my + wz * mz
    wx -= wn * mx
    wy -= wn * my
    wz -= wn * mz
    a = wx * wx + wy * wy + wz * wz
    b = dx * wx + dy * wy + dz * wz
    c0 = dx * dx + dy * dy + dz * dz
    c = c0 - horizontal_m * horizontal_m
    if a < STILL_MPS2:
        if c >= 0.0:
            return False
        th1 = -math.inf
        th2 = math.inf
        tcpa = 0.0
        dcpa2 = c0
    else:
        disc = b * b - a * c
        if disc <= 0.0:
            return False
        sq = math.sqrt(disc)
        q = -(b + sq) if b > 0.0 else -b + sq
        r1 = q / a
        r2 = c / q
        th1 = min(r1, r2)
        th2 = max(r1, r2)
        tcpa = max(0.0, -b / a)
        dcpa2 = max(0.0, c0 + 2.0 * b * tcpa + a * tcpa * tcpa)
    if th2 <= 0.0 or th1 >= lookahead_s:
        return False
    hz = alt_m[j] - alt_m[i]
    vz = vel_up_mps[j] - vel_up_mps[i]
    if math.isinf(vertical_m):
        tv1 = -math.inf
        tv2 = math.inf
    elif abs(vz) < STILL_V_MPS:
        if abs(hz) >= vertical_m:
            return False
        tv1 = -math.inf
        tv2 = math.inf
    else:
        s1 = (-vertical_m - hz) / vz
        s2 = (vertical_m - hz) / vz
        tv1 = min(s1, s2)
        tv2 = max(s1, s2)
    t_in = max(th1, tv1)
    t_out = min(th2, tv2)
    if not (t_in < t_out and t_out > 0.0 and t_in < lookahead_s):
        return False
    out[0, row] = max(t_in, 0.0)
    out[1, row] = min(t_out, lookahead_s)
    out[2, row] = tcpa
    out[3, row] = math.sqrt(dcpa2)
    out[4, row] = abs(hz + vz * tcpa)
    out[5, row] = 1.0 if t_in < 0.0 else 0.0
    return True
