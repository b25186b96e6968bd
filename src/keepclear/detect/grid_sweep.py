"""The sweep: every conflict among the sorted grid entries, one cell run at a time.

Each run (the entries of one cell, in ascending floor altitude) is laid out in small reused buffers;
for each entry, the entries up to the first whose floor is above its box are pre-tested at once in
float32 (closest approach of the two straight ECEF paths while vertically close, branch-free over
SIMD blocks), and the pairs that pass get the exact test, ``pairsolve.solve_pair``. A pair is
examined only in its first shared cell (the first-cell masks of its two entries OR to all three
axes), so once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import PREFETCH_AHEAD, jit, jit_simd, prefetch
from keepclear.detect.grid_entries import (
    ALT_BITS,
    ALT_MASK,
    FIRST_ALL,
    FIRST_BITS,
    LOAD_FIRST_SHIFT,
    LOAD_LOW_SHIFT,
    LOAD_UNIT_MASK,
)
from keepclear.detect.morton import compact3
from keepclear.detect.pairsolve import solve_pair

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
F32Array = npt.NDArray[np.float32]
I32Array = npt.NDArray[np.int32]

#: Rows of the pre-test's float32 lanes: position relative to the entry cell's corner (3),
#: velocity (3), altitude and vertical speed.
_LANE_POS = 0
_LANE_VEL = 3
_LANE_ALT = 6
_LANE_VZ = 7
_SOA = 8

#: Rows of a run's ``ints``: the cell tag (the low code bits above the first-cell mask), the
#: party, the floor altitude step.
_INT_TAG = 0
_INT_PARTY = 1
_INT_FLOOR = 2
#: Rows of a run's ``keys``: the unit's row in the caller's arrays, its box's top altitude step,
#: its domain.
_KEY_ROW = 0
_KEY_TOP = 1
_KEY_DOMAIN = 2


class Units(NamedTuple):
    """Per-unit columns in gathered order."""

    row: IntArray
    pos: FloatArray
    vel: FloatArray
    up: FloatArray
    alt: FloatArray
    vz: FloatArray
    party: I32Array
    domain: IntArray
    top: I32Array  # top altitude step of the unit's box


class Frame(NamedTuple):
    """Where the grid lies: its first cell on each axis, the Morton code bits left out of the sort
    key (``shift``), the cell size."""

    lo_x: int
    lo_y: int
    lo_z: int
    shift: int
    cell_m: float


class Sweep(NamedTuple):
    """How the sweep pre-tests: only pairs of different domains (``cross_domain``), the squared
    pre-test radius, the vertical reach, whether altitude counts."""

    cross_domain: bool
    reach2_m2: float
    vz_reach_m: float
    use_alt: bool


class Minima(NamedTuple):
    """The pair of domains' separation minima and lookahead, as the exact test takes them."""

    horizontal_m: float
    vertical_m: float
    lookahead_s: float


class Run(NamedTuple):
    """One cell run laid out for the sweep, entry ``b`` of the run at index ``b``: ``ints`` (rows
    ``_INT_*``), ``lanes`` (the float32 rows ``_LANE_*``), ``near2`` the pre-test's output, ``keys``
    (rows ``_KEY_*``), then the float64 columns of the exact test."""

    ints: I32Array
    lanes: F32Array
    near2: F32Array
    keys: IntArray
    pos: FloatArray
    vel: FloatArray
    up: FloatArray
    alt: FloatArray
    vz: FloatArray


@jit
def _run_buffers(cap: int) -> Run:
    """Buffers for a run of up to ``cap`` entries (plus the pre-test's padding)."""
    return Run(
        np.empty((3, cap + _LANES), dtype=np.int32),
        np.empty((_SOA, cap + _LANES), dtype=np.float32),
        np.empty(cap + _LANES, dtype=np.float32),
        np.empty((3, cap), dtype=np.int64),
        np.empty((cap, 3)),
        np.empty((cap, 3)),
        np.empty((cap, 3)),
        np.empty(cap),
        np.empty(cap),
    )


