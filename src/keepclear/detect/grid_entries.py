"""A grid entry, one per unit and cell its box touches: the box, the entry's sort key and payload.

A unit's box is the grid cells its swept segment touches, grown by a margin, and the 16 m altitude
steps its swept altitude interval touches, grown by half the vertical minimum. An entry's sort key
is its cell's Morton code above its box's floor altitude step; its payload the unit, the first-cell
mask (which axes the cell is the box's first on) and the code bits the key leaves out. Kept apart
from the gather and the sweep because both read this layout: it is written once, here.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit
from keepclear.detect.morton import spread3

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]

#: Boxes are clipped to these bounds before gridding (clipping keeps every overlap).
ECEF_BOUND_M = 1.2e7


#: An entry's floor altitude: 16 m steps from -5 km in the low 13 bits of its sort key (below the
#: cell's Morton code).
ALT_BITS = 13
ALT_MASK = (1 << ALT_BITS) - 1
_ALT_STEP_M = 16.0
_ALT_BASE_M = -5_000.0

#: An entry's first-cell mask: bit 0 set when its cell is the first of its box on the x axis, bit 1
#: on y, bit 2 on z. Two entries of one cell are the pair's first shared cell when their masks OR
#: to ``FIRST_ALL``.
FIRST_BITS = 3
FIRST_ALL = (1 << FIRST_BITS) - 1

#: An unpacked entry's payload word (``e_load``, ``s_load``): the unit's index in the low 32 bits
#: (``LOAD_UNIT_MASK``), the first-cell mask from bit ``LOAD_FIRST_SHIFT``, the low ``shift``
#: bits of the cell's Morton code (those the sort key leaves out) from bit ``LOAD_LOW_SHIFT``.
#: Packed entries (key and payload in one word) hold the same fields from bit 0 with ``unit_bits``
#: for the unit, then the sort key above them (see ``entries``, ``unpack``).
LOAD_UNIT_MASK = 0xFFFFFFFF
LOAD_FIRST_SHIFT = 32
LOAD_LOW_SHIFT = LOAD_FIRST_SHIFT + FIRST_BITS


@jit
def _alt_step(alt_m: float) -> int:
    """Altitude in 16 m steps from -5 km, clipped to 13 bits (clipping keeps the order)."""
    return int(min(max((alt_m - _ALT_BASE_M) / _ALT_STEP_M, 0.0), float(ALT_MASK)))


@jit
def clip(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


@jit
def _box(
    pos: FloatArray, vel: FloatArray, k: int, t: float, base_m: float, per_reach: float, cell_m: float
) -> tuple[int, int, int, int, int, int]:
    """First and last grid cell, per ECEF axis, of unit ``k``'s swept segment, grown by ``base_m``
    plus ``per_reach`` times the segment's length."""
    margin_m = base_m + per_reach * math.sqrt(vel[k, 0] ** 2 + vel[k, 1] ** 2 + vel[k, 2] ** 2) * t
    p0x, p0y, p0z = pos[k, 0], pos[k, 1], pos[k, 2]
    p1x, p1y, p1z = p0x + vel[k, 0] * t, p0y + vel[k, 1] * t, p0z + vel[k, 2] * t
    b = ECEF_BOUND_M
    return (
        math.floor(clip(min(p0x, p1x) - margin_m, -b, b) / cell_m),
        math.floor(clip(min(p0y, p1y) - margin_m, -b, b) / cell_m),
        math.floor(clip(min(p0z, p1z) - margin_m, -b, b) / cell_m),
        math.floor(clip(max(p0x, p1x) + margin_m, -b, b) / cell_m),
        math.floor(clip(max(p0y, p1y) + margin_m, -b, b) / cell_m),
        math.floor(clip(max(p0z, p1z) + margin_m, -b, b) / cell_m),
    )


@jit
def boxes(
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
            q_hi[k] = ALT_MASK
    return total, lo_x, lo_y, lo_z, max(1, hi_x - lo_x, hi_y - lo_y, hi_z - lo_z)


@jit
def entries(
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
    of ``e_sort`` (key above the payload, see ``unpack``) and ``e_load`` is not used."""
    low_mask = (1 << shift) - 1
    pack_bits = unit_bits + FIRST_BITS + shift
    e = 0
    for k in range(g_pos.shape[0]):
        x0, y0, z0, x1, y1, z1 = _box(g_pos, g_vel, k, t, margin_base_m, margin_per_reach, cell_m)
        q = q_lo[k]
        for cx in range(x0, x1 + 1):
            fx = 1 if cx == x0 else 0
            mx = spread3(cx - lo_x)
            for cy in range(y0, y1 + 1):
                fy = 2 if cy == y0 else 0
                my = mx | (spread3(cy - lo_y) << 1)
                for cz in range(z0, z1 + 1):
                    code = my | (spread3(cz - lo_z) << 2)
                    first = fx | fy | (4 if cz == z0 else 0)
                    key = ((code >> shift) << ALT_BITS) | q
                    low = code & low_mask
                    if unit_bits > 0:
                        e_sort[e] = (key << pack_bits) | k | (first << unit_bits) | (low << (unit_bits + FIRST_BITS))
                    else:
                        e_load[e] = k | (first << LOAD_FIRST_SHIFT) | (low << LOAD_LOW_SHIFT)
                        e_sort[e] = key
                    e += 1


@jit
def unpack(words: IntArray, unit_bits: int, shift: int, s_sort: IntArray, s_load: IntArray) -> None:
    """Split sorted packed entries (sort key above unit, first-cell mask and ``shift`` low code
    bits) into the sort key and the payload layout of unpacked entries; ``s_sort`` may be ``words``."""
    unit_mask = (1 << unit_bits) - 1
    low_mask = (1 << shift) - 1
    pack_bits = unit_bits + FIRST_BITS + shift
    for d in range(words.shape[0]):
        w = words[d]
        rest = w >> unit_bits
        first = rest & FIRST_ALL
        low = (rest >> FIRST_BITS) & low_mask
        s_load[d] = (w & unit_mask) | (first << LOAD_FIRST_SHIFT) | (low << LOAD_LOW_SHIFT)
        s_sort[d] = w >> pack_bits
