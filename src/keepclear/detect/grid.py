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
ECEF paths within the time both are vertically close), branch-free over SIMD blocks of entries,
discards most of the rest; the candidates left get the exact test, ``pairsolve.solve_pair``.

Memory, not arithmetic, is what grows faster than the work from ~100k units on, when the columns
leave the cache: units are reordered (Morton order of their start cell) through one packed row
each, the sweep lays out one cell run at a time into small reused buffers and solves the run's
candidates from them, random reads are prefetched, and the work arrays of a call are cut from
one numpy allocation (huge pages). The compiled stages fill arrays that numpy allocates.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit, jit_simd, prefetch
from keepclear.detect.pairsolve import solve_pair

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
F32Array = npt.NDArray[np.float32]
I32Array = npt.NDArray[np.int32]

#: Smallest earth radius of curvature (metres), used to bound how far two tangent-plane paths
#: leave the pair's common plane (the part of ECEF distance that is not horizontal distance).
_MIN_RADIUS_M = 6.3e6
#: Boxes are clipped to these bounds before gridding (clipping keeps every overlap).
_ECEF_BOUND_M = 1.2e7
#: Smallest cell size, so that every cell index fits its 21 bits in the 64-bit key.
MIN_CELL_M = 1_000.0
_OFF_XYZ = 1 << 20


#: An entry's floor altitude: 16 m steps from -5 km in the low 13 bits of its sort key (below the
#: cell's Morton code).
_ALT_BITS = 13
_ALT_MASK = (1 << _ALT_BITS) - 1
_ALT_STEP_M = 16.0
_ALT_BASE_M = -5_000.0

#: An entry's first-cell mask: bit 0 set when its cell is the first of its box on the x axis, bit 1
#: on y, bit 2 on z. Two entries of one cell are the pair's first shared cell when their masks OR
#: to ``_FIRST_ALL``.
_FIRST_BITS = 3
_FIRST_ALL = (1 << _FIRST_BITS) - 1

#: An unpacked entry's payload word (``e_load``, ``s_load``): the unit's index in the low 32 bits
#: (``_LOAD_UNIT_MASK``), the first-cell mask from bit ``_LOAD_FIRST_SHIFT``, the low ``shift``
#: bits of the cell's Morton code (those the sort key leaves out) from bit ``_LOAD_LOW_SHIFT``.
#: Packed entries (key and payload in one word) hold the same fields from bit 0 with ``unit_bits``
#: for the unit, then the sort key above them (see ``_entries``, ``_unpack``).
_LOAD_UNIT_MASK = 0xFFFFFFFF
_LOAD_FIRST_SHIFT = 32
_LOAD_LOW_SHIFT = _LOAD_FIRST_SHIFT + _FIRST_BITS


@jit
def _alt_step(alt_m: float) -> int:
    """Altitude in 16 m steps from -5 km, clipped to 13 bits (clipping keeps the order)."""
    return int(min(max((alt_m - _ALT_BASE_M) / _ALT_STEP_M, 0.0), float(_ALT_MASK)))