@jit
def _scatter_run(
    s_sort: IntArray,
    s_load: IntArray,
    s: int,
    f: int,
    units: Units,
    frame: Frame,
    run: Run,
) -> None:
    """Lay out the sorted entries ``s:f`` (one cell run) in ``run``, followed by ``_LANES``
    padding entries that never match. The buffers are small and reused, so the pre-test and the
    exact test that follow read them from cache, not the unit columns from memory."""
    g_row, g_pos, g_vel, g_up, g_alt, g_vz, g_party, g_domain, q_hi = units
    ints, lanes, _, keys, e_pos, e_vel, e_up, e_alt, e_vz = run
    lo_x, lo_y, lo_z, shift, cell_m = frame
    for d in range(s, f):
        if d + PREFETCH_AHEAD < f:  # a run's units lie in a few stretches of the columns: fetch ahead
            ahead = s_load[d + PREFETCH_AHEAD] & LOAD_UNIT_MASK
            prefetch(g_pos, ahead, 0)
            prefetch(g_vel, ahead, 0)
            prefetch(g_up, ahead, 0)
            prefetch(g_alt, ahead, 0)
            prefetch(g_vz, ahead, 0)
            prefetch(g_row, ahead, 0)
            prefetch(g_party, ahead, 0)
            prefetch(g_domain, ahead, 0)
            prefetch(q_hi, ahead, 0)
        b = d - s
        load = s_load[d]
        u = load & LOAD_UNIT_MASK
        low = load >> LOAD_LOW_SHIFT
        code = ((s_sort[d] >> ALT_BITS) << shift) | low
        ints[_INT_TAG, b] = (low << FIRST_BITS) | ((load >> LOAD_FIRST_SHIFT) & FIRST_ALL)
        ints[_INT_PARTY, b] = g_party[u]
        ints[_INT_FLOOR, b] = s_sort[d] & ALT_MASK
        lanes[_LANE_POS, b] = g_pos[u, 0] - (compact3(code) + lo_x) * cell_m
        lanes[_LANE_POS + 1, b] = g_pos[u, 1] - (compact3(code >> 1) + lo_y) * cell_m
        lanes[_LANE_POS + 2, b] = g_pos[u, 2] - (compact3(code >> 2) + lo_z) * cell_m
        for ax in range(3):
            lanes[_LANE_VEL + ax, b] = g_vel[u, ax]
        lanes[_LANE_ALT, b] = g_alt[u]
        lanes[_LANE_VZ, b] = g_vz[u]
        keys[_KEY_ROW, b] = g_row[u]
        keys[_KEY_TOP, b] = q_hi[u]
        keys[_KEY_DOMAIN, b] = g_domain[u]
        for ax in range(3):
            e_pos[b, ax] = g_pos[u, ax]
            e_vel[b, ax] = g_vel[u, ax]
            e_up[b, ax] = g_up[u, ax]
        e_alt[b] = g_alt[u]
        e_vz[b] = g_vz[u]
    for b in range(f - s, f - s + _LANES):
        ints[_INT_TAG, b] = -1
        ints[_INT_PARTY, b] = 0
        ints[_INT_FLOOR, b] = ALT_MASK + 1
        for r in range(_SOA):
            lanes[r, b] = 0.0


@jit
def sweep_runs(
    s_sort: IntArray,
    s_load: IntArray,
    units: Units,
    frame: Frame,
    sweep: Sweep,
    minima: Minima,
    out_i: IntArray,
    out_j: IntArray,
    out_v: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray, int]:
    """Every conflict among the sorted entries, cell run by cell run: lay the run out, pre-test
    its local pairs and solve the survivors at once, from the run's buffers. Returns the output
    arrays (regrown if full) and the number of conflicts in them."""
    total = s_sort.shape[0]
    cap = 256
    run = _run_buffers(cap)
    pairs = np.empty((2, 1024), dtype=np.int32)
    m = 0
    s = 0
    while s < total:
        bucket = s_sort[s] >> ALT_BITS
        f = s + 1
        while f < total and (s_sort[f] >> ALT_BITS) == bucket:
            f += 1
        if f - s > cap:
            cap = 2 * (f - s)
            run = _run_buffers(cap)
        _scatter_run(s_sort, s_load, s, f, units, frame, run)
        out_i, out_j, out_v, m, pairs = _sweep_run(f - s, run, sweep, minima, out_i, out_j, out_v, m, pairs)
        s = f
    return out_i, out_j, out_v, m


@jit
def _sweep_run(
    count: int,
    run: Run,
    sweep: Sweep,
    minima: Minima,
    out_i: IntArray,
    out_j: IntArray,
    out_v: FloatArray,
    m: int,
    pairs: I32Array,
) -> tuple[IntArray, IntArray, FloatArray, int, I32Array]:
    """The conflicts of one laid-out run, appended to the output from ``m``; returns the output
    (regrown if full) and the new count."""
    ints, lanes, near2, keys, e_pos, e_vel, e_up, e_alt, e_vz = run
    cross, reach2_m2, vz_reach_m, use_alt = sweep
    horizontal_m, vertical_m, t = minima
    reach2 = np.float32(reach2_m2)
    vz_reach = np.float32(vz_reach_m)
    t32 = np.float32(t)
    floor = ints[_INT_FLOOR]
    found = 0
    for p in range(count):
        # The run is in ascending floor altitude: candidates end at the first floor above p's box.
        qhi_p = keys[_KEY_TOP, p]
        end = p + 1
        while end < count and floor[end] <= qhi_p:
            end += 1
        if end == p + 1:
            continue
        _pretest(ints, lanes, p, end, t32, vz_reach, use_alt, near2)
        for q in range(p + 1, end):
            if near2[q - p - 1] > reach2:
                continue
            if cross and keys[_KEY_DOMAIN, p] == keys[_KEY_DOMAIN, q]:
                continue
            if found == pairs.shape[1]:
                grown = np.empty((2, 2 * found), dtype=np.int32)
                grown[:, :found] = pairs
                pairs = grown
            pairs[0, found] = p
            pairs[1, found] = q
            found += 1
    if m + found > out_i.shape[0]:
        out_i, out_j, out_v = _grown(out_i, out_j, out_v, m + found)
    for c in range(found):
        p, q = pairs[0, c], pairs[1, c]
        rp, rq = keys[_KEY_ROW, p], keys[_KEY_ROW, q]
        bi, bj = (p, q) if rp < rq else (q, p)
        if solve_pair(e_pos, e_vel, e_up, e_alt, e_vz, bi, bj, horizontal_m, vertical_m, t, out_v, m):
            out_i[m] = min(rp, rq)
            out_j[m] = max(rp, rq)
            m += 1
    return out_i, out_j, out_v, m, pairs


