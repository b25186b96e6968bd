"""Candidate culling: a hashed grid over each unit's swept volume, so work grows with nearby pairs.

Every unit sweeps, over the lookahead, a segment in earth-centred coordinates (its horizontal
motion) and an altitude interval. Both are boxed, grown by half the minima plus the sag of a
straight line below the curved earth, and the box is entered in every grid cell it touches
(three ECEF axes plus altitude). Two units can only conflict if their boxes share a cell; each
pair is examined once, in the first cell of the intersection of the two boxes. The exact test is
``pairsolve.solve_pair``.
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


@jit
def _hash4(cx: int, cy: int, cz: int, ca: int, mask: int) -> int:
    h = (cx * 73856093) ^ (cy * 19349663) ^ (cz * 83492791) ^ (ca * 2654435761)
    h ^= h >> 17
    return h & mask


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
    use_alt = not math.isinf(vertical_m)
    lo = np.empty((n, 4))
    hi = np.empty((n, 4))
    c0 = np.empty((n, 4), dtype=np.int64)
    c1 = np.empty((n, 4), dtype=np.int64)
    total = 0
    reach_max_m = 0.0
    for k in range(n):
        r = rows[k]
        reach_max_m = max(reach_max_m, math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t)
    for k in range(n):
        r = rows[k]
        reach_m = math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t
        # Out-of-plane offset of a pair within reach: at most (reach_i + reach_j)(R + 2 U) / 2 Re.
        margin = 0.5 * horizontal_m + reach_m * (horizontal_m + 2.0 * reach_max_m) / (2.0 * _MIN_RADIUS_M) + 50.0
        cells = 1
        for ax in range(3):
            p0 = pos[r, ax]
            p1 = p0 + vel[r, ax] * t
            lo[k, ax] = min(p0, p1) - margin
            hi[k, ax] = max(p0, p1) + margin
            c0[k, ax] = int(math.floor(lo[k, ax] / cell_m))
            c1[k, ax] = int(math.floor(hi[k, ax] / cell_m))
            cells *= c1[k, ax] - c0[k, ax] + 1
        if use_alt:
            a0 = alt_m[r]
            a1 = a0 + vel_up_mps[r] * t
            lo[k, 3] = min(a0, a1) - 0.5 * vertical_m - 1e-6
            hi[k, 3] = max(a0, a1) + 0.5 * vertical_m + 1e-6
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
    while nb < 2 * total:
        nb *= 2
    mask = nb - 1
    # Entries: (bucket, unit, cell). Counting sort by bucket.
    e_bucket = np.empty(total, dtype=np.int64)
    e_unit = np.empty(total, dtype=np.int32)
    e_cell = np.empty((total, 4), dtype=np.int64)
    e = 0
    for k in range(n):
        for cx in range(c0[k, 0], c1[k, 0] + 1):
            for cy in range(c0[k, 1], c1[k, 1] + 1):
                for cz in range(c0[k, 2], c1[k, 2] + 1):
                    for ca in range(c0[k, 3], c1[k, 3] + 1):
                        e_bucket[e] = _hash4(cx, cy, cz, ca, mask)
                        e_unit[e] = k
                        e_cell[e, 0] = cx
                        e_cell[e, 1] = cy
                        e_cell[e, 2] = cz
                        e_cell[e, 3] = ca
                        e += 1
    start = np.zeros(nb + 1, dtype=np.int64)
    for e in range(total):
        start[e_bucket[e] + 1] += 1
    for b in range(nb):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    order = np.empty(total, dtype=np.int64)
    for e in range(total):
        b = e_bucket[e]
        order[fill[b]] = e
        fill[b] += 1
    cap = 1024
    out_i = np.empty(cap, dtype=np.int64)
    out_j = np.empty(cap, dtype=np.int64)
    out_v = np.empty((cap, 6))
    found = 0
    buf = np.empty(6)
    cross = domain_a != domain_b
    for b in range(nb):
        s = start[b]
        f = start[b + 1]
        for p in range(s, f):
            ep = order[p]
            kp = e_unit[ep]
            rp = rows[kp]
            for q in range(p + 1, f):
                eq = order[q]
                if (
                    e_cell[ep, 0] != e_cell[eq, 0]
                    or e_cell[ep, 1] != e_cell[eq, 1]
                    or e_cell[ep, 2] != e_cell[eq, 2]
                    or e_cell[ep, 3] != e_cell[eq, 3]
                ):
                    continue
                kq = e_unit[eq]
                rq = rows[kq]
                if party[rp] == party[rq]:
                    continue
                if cross and domain[rp] == domain[rq]:
                    continue
                overlap = True
                for ax in range(4):
                    if lo[kp, ax] > hi[kq, ax] or lo[kq, ax] > hi[kp, ax]:
                        overlap = False
                        break
                if not overlap:
                    continue
                first = True
                for ax in range(4):
                    if max(c0[kp, ax], c0[kq, ax]) != e_cell[ep, ax]:
                        first = False
                        break
                if not first:
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
