"""The gather: the units of one probe call copied into the grid's own columns, in Morton order of
their start cell, so that units met together lie together in memory.

The caller's columns are first copied in row order into one packed row per unit (streamed), then
read in the new order a row at a time (one or two cache lines per unit, prefetched) instead of one
line per column: from ~100k units on the columns leave the cache and each read would be a miss.
Parties are coded as int32 on the way (the pre-test's lanes are 32 bits wide).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import PREFETCH_AHEAD, jit, prefetch
from keepclear.detect.grid_entries import ECEF_BOUND_M, clip
from keepclear.detect.morton import morton_order

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]

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
PACK_WORDS = 14


@jit
def gather(
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
    met together lie together; returns the longest sweep (m). ``packed`` is ``(n, PACK_WORDS)`` and
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
            start[ax, k] = math.floor(clip(pos[r, ax], -ECEF_BOUND_M, ECEF_BOUND_M) / cell_m)
            packed[k, _PACK_POS + ax] = pos[r, ax]
            packed[k, _PACK_VEL + ax] = vel[r, ax]
            packed[k, _PACK_UP + ax] = up[r, ax]
        packed[k, _PACK_ALT] = alt_m[r]
        packed[k, _PACK_VZ] = vel_up_mps[r]
        packed_int[k, _PACK_ROW] = r
        packed_int[k, _PACK_PARTY] = party[r]
        packed_int[k, _PACK_DOMAIN] = domain[r]
        reach_max_m = max(reach_max_m, math.sqrt(vel[r, 0] ** 2 + vel[r, 1] ** 2 + vel[r, 2] ** 2) * t)
    perm = morton_order(start, scratch[3], scratch[4])
    g_party64 = scratch[0]  # free again: the start cells are coded
    for k in range(n):
        if k + PREFETCH_AHEAD < n:  # the rows are read at random: fetch a few ahead
            ahead = perm[k + PREFETCH_AHEAD]
            prefetch(packed, ahead, 0)
            prefetch(packed, ahead, PACK_WORDS - 1)
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
