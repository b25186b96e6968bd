"""Candidate culling: a hashed grid over each unit's swept volume, so work grows with nearby pairs.

Every unit sweeps, over the lookahead, a segment in earth-centred coordinates (its horizontal
motion) and an altitude interval. Both are boxed, grown by half the minima plus the most two
tangent-plane paths can leave their common plane, and the box is entered in every grid cell it
touches (three ECEF axes plus altitude). Two units can only conflict if their boxes share a cell.
A pair is examined once, in the first cell of the intersection of its two boxes: that cell is,
on every axis, the first cell of one of the two boxes, which a 4-bit mask per entry tells without
looking at the units. The exact test is ``pairsolve.solve_pair``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit
from keepclear.detect.pairsolve import solve_pair

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Smallest earth radius of curvature (metres), used to bound how far two tangent-plane paths
#: leave the pair's common plane (the part of ECEF distance that is not horizontal distance).
_MIN_RADIUS_M = 6.3e6
#: Boxes are clipped to these bounds before gridding (clipping keeps every overlap).
_ECEF_BOUND_M = 1.2e7
_ALT_LO_M = -5_000.0
_ALT_HI_M = 100_000.0
#: Smallest cell sizes, so that every cell index fits its bits in the 64-bit key.
MIN_CELL_M = 1_000.0
MIN_CELL_ALT_M = 1.0
_OFF_XYZ = 16384
_OFF_ALT = 1 << 18


@jit
def _mix(key: int) -> int:
    h = key * -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed 64-bit integer
    return h ^ (h >> 29)


@jit
def _clip(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


@jit
def detect_grid(
    pos: FloatArray,
    vel: FloatArray,
    up: FloatArray,
    alt_m: FloatArray,
    vel_up_mps: FloatArray,
    party: IntArray,
    domain: IntArray,
    rows: IntArray,
    domain_a: int,
    domain_b: int,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
    cell_m: float,
    cell_alt_m: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """All conflicts among ``rows`` between a unit of ``domain_a`` and one of ``domain_b``.

    Returns row pairs ``(i, j)`` with ``i < j`` and an ``(k, 6)`` array of
    ``t_in_s, t_out_s, tcpa_s, dcpa_m, vsep_cpa_m, los`` (see ``solve_pair``).
    """
    n = rows.shape[0]
    t = lookahead_s
    cell_m = max(cell_m, MIN_CELL_M)
    cell_alt_m = max(cell_alt_m, MIN_CELL_ALT_M)
    use_alt = not math.isinf(vertical_m)
    reach_max_m = 0.0
    for k in range(n):
        r = rows[k]
        reach_max_m = max(reach_max_m, math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t)
    lo = np.empty((n, 4))
    hi = np.empty((n, 4))
    c0 = np.empty((n, 4), dtype=np.int64)
    c1 = np.empty((n, 4), dtype=np.int64)
    total = 0
    for k in range(n):
        r = rows[k]
        reach_m = math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t
        # Out-of-plane offset of a pair within reach: at most (reach_i + reach_j)(R + 2 U) / 2 Re.
        margin = 0.5 * horizontal_m + reach_m * (horizontal_m + 2.0 * reach_max_m) / (2.0 * _MIN_RADIUS_M) + 50.0
        cells = 1
        for ax in range(3):
            p0 = pos[r, ax]
            p1 = p0 + vel[r, ax] * t
            lo[k, ax] = _clip(min(p0, p1) - margin, -_ECEF_BOUND_M, _ECEF_BOUND_M)
            hi[k, ax] = _clip(max(p0, p1) + margin, -_ECEF_BOUND_M, _ECEF_BOUND_M)
            c0[k, ax] = int(math.floor(lo[k, ax] / cell_m))
            c1[k, ax] = int(math.floor(hi[k, ax] / cell_m))
            cells *= c1[k, ax] - c0[k, ax] + 1
        if use_alt:
            a0 = alt_m[r]
            a1 = a0 + vel_up_mps[r] * t
            lo[k, 3] = _clip(min(a0, a1) - 0.5 * vertical_m - 1e-6, _ALT_LO_M, _ALT_HI_M)
            hi[k, 3] = _clip(max(a0, a1) + 0.5 * vertical_m + 1e-6, _ALT_LO_M, _ALT_HI_M)
            c0[k, 3] = int(math.floor(lo[k, 3] / cell_alt_m))
            c1[k, 3] = int(math.floor(hi[k, 3] / cell_alt_m))
            cells *= c1[k, 3] - c0[k, 3] + 1
        else:
            lo[k, 3] = -math.inf
            hi[k, 3] = math.inf
            c0[k, 3] = 0
            c1[k, 3] = 0
        total += cells
    nb = 1
    while nb < total:
        nb *= 2
    mask = nb - 1
    # Entries (cell key, unit, first-cell mask), then a counting sort by hashed key.
    e_key = np.empty(total, dtype=np.int64)
    e_unit = np.empty(total, dtype=np.int32)
    e_first = np.empty(total, dtype=np.uint8)
    counts = np.zeros(nb + 1, dtype=np.int64)
    e = 0
    for k in range(n):
        for cx in range(c0[k, 0], c1[k, 0] + 1):
            fx = 1 if cx == c0[k, 0] else 0
            kx = (cx + _OFF_XYZ) << 49
            for cy in range(c0[k, 1], c1[k, 1] + 1):
                fy = 2 if cy == c0[k, 1] else 0
                ky = kx | ((cy + _OFF_XYZ) << 34)
                for cz in range(c0[k, 2], c1[k, 2] + 1):
                    fz = 4 if cz == c0[k, 2] else 0
                    kz = ky | ((cz + _OFF_XYZ) << 19)
                    for ca in range(c0[k, 3], c1[k, 3] + 1):
                        fa = 8 if ca == c0[k, 3] else 0
                        key = kz | (ca + _OFF_ALT)
                        e_key[e] = key
                        e_unit[e] = k
                        e_first[e] = fx | fy | fz | fa
                        counts[(_mix(key) & mask) + 1] += 1
                        e += 1
    for b in range(nb):
        counts[b + 1] += counts[b]
    s_key = np.empty(total, dtype=np.int64)
    s_unit = np.empty(total, dtype=np.int32)
    s_first = np.empty(total, dtype=np.uint8)
    s_party = np.empty(total, dtype=np.int64)
    fill = counts[:-1].copy()
    for e in range(total):
        b = _mix(e_key[e]) & mask
        d = fill[b]
        fill[b] = d + 1
        s_key[d] = e_key[e]
        s_unit[d] = e_unit[e]
        s_first[d] = e_first[e]
        s_party[d] = party[rows[e_unit[e]]]
    cap = 1024
    out_i = np.empty(cap, dtype=np.int64)
    out_j = np.empty(cap, dtype=np.int64)
    out_v = np.empty((cap, 6))
    found = 0
    buf = np.empty(6)
    cross = domain_a != domain_b
    for b in range(nb):
        s = counts[b]
        f = counts[b + 1]
        for p in range(s, f):
            key_p = s_key[p]
            first_p = s_first[p]
            party_p = s_party[p]
            kp = s_unit[p]
            for q in range(p + 1, f):
                if s_key[q] != key_p or (first_p | s_first[q]) != 15 or s_party[q] == party_p:
                    continue
                kq = s_unit[q]
                if (
                    lo[kp, 0] > hi[kq, 0]
                    or lo[kq, 0] > hi[kp, 0]
                    or lo[kp, 1] > hi[kq, 1]
                    or lo[kq, 1] > hi[kp, 1]
                    or lo[kp, 2] > hi[kq, 2]
                    or lo[kq, 2] > hi[kp, 2]
                    or lo[kp, 3] > hi[kq, 3]
                    or lo[kq, 3] > hi[kp, 3]
                ):
                    continue
                rp = rows[kp]
                rq = rows[kq]
                if cross and domain[rp] == domain[rq]:
                    continue
                i = min(rp, rq)
                j = max(rp, rq)
                if not solve_pair(pos, vel, up, alt_m, vel_up_mps, i, j, horizontal_m, vertical_m, t, buf):
                    continue
                if found == cap:
                    cap *= 2
                    ni = np.empty(cap, dtype=np.int64)
                    nj = np.empty(cap, dtype=np.int64)
                    nv = np.empty((cap, 6))
                    ni[:found] = out_i[:found]
                    nj[:found] = out_j[:found]
                    nv[:found] = out_v[:found]
                    out_i, out_j, out_v = ni, nj, nv
                out_i[found] = i
                out_j[found] = j
                out_v[found, :] = buf
                found += 1
    return out_i[:found].copy(), out_j[:found].copy(), out_v[:found].copy()