@jit
def _grown(out_i: IntArray, out_j: IntArray, out_v: FloatArray, need: int) -> tuple[IntArray, IntArray, FloatArray]:
    """The output arrays at twice their length or ``need``, holding what they held."""
    m = out_i.shape[0]
    size = max(2 * m, need)
    gi = np.empty(size, dtype=np.int64)
    gj = np.empty(size, dtype=np.int64)
    gv = np.empty((6, size))
    gi[:m] = out_i
    gj[:m] = out_j
    gv[:, :m] = out_v
    return gi, gj, gv


#: Entries the pre-test handles in one go: a whole number of SIMD vectors, so no scalar remainder.
_LANES = 16


@jit_simd
def _pretest(
    s_ints: I32Array,
    s_lanes: F32Array,
    p: int,
    end: int,
    lookahead_s: np.float32,
    vz_reach_m: np.float32,
    use_alt: bool,
    near2: F32Array,
) -> None:
    """Fill ``near2[q - p - 1]`` for entries ``p < q < end``: the least squared ECEF distance of
    the two straight paths while they may be vertically close, or inf where the pair is not to be
    examined here (another cell, not the first shared cell, same party, never vertically close).

    Branch-free, in float32 and in whole blocks of ``_LANES`` (the arrays are padded) so that LLVM
    vectorizes it without a scalar remainder: this loop is most of the probe's time.
    """
    zero = np.float32(0.0)
    one = np.float32(1.0)
    two = np.float32(2.0)
    still = np.float32(1e-3)
    inf = np.float32(np.inf)
    cell_p = s_ints[_INT_TAG, p] >> FIRST_BITS
    first_p = s_ints[_INT_TAG, p] & FIRST_ALL
    party_p = s_ints[_INT_PARTY, p]
    px, py, pz = s_lanes[_LANE_POS, p], s_lanes[_LANE_POS + 1, p], s_lanes[_LANE_POS + 2, p]
    vx, vy, vz = s_lanes[_LANE_VEL, p], s_lanes[_LANE_VEL + 1, p], s_lanes[_LANE_VEL + 2, p]
    alt_p, vup_p = s_lanes[_LANE_ALT, p], s_lanes[_LANE_VZ, p]
    # Units whose vertical rates differ by at most ``still`` are apart throughout beyond this.
    level_reach_m = vz_reach_m + still * lookahead_s
    lo = p + 1
    hi = lo + (end - lo + _LANES - 1) // _LANES * _LANES
    # Views from 0 with an unsigned index: contiguous loads, no negative-index wraparound.
    tag, party = s_ints[_INT_TAG, lo:hi], s_ints[_INT_PARTY, lo:hi]
    qx, qy, qz = s_lanes[_LANE_POS, lo:hi], s_lanes[_LANE_POS + 1, lo:hi], s_lanes[_LANE_POS + 2, lo:hi]
    ux, uy, uz = s_lanes[_LANE_VEL, lo:hi], s_lanes[_LANE_VEL + 1, lo:hi], s_lanes[_LANE_VEL + 2, lo:hi]
    alt, vup = s_lanes[_LANE_ALT, lo:hi], s_lanes[_LANE_VZ, lo:hi]
    for k in range(np.uint64(hi - lo)):
        dx = qx[k] - px
        dy = qy[k] - py
        dz = qz[k] - pz
        wx = ux[k] - vx
        wy = uy[k] - vy
        wz = uz[k] - vz
        # Window where the vertical distance may be under the minimum (with float32 slack).
        hz = alt[k] - alt_p
        rate = vup[k] - vup_p
        moving = use_alt & (abs(rate) > still)
        inv_rate = one / (rate if moving else one)
        ta = (-vz_reach_m - hz) * inv_rate
        tb = (vz_reach_m - hz) * inv_rate
        t0 = max(zero, min(ta, tb)) if moving else zero
        t1 = min(lookahead_s, max(ta, tb)) if moving else lookahead_s
        level_apart = use_alt & (~moving) & (abs(hz) > level_reach_m)
        ww = wx * wx + wy * wy + wz * wz
        dw = dx * wx + dy * wy + dz * wz
        tc = min(max(-dw / (ww if ww > zero else one), t0), t1) if ww > zero else t0
        d2 = dx * dx + dy * dy + dz * dz + tc * (two * dw + ww * tc)
        tag_q = tag[k]
        skip = (
            ((tag_q >> FIRST_BITS) != cell_p) | ((first_p | (tag_q & FIRST_ALL)) != FIRST_ALL) | (party[k] == party_p)
        )
        near2[k] = inf if skip | (t0 > t1) | level_apart else d2
