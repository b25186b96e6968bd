"""Candidate culling: a grid over each unit's swept volume, so work grows with nearby pairs.

Every unit sweeps, over the lookahead, a segment in earth-centred coordinates (its horizontal
motion) and an altitude interval. The segment is boxed, grown by half the horizontal minimum plus
the most two tangent-plane paths can leave their common plane, and entered in every ECEF grid
cell it touches. Two units can only conflict if their boxes share a cell. A pair is examined
once, in the first cell of the intersection of its two boxes: that cell is, on every axis, the
first cell of one of the two boxes, which a 3-bit mask per entry tells without looking at the
units. Entries are radix-sorted by the Morton code of their cell (so memory is streamed, not
hopped) and then by floor altitude, so a sweep along altitude stops at the first entry above a
box (level traffic rarely shares 300 m). A float32 pre-test (closest approach of the two straight
ECEF paths within the time both are vertically close) discards most of the rest; the exact test
is ``pairsolve.solve_pair``.
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
#: Smallest cell size, so that every cell index fits its 21 bits in the 64-bit key.
MIN_CELL_M = 1_000.0
_OFF_XYZ = 1 << 20


_ALT_BITS = 13
_ALT_MASK = (1 << _ALT_BITS) - 1
_ALT_STEP_M = 16.0
_ALT_BASE_M = -5_000.0


@jit
def _alt_step(alt_m: float) -> int:
    """Altitude in 16 m steps from -5 km, clipped to 13 bits (clipping keeps the order)."""
    return int(min(max((alt_m - _ALT_BASE_M) / _ALT_STEP_M, 0.0), float(_ALT_MASK)))


@jit
def radix_argsort(keys: IntArray, key_bits: int) -> npt.NDArray[np.int32]:
    """Stable argsort of non-negative ``keys`` below ``2**key_bits``: LSD radix, 11 bits a pass."""
    n = keys.shape[0]
    order = np.arange(n).astype(np.int32)
    cur = keys.copy()
    tmp_k = np.empty_like(cur)
    tmp_o = np.empty_like(order)
    counts = np.empty(2049, dtype=np.int64)
    shift = 0
    while shift < key_bits:
        counts[:] = 0
        for i in range(n):
            counts[((cur[i] >> shift) & 2047) + 1] += 1
        for b in range(2048):
            counts[b + 1] += counts[b]
        for i in range(n):
            digit = (cur[i] >> shift) & 2047
            d = counts[digit]
            counts[digit] = d + 1
            tmp_k[d] = cur[i]
            tmp_o[d] = order[i]
        cur, tmp_k = tmp_k, cur
        order, tmp_o = tmp_o, order
        shift += 11
    return order


@jit
def _spread3(v: int) -> int:
    """Spread the low 21 bits of ``v`` to every third bit (for a 3D Morton code)."""
    v &= 0x1FFFFF
    v = (v | (v << 32)) & 0x1F00000000FFFF
    v = (v | (v << 16)) & 0x1F0000FF0000FF
    v = (v | (v << 8)) & 0x100F00F00F00F00F
    v = (v | (v << 4)) & 0x10C30C30C30C30C3
    v = (v | (v << 2)) & 0x1249249249249249
    return v


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
) -> tuple[IntArray, IntArray, FloatArray]:
    """All conflicts among ``rows`` between a unit of ``domain_a`` and one of ``domain_b``.

    Returns row pairs ``(i, j)`` with ``i < j`` and an ``(k, 6)`` array of
    ``t_in_s, t_out_s, tcpa_s, dcpa_m, vsep_cpa_m, los`` (see ``solve_pair``).
    """
    n = rows.shape[0]
    t = lookahead_s
    cell_m = max(cell_m, MIN_CELL_M)
    use_alt = not math.isinf(vertical_m)
    # Local copies in Morton order of the start cell, so that units met together lie together.
    morton = np.empty(n, dtype=np.int64)
    for k in range(n):
        r = rows[k]
        code = 0
        for ax in range(3):
            c = math.floor(_clip(pos[r, ax], -_ECEF_BOUND_M, _ECEF_BOUND_M) / cell_m) + _OFF_XYZ
            code |= _spread3(c) << ax
        morton[k] = code
    perm = np.argsort(morton)
    g_row = np.empty(n, dtype=np.int64)
    g_pos = np.empty((n, 3))
    g_vel = np.empty((n, 3))
    g_up = np.empty((n, 3))
    g_alt = np.empty(n)
    g_vz = np.empty(n)
    g_party = np.empty(n, dtype=np.int64)
    g_domain = np.empty(n, dtype=np.int64)
    reach_max_m = 0.0
    for k in range(n):
        r = rows[perm[k]]
        g_row[k] = r
        for ax in range(3):
            g_pos[k, ax] = pos[r, ax]
            g_vel[k, ax] = vel[r, ax]
            g_up[k, ax] = up[r, ax]
        g_alt[k] = alt_m[r]
        g_vz[k] = vel_up_mps[r]
        g_party[k] = party[r]
        g_domain[k] = domain[r]
        reach_max_m = max(reach_max_m, math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t)
    # Cells no smaller than an eighth of the longest sweep: at most ~1,000 cells for any unit.
    cell_m = max(cell_m, reach_max_m / 8.0)
    lo = np.empty((n, 4))
    hi = np.empty((n, 4))
    c0 = np.empty((n, 4), dtype=np.int64)
    c1 = np.empty((n, 4), dtype=np.int64)
    total = 0
    for k in range(n):
        reach_m = math.sqrt(g_vel[k, 0] ** 2 + g_vel[k, 1] ** 2 + g_vel[k, 2] ** 2) * t
        # Out-of-plane offset of a pair within reach: at most (reach_i + reach_j)(R + 2 U) / 2 Re.
        margin = 0.5 * horizontal_m + reach_m * (horizontal_m + 2.0 * reach_max_m) / (2.0 * _MIN_RADIUS_M) + 50.0
        cells = 1
        for ax in range(3):
            p0 = g_pos[k, ax]
            p1 = p0 + g_vel[k, ax] * t
            lo[k, ax] = _clip(min(p0, p1) - margin, -_ECEF_BOUND_M, _ECEF_BOUND_M)
            hi[k, ax] = _clip(max(p0, p1) + margin, -_ECEF_BOUND_M, _ECEF_BOUND_M)
            c0[k, ax] = math.floor(lo[k, ax] / cell_m)
            c1[k, ax] = math.floor(hi[k, ax] / cell_m)
            cells *= c1[k, ax] - c0[k, ax] + 1
        if use_alt:
            a0 = g_alt[k]
            a1 = a0 + g_vz[k] * t
            lo[k, 3] = min(a0, a1) - 0.5 * vertical_m - 1e-6
            hi[k, 3] = max(a0, a1) + 0.5 * vertical_m + 1e-6
        else:
            lo[k, 3] = -math.inf
            hi[k, 3] = math.inf
        total += cells
    # Sort key of an entry: the Morton code of its cell (spatially coherent, so every pass below
    # streams through memory), then its box's floor altitude in 16 m steps (for the sweep).
    lo_x = c0[0, 0]
    lo_y = c0[0, 1]
    lo_z = c0[0, 2]
    span = 1
    for k in range(n):
        lo_x = min(lo_x, c0[k, 0])
        lo_y = min(lo_y, c0[k, 1])
        lo_z = min(lo_z, c0[k, 2])
    for k in range(n):
        span = max(span, c1[k, 0] - lo_x, c1[k, 1] - lo_y, c1[k, 2] - lo_z)
    axis_bits = 1
    while (1 << axis_bits) <= span:
        axis_bits += 1
    shift = max(0, 3 * axis_bits - 40)
    key_bits = 3 * axis_bits - shift + _ALT_BITS
    e_key = np.empty(total, dtype=np.int64)
    e_unit = np.empty(total, dtype=np.int32)
    e_first = np.empty(total, dtype=np.uint8)
    e_sort = np.empty(total, dtype=np.int64)
    e = 0
    for k in range(n):
        q = _alt_step(lo[k, 3])
        for cx in range(c0[k, 0], c1[k, 0] + 1):
            fx = 1 if cx == c0[k, 0] else 0
            kx = (cx + _OFF_XYZ) << 42
            mx = _spread3(cx - lo_x)
            for cy in range(c0[k, 1], c1[k, 1] + 1):
                fy = 2 if cy == c0[k, 1] else 0
                ky = kx | ((cy + _OFF_XYZ) << 21)
                my = mx | (_spread3(cy - lo_y) << 1)
                for cz in range(c0[k, 2], c1[k, 2] + 1):
                    fz = 4 if cz == c0[k, 2] else 0
                    e_key[e] = ky | (cz + _OFF_XYZ)
                    e_unit[e] = k
                    e_first[e] = fx | fy | fz
                    e_sort[e] = (((my | (_spread3(cz - lo_z) << 2)) >> shift) << _ALT_BITS) | q
                    e += 1
    order = radix_argsort(e_sort, key_bits)
    s_sort = np.empty(total, dtype=np.int64)
    s_key = np.empty(total, dtype=np.int64)
    s_unit = np.empty(total, dtype=np.int32)
    s_first = np.empty(total, dtype=np.uint8)
    s_party = np.empty(total, dtype=np.int64)
    s_qhi = np.empty(total, dtype=np.int64)
    # Position relative to the entry's cell corner, and velocity, in float32: a streaming
    # pre-test (3D closest approach of the two straight ECEF paths) before the exact solve.
    s_p = np.empty((total, 3), dtype=np.float32)
    s_v = np.empty((total, 3), dtype=np.float32)
    s_z = np.empty((total, 2), dtype=np.float32)  # altitude and vertical speed
    for d in range(total):
        e = order[d]
        u = e_unit[e]
        key = e_key[e]
        s_sort[d] = e_sort[e]
        s_key[d] = key
        s_unit[d] = u
        s_first[d] = e_first[e]
        s_party[d] = g_party[u]
        s_qhi[d] = _alt_step(hi[u, 3])
        corner_x = ((key >> 42) - _OFF_XYZ) * cell_m
        corner_y = (((key >> 21) & 0x1FFFFF) - _OFF_XYZ) * cell_m
        corner_z = ((key & 0x1FFFFF) - _OFF_XYZ) * cell_m
        s_p[d, 0] = g_pos[u, 0] - corner_x
        s_p[d, 1] = g_pos[u, 1] - corner_y
        s_p[d, 2] = g_pos[u, 2] - corner_z
        s_v[d, 0] = g_vel[u, 0]
        s_v[d, 1] = g_vel[u, 1]
        s_v[d, 2] = g_vel[u, 2]
        s_z[d, 0] = g_alt[u]
        s_z[d, 1] = g_vz[u]
    # Pre-test radius: the minimum plus both units' out-of-plane bound, plus float32 slack.
    out_of_plane_m = reach_max_m * (horizontal_m + 2.0 * reach_max_m) / (2.0 * _MIN_RADIUS_M)
    reach_m_total = horizontal_m + 2.0 * out_of_plane_m + 100.0 + 1e-5 * cell_m
    reach2 = reach_m_total * reach_m_total
    vz_reach = vertical_m + 1.0 if use_alt else 0.0
    cap = 1024
    out_i = np.empty(cap, dtype=np.int64)
    out_j = np.empty(cap, dtype=np.int64)
    out_v = np.empty((cap, 6))
    found = 0
    buf = np.empty(6)
    cross = domain_a != domain_b
    s = 0
    while s < total:
        bucket = s_sort[s] >> _ALT_BITS
        f = s + 1
        while f < total and (s_sort[f] >> _ALT_BITS) == bucket:
            f += 1
        for p in range(s, f):
            key_p = s_key[p]
            first_p = s_first[p]
            party_p = s_party[p]
            kp = s_unit[p]
            qhi_p = s_qhi[p]
            for q in range(p + 1, f):
                if (s_sort[q] & _ALT_MASK) > qhi_p:
                    break  # the run is in ascending floor altitude: nothing further overlaps
                if s_key[q] != key_p or (first_p | s_first[q]) != 7 or s_party[q] == party_p:
                    continue
                dx = s_p[q, 0] - s_p[p, 0]
                dy = s_p[q, 1] - s_p[p, 1]
                dz = s_p[q, 2] - s_p[p, 2]
                wx = s_v[q, 0] - s_v[p, 0]
                wy = s_v[q, 1] - s_v[p, 1]
                wz = s_v[q, 2] - s_v[p, 2]
                # Window where the vertical distance may be under the minimum (with float32 slack).
                t0 = 0.0
                t1 = t
                if use_alt:
                    hz = s_z[q, 0] - s_z[p, 0]
                    vz = s_z[q, 1] - s_z[p, 1]
                    if abs(vz) > 1e-3:
                        ta = (-vz_reach - hz) / vz
                        tb = (vz_reach - hz) / vz
                        t0 = max(t0, min(ta, tb))
                        t1 = min(t1, max(ta, tb))
                        if t0 > t1:
                            continue
                ww = wx * wx + wy * wy + wz * wz
                dw = dx * wx + dy * wy + dz * wz
                tc = t0
                if ww > 0.0:
                    tc = min(max(-dw / ww, t0), t1)
                if dx * dx + dy * dy + dz * dz + tc * (2.0 * dw + ww * tc) > reach2:
                    continue
                kq = s_unit[q]
                if cross and g_domain[kp] == g_domain[kq]:
                    continue
                rp = g_row[kp]
                rq = g_row[kq]
                i = min(rp, rq)
                j = max(rp, rq)
                ki, kj = (kp, kq) if rp < rq else (kq, kp)
                if not solve_pair(g_pos, g_vel, g_up, g_alt, g_vz, ki, kj, horizontal_m, vertical_m, t, buf):
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
        s = f
    return out_i[:found].copy(), out_j[:found].copy(), out_v[:found].copy()