@jit
def _digit_counts(words: IntArray, lo_bit: int, key_bits: int) -> tuple[IntArray, int, int]:
    """The digit histograms of an LSD radix sort by bits ``[lo_bit, lo_bit + key_bits)``: at most 12
    bits a pass, all passes counted in one sweep; row ``p`` counts digit ``d`` at ``d + 1``.
    Returns the counts, the digit width and its mask."""
    passes = max(1, (key_bits + 11) // 12)
    width = (key_bits + passes - 1) // passes
    mask = (1 << width) - 1
    counts = np.zeros((passes, mask + 2), dtype=np.int64)
    for i in range(words.shape[0]):
        k = words[i] >> lo_bit
        for ps in range(passes):
            counts[ps, ((k >> (ps * width)) & mask) + 1] += 1
    return counts, width, mask


@jit
def radix_sort(
    keys: IntArray, payload: IntArray, tmp_k: IntArray, tmp_p: IntArray, key_bits: int
) -> tuple[IntArray, IntArray]:
    """Sort non-negative ``keys`` below ``2**key_bits`` and carry ``payload`` along (stable LSD
    radix, at most 12 bits a pass, one counting sweep for all passes). All four arrays are used as
    buffers; returns the two that hold the result.
    """
    n = keys.shape[0]
    counts, width, mask = _digit_counts(keys, 0, key_bits)
    passes = counts.shape[0]
    cur_k, cur_p = keys, payload
    for ps in range(passes):
        shift = ps * width
        c = counts[ps]
        if n == 0 or c[1 + ((cur_k[0] >> shift) & mask)] == n:
            continue  # every key has the same digit here: the order stays
        for b in range(mask + 1):
            c[b + 1] += c[b]
        for i in range(n):
            k = cur_k[i]
            digit = (k >> shift) & mask
            d = c[digit]
            c[digit] = d + 1
            tmp_k[d] = k
            tmp_p[d] = cur_p[i]
        cur_k, tmp_k = tmp_k, cur_k
        cur_p, tmp_p = tmp_p, cur_p
    return cur_k, cur_p


@jit
def radix_sort_field(words: IntArray, tmp: IntArray, lo_bit: int, key_bits: int) -> IntArray:
    """Sort non-negative ``words`` by bits ``[lo_bit, lo_bit + key_bits)`` alone, stable (so the
    low bits ride along as a payload); like ``radix_sort`` with half the memory traffic. Both
    arrays are used as buffers; returns the one that holds the result."""
    n = words.shape[0]
    counts, width, mask = _digit_counts(words, lo_bit, key_bits)
    passes = counts.shape[0]
    cur, other = words, tmp
    for ps in range(passes):
        shift = lo_bit + ps * width
        c = counts[ps]
        if n == 0 or c[1 + ((cur[0] >> shift) & mask)] == n:
            continue  # every key has the same digit here: the order stays
        for b in range(mask + 1):
            c[b + 1] += c[b]
        for i in range(n):
            w = cur[i]
            digit = (w >> shift) & mask
            d = c[digit]
            c[digit] = d + 1
            other[d] = w
        cur, other = other, cur
    return cur


@jit
def _unpack(words: IntArray, unit_bits: int, shift: int, s_sort: IntArray, s_load: IntArray) -> None:
    """Split sorted packed entries (sort key above unit, first-cell mask and ``shift`` low code
    bits) into the sort key and the payload layout of unpacked entries; ``s_sort`` may be ``words``."""
    unit_mask = (1 << unit_bits) - 1
    low_mask = (1 << shift) - 1
    pack_bits = unit_bits + _FIRST_BITS + shift
    for d in range(words.shape[0]):
        w = words[d]
        rest = w >> unit_bits
        first = rest & _FIRST_ALL
        low = (rest >> _FIRST_BITS) & low_mask
        s_load[d] = (w & unit_mask) | (first << _LOAD_FIRST_SHIFT) | (low << _LOAD_LOW_SHIFT)
        s_sort[d] = w >> pack_bits


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
def _compact3(v: int) -> int:
    """Inverse of ``_spread3``: every third bit of ``v`` gathered into the low 21 bits."""
    v &= 0x1249249249249249
    v = (v | (v >> 2)) & 0x10C30C30C30C30C3
    v = (v | (v >> 4)) & 0x100F00F00F00F00F
    v = (v | (v >> 8)) & 0x1F0000FF0000FF
    v = (v | (v >> 16)) & 0x1F00000000FFFF
    v = (v | (v >> 32)) & 0x1FFFFF
    return v


@jit
def _party_codes(party: IntArray) -> npt.NDArray[np.int32]:
    """Party codes as int32, equal exactly where the parties are (their rank when they do not fit)."""
    n = party.shape[0]
    out = np.empty(n, dtype=np.int32)
    if n == 0 or (party.min() >= -(2**31) and party.max() < 2**31):
        for k in range(n):
            out[k] = party[k]
        return out
    order = np.argsort(party)
    rank = 0
    for k in range(n):
        if k > 0 and party[order[k]] != party[order[k - 1]]:
            rank += 1
        out[order[k]] = rank
    return out


@jit
def _box(
    pos: FloatArray, vel: FloatArray, k: int, t: float, base_m: float, per_reach: float, cell_m: float
) -> tuple[int, int, int, int, int, int]:
    """First and last grid cell, per ECEF axis, of unit ``k``'s swept segment, grown by ``base_m``
    plus ``per_reach`` times the segment's length."""
    margin_m = base_m + per_reach * math.sqrt(vel[k, 0] ** 2 + vel[k, 1] ** 2 + vel[k, 2] ** 2) * t
    p0x, p0y, p0z = pos[k, 0], pos[k, 1], pos[k, 2]
    p1x, p1y, p1z = p0x + vel[k, 0] * t, p0y + vel[k, 1] * t, p0z + vel[k, 2] * t
    b = _ECEF_BOUND_M
    return (
        math.floor(_clip(min(p0x, p1x) - margin_m, -b, b) / cell_m),
        math.floor(_clip(min(p0y, p1y) - margin_m, -b, b) / cell_m),
        math.floor(_clip(min(p0z, p1z) - margin_m, -b, b) / cell_m),
        math.floor(_clip(max(p0x, p1x) + margin_m, -b, b) / cell_m),
        math.floor(_clip(max(p0y, p1y) + margin_m, -b, b) / cell_m),
        math.floor(_clip(max(p0z, p1z) + margin_m, -b, b) / cell_m),
    )


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

    Returns row pairs ``(i, j)`` with ``i < j`` and a ``(6, k)`` array, one row each of
    ``t_in_s, t_out_s, tcpa_s, dcpa_m, vsep_cpa_m, los`` (see ``solve_pair``).

    The compiled stages work in arrays allocated here by numpy (see ``_carve``).
    """
    n = rows.shape[0]
    t = float(lookahead_s)
    use_alt = not math.isinf(vertical_m)
    cell_m = max(float(cell_m), MIN_CELL_M)
    i64, i32, f64 = np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.float64)
    g_row, g_pos, g_vel, g_up, g_alt, g_vz, g_domain, g_party, q_lo, q_hi = _carve(
        ((n,), i64), ((n, 3), f64), ((n, 3), f64), ((n, 3), f64), ((n,), f64), ((n,), f64), ((n,), i64),
        ((n,), i32), ((n,), i32), ((n,), i32),
    )  # fmt: skip
    g_packed, scratch = _carve(((n, _PACK), f64), ((5, n), i64))  # the gather's, freed after it
    reach_max_m = _gather(
        pos, vel, up, alt_m, vel_up_mps, party, domain, rows, cell_m, t,
        g_row, g_pos, g_vel, g_up, g_alt, g_vz, g_domain, g_party, g_packed, g_packed.view(np.int64), scratch,
    )  # fmt: skip
    del g_packed, scratch
    # Cells no smaller than an eighth of the longest sweep: at most ~1,000 cells for any unit.
    cell_m = max(cell_m, reach_max_m / 8.0)
    # Each box's margin: half the minimum, plus the most a pair within reach leaves its common
    # plane, at most (reach_i + reach_j)(R + 2 U) / 2 Re, plus slack.
    margin_base_m = 0.5 * horizontal_m + 50.0
    margin_per_reach = (horizontal_m + 2.0 * reach_max_m) / (2.0 * _MIN_RADIUS_M)
    total, lo_x, lo_y, lo_z, span = _boxes(
        g_pos, g_vel, g_alt, g_vz, t, margin_base_m, margin_per_reach, cell_m, use_alt, float(vertical_m), q_lo, q_hi
    )
    # Sort key of an entry: the Morton code of its cell (spatially coherent, so every pass below
    # streams through memory), then its box's floor altitude in 16 m steps (for the sweep). Cells
    # whose codes differ only in the low ``shift`` bits share a bucket; the tag tells them apart.
    axis_bits = 1
    while (1 << axis_bits) <= span:
        axis_bits += 1
    shift = max(0, 3 * axis_bits - 40)
    key_bits = 3 * axis_bits - shift + _ALT_BITS
    # Key and payload in one word when they fit (they do up to ~100 million units): the sort then
    # moves half the bytes.
    unit_bits = max(1, int(n - 1).bit_length())
    packed = key_bits + unit_bits + _FIRST_BITS + shift <= 63
    e_sort, e_tmp, s_load, e_load = _carve(
        ((total,), i64), ((total,), i64), ((total,), i64), ((0 if packed else total,), i64)
    )
    _entries(
        g_pos, g_vel, t, margin_base_m, margin_per_reach, cell_m, q_lo, lo_x, lo_y, lo_z, shift,
        unit_bits if packed else 0, e_sort, e_load,
    )  # fmt: skip
    if packed:
        s_sort = radix_sort_field(e_sort, e_tmp, unit_bits + _FIRST_BITS + shift, key_bits)
        _unpack(s_sort, unit_bits, shift, s_sort, s_load)
    else:
        s_sort, s_load = radix_sort(e_sort, e_load, e_tmp, s_load, key_bits)
    # Pre-test radius: the minimum plus both units' out-of-plane bound, plus float32 slack.
    reach_m_total = horizontal_m + 2.0 * reach_max_m * margin_per_reach + 100.0 + 1e-5 * cell_m
    units = Units(g_row, g_pos, g_vel, g_up, g_alt, g_vz, g_party, g_domain, q_hi)
    sweep = Sweep(
        domain_a != domain_b, reach_m_total * reach_m_total, float(vertical_m) + 1.0 if use_alt else 0.0, use_alt
    )
    minima = Minima(float(horizontal_m), float(vertical_m), t)
    capacity = max(total, 1024)
    out_ij, out_v = _carve(((2, capacity), i64), ((6, capacity), f64))
    out_i, out_j, out_v, m = _sweep(
        s_sort, s_load, units, Frame(lo_x, lo_y, lo_z, shift, cell_m), sweep, minima, out_ij[0], out_ij[1], out_v
    )
    return out_i[:m], out_j[:m], out_v[:, :m]


def _carve(*specs: tuple[tuple[int, ...], np.dtype[Any]]) -> list[npt.NDArray[Any]]:
    """Arrays of the given ``(shape, dtype)``, cut 64-byte aligned from one numpy allocation when
    together they reach ``_HUGE_BYTES``, else allocated one by one.

    Fresh memory costs a page fault per 4 KiB page touched (~1.4 µs each here), but numpy asks
    for huge pages from 4 MB on (2 MB a fault): at 100k units the separate 0.1-4 MB arrays of a
    call would fault page by page. Small sets stay separate arrays, which malloc recycles from
    call to call without the kernel."""
    sizes = [math.prod(shape) * dtype.itemsize for shape, dtype in specs]
    starts = [0]
    for size in sizes:
        starts.append(starts[-1] + (size + 63) // 64 * 64)
    if starts[-1] < _HUGE_BYTES:
        return [np.empty(shape, dtype=dtype) for shape, dtype in specs]
    buf = np.empty(starts[-1] + 64, dtype=np.uint8)
    base = -buf.ctypes.data % 64
    return [
        buf[base + start : base + start + size].view(dtype).reshape(shape)
        for (shape, dtype), start, size in zip(specs, starts, sizes, strict=False)
    ]


#: From this many bytes numpy asks the kernel for huge pages (``madvise``).
_HUGE_BYTES = 4 << 20


#: How many units ahead a loop of random reads prefetches.
_AHEAD = 16

#: Columns of a unit's row in the gather's packed copy: position (3), velocity (3), up (3),
#: altitude, vertical speed (float64), then row, party and domain (int64, through a view).
_PACK_POS = 0
_PACK_VEL = 3
_PACK_UP = 6
_PACK_ALT = 9
_PACK_VZ = 10
_PACK_ROW = 11
_PACK_PARTY = 12
_PACK_DOMAIN = 13
#: Words of a packed row.
_PACK = 14


@jit
def _gather(
    pos: FloatArray,
    vel: FloatArray,
    up: FloatArray,
    alt_m: FloatArray,
    vel_up_mps: FloatArray,
    party: IntArray,
    domain: IntArray,
    rows: IntArray,
    cell_m: float,
    t: float,
    g_row: IntArray,
    g_pos: FloatArray,
    g_vel: FloatArray,
    g_up: FloatArray,
    g_alt: FloatArray,
    g_vz: FloatArray,
    g_domain: IntArray,
    g_party: I32Array,
    packed: FloatArray,
    packed_int: IntArray,
    scratch: IntArray,
) -> float:
    """Copy ``rows`` into the ``g_*`` arrays in Morton order of their start cell, so that units
    met together lie together; returns the longest sweep (m). ``packed`` is ``(n, _PACK)`` and
    ``packed_int`` its int64 view, ``scratch`` is ``(5, n)``.

    The columns are first copied in row order into one packed row per unit (streamed), so that
    the reordering reads one or two cache lines per unit instead of one per column: at 100k
    units and more the columns leave the cache and each read is a miss."""
    n = rows.shape[0]
    start = scratch[:3]
    reach_max_m = 0.0
    for k in range(n):
        r = rows[k]
        for ax in range(3):
            start[ax, k] = math.floor(_clip(pos[r, ax], -_ECEF_BOUND_M, _ECEF_BOUND_M) / cell_m)
            packed[k, _PACK_POS + ax] = pos[r, ax]
            packed[k, _PACK_VEL + ax] = vel[r, ax]
            packed[k, _PACK_UP + ax] = up[r, ax]
        packed[k, _PACK_ALT] = alt_m[r]
        packed[k, _PACK_VZ] = vel_up_mps[r]
        packed_int[k, _PACK_ROW] = r
        packed_int[k, _PACK_PARTY] = party[r]
        packed_int[k, _PACK_DOMAIN] = domain[r]
        reach_max_m = max(reach_max_m, math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t)
    perm = _morton_order(start, scratch[3], scratch[4])
    g_party64 = scratch[0]  # free again: the start cells are coded
    for k in range(n):
        if k + _AHEAD < n:  # the rows are read at random: fetch a few ahead
            ahead = perm[k + _AHEAD]
            prefetch(packed, ahead, 0)
            prefetch(packed, ahead, _PACK - 1)
        p = perm[k]
        for ax in range(3):
            g_pos[k, ax] = packed[p, _PACK_POS + ax]
            g_vel[k, ax] = packed[p, _PACK_VEL + ax]
            g_up[k, ax] = packed[p, _PACK_UP + ax]
        g_alt[k] = packed[p, _PACK_ALT]
        g_vz[k] = packed[p, _PACK_VZ]
        g_row[k] = packed_int[p, _PACK_ROW]
        g_party64[k] = packed_int[p, _PACK_PARTY]
        g_domain[k] = packed_int[p, _PACK_DOMAIN]
    g_party[:] = _party_codes(g_party64)
    return reach_max_m


@jit
def _morton_order(start: IntArray, words: IntArray, tmp: IntArray) -> IntArray:
    """The order of units by the Morton code of their start cells (``start`` is ``(3, n)``),
    ties by index; ``words`` and ``tmp`` are buffers of ``n``. Code and index go into one word
    when they fit, so the sort moves half the bytes."""
    n = start.shape[1]
    bits = 1
    span = 0
    for ax in range(3):
        lo = start[ax].min() if n else 0
        for k in range(n):
            start[ax, k] -= lo
        span = max(span, start[ax].max() if n else 0)
    while (1 << bits) <= span:
        bits += 1
    unit_bits = 1
    while (1 << unit_bits) < n:
        unit_bits += 1
    if 3 * bits + unit_bits <= 63:
        for k in range(n):
            words[k] = (_morton3(start[0, k], start[1, k], start[2, k]) << unit_bits) | k
        words = radix_sort_field(words, tmp, unit_bits, 3 * bits)
        for k in range(n):
            words[k] &= (1 << unit_bits) - 1
        return words
    index = np.arange(n)
    for k in range(n):
        words[k] = _morton3(start[0, k], start[1, k], start[2, k])
    return radix_sort(words, index, tmp, np.empty(n, dtype=np.int64), 3 * bits)[1]


@jit
def _morton3(x: int, y: int, z: int) -> int:
    """The 3D Morton code of a non-negative cell index triple."""
    return _spread3(x) | (_spread3(y) << 1) | (_spread3(z) << 2)


@jit
def _boxes(
    g_pos: FloatArray,
    g_vel: FloatArray,
    g_alt: FloatArray,
    g_vz: FloatArray,
    t: float,
    margin_base_m: float,
    margin_per_reach: float,
    cell_m: float,
    use_alt: bool,
    vertical_m: float,
    q_lo: I32Array,
    q_hi: I32Array,
) -> tuple[int, int, int, int, int]:
    """Fill each unit's altitude box (16 m steps); returns the number of grid entries, the first
    cell on each axis and the widest span in cells."""
    total = 0
    lo_x = lo_y = lo_z = 2**40
    hi_x = hi_y = hi_z = -(2**40)
    for k in range(g_pos.shape[0]):
        x0, y0, z0, x1, y1, z1 = _box(g_pos, g_vel, k, t, margin_base_m, margin_per_reach, cell_m)
        total += (x1 - x0 + 1) * (y1 - y0 + 1) * (z1 - z0 + 1)
        lo_x, lo_y, lo_z = min(lo_x, x0), min(lo_y, y0), min(lo_z, z0)
        hi_x, hi_y, hi_z = max(hi_x, x1), max(hi_y, y1), max(hi_z, z1)
        if use_alt:
            a0 = g_alt[k]
            a1 = a0 + g_vz[k] * t
            q_lo[k] = _alt_step(min(a0, a1) - 0.5 * vertical_m - 1e-6)
            q_hi[k] = _alt_step(max(a0, a1) + 0.5 * vertical_m + 1e-6)
        else:
            q_lo[k] = 0
            q_hi[k] = _ALT_MASK
    return total, lo_x, lo_y, lo_z, max(1, hi_x - lo_x, hi_y - lo_y, hi_z - lo_z)


@jit
def _entries(
    g_pos: FloatArray,
    g_vel: FloatArray,
    t: float,
    margin_base_m: float,
    margin_per_reach: float,
    cell_m: float,
    q_lo: I32Array,
    lo_x: int,
    lo_y: int,
    lo_z: int,
    shift: int,
    unit_bits: int,
    e_sort: IntArray,
    e_load: IntArray,
) -> None:
    """One entry per unit and cell its box touches: the sort key, and a payload carried through
    the sort (unit, first-cell mask, low code bits). With ``unit_bits`` > 0 both go into one word
    of ``e_sort`` (key above the payload, see ``_unpack``) and ``e_load`` is not used."""
    low_mask = (1 << shift) - 1
    pack_bits = unit_bits + _FIRST_BITS + shift
    e = 0
    for k in range(g_pos.shape[0]):
        x0, y0, z0, x1, y1, z1 = _box(g_pos, g_vel, k, t, margin_base_m, margin_per_reach, cell_m)
        q = q_lo[k]
        for cx in range(x0, x1 + 1):
            fx = 1 if cx == x0 else 0
            mx = _spread3(cx - lo_x)
            for cy in range(y0, y1 + 1):
                fy = 2 if cy == y0 else 0
                my = mx | (_spread3(cy - lo_y) << 1)
                for cz in range(z0, z1 + 1):
                    code = my | (_spread3(cz - lo_z) << 2)
                    first = fx | fy | (4 if cz == z0 else 0)
                    key = ((code >> shift) << _ALT_BITS) | q
                    low = code & low_mask
                    if unit_bits > 0:
                        e_sort[e] = (key << pack_bits) | k | (first << unit_bits) | (low << (unit_bits + _FIRST_BITS))
                    else:
                        e_load[e] = k | (first << _LOAD_FIRST_SHIFT) | (low << _LOAD_LOW_SHIFT)
                        e_sort[e] = key
                    e += 1


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
        if d + _AHEAD < f:  # a run's units lie in a few stretches of the columns: fetch ahead
            ahead = s_load[d + _AHEAD] & _LOAD_UNIT_MASK
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
        u = load & _LOAD_UNIT_MASK
        low = load >> _LOAD_LOW_SHIFT
        code = ((s_sort[d] >> _ALT_BITS) << shift) | low
        ints[_INT_TAG, b] = (low << _FIRST_BITS) | ((load >> _LOAD_FIRST_SHIFT) & _FIRST_ALL)
        ints[_INT_PARTY, b] = g_party[u]
        ints[_INT_FLOOR, b] = s_sort[d] & _ALT_MASK
        lanes[_LANE_POS, b] = g_pos[u, 0] - (_compact3(code) + lo_x) * cell_m
        lanes[_LANE_POS + 1, b] = g_pos[u, 1] - (_compact3(code >> 1) + lo_y) * cell_m
        lanes[_LANE_POS + 2, b] = g_pos[u, 2] - (_compact3(code >> 2) + lo_z) * cell_m
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
        ints[_INT_FLOOR, b] = _ALT_MASK + 1
        for r in range(_SOA):
            lanes[r, b] = 0.0


@jit
def _sweep(
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
        bucket = s_sort[s] >> _ALT_BITS
        f = s + 1
        while f < total and (s_sort[f] >> _ALT_BITS) == bucket:
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
    cell_p = s_ints[_INT_TAG, p] >> _FIRST_BITS
    first_p = s_ints[_INT_TAG, p] & _FIRST_ALL
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
            ((tag_q >> _FIRST_BITS) != cell_p)
            | ((first_p | (tag_q & _FIRST_ALL)) != _FIRST_ALL)
            | (party[k] == party_p)
        )
        near2[k] = inf if skip | (t0 > t1) | level_apart else d2
