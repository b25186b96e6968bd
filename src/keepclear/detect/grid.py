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

This module sizes the grid and runs the stages in turn: ``grid_gather`` (units reordered),
``grid_entries`` (boxes, entries and their layout), ``radix`` (the sort), ``grid_sweep`` (cell runs,
pre-test, exact test); ``morton`` codes the cells.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from keepclear.detect.grid_entries import ALT_BITS, FIRST_BITS, boxes, entries, unpack
from keepclear.detect.grid_gather import PACK_WORDS, gather
from keepclear.detect.grid_sweep import Frame, Minima, Sweep, Units, sweep_runs
from keepclear.detect.radix import radix_sort, radix_sort_field

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Smallest earth radius of curvature (metres), used to bound how far two tangent-plane paths
#: leave the pair's common plane (the part of ECEF distance that is not horizontal distance).
_MIN_RADIUS_M = 6.3e6

#: Smallest cell size, so that every cell index fits its 21 bits in the 64-bit key.
MIN_CELL_M = 1_000.0


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
    g_packed, scratch = _carve(((n, PACK_WORDS), f64), ((5, n), i64))  # the gather's, freed after it
    reach_max_m = gather(
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
    total, lo_x, lo_y, lo_z, span = boxes(
        g_pos, g_vel, g_alt, g_vz, t, margin_base_m, margin_per_reach, cell_m, use_alt, float(vertical_m), q_lo, q_hi
    )
    # Sort key of an entry: the Morton code of its cell (spatially coherent, so every pass below
    # streams through memory), then its box's floor altitude in 16 m steps (for the sweep). Cells
    # whose codes differ only in the low ``shift`` bits share a bucket; the tag tells them apart.
    axis_bits = 1
    while (1 << axis_bits) <= span:
        axis_bits += 1
    shift = max(0, 3 * axis_bits - 40)
    key_bits = 3 * axis_bits - shift + ALT_BITS
    # Key and payload in one word when they fit (they do up to ~100 million units): the sort then
    # moves half the bytes.
    unit_bits = max(1, int(n - 1).bit_length())
    packed = key_bits + unit_bits + FIRST_BITS + shift <= 63
    e_sort, e_tmp, s_load, e_load = _carve(
        ((total,), i64), ((total,), i64), ((total,), i64), ((0 if packed else total,), i64)
    )
    entries(
        g_pos, g_vel, t, margin_base_m, margin_per_reach, cell_m, q_lo, lo_x, lo_y, lo_z, shift,
        unit_bits if packed else 0, e_sort, e_load,
    )  # fmt: skip
    if packed:
        s_sort = radix_sort_field(e_sort, e_tmp, unit_bits + FIRST_BITS + shift, key_bits)
        unpack(s_sort, unit_bits, shift, s_sort, s_load)
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
    out_i, out_j, out_v, m = sweep_runs(
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
