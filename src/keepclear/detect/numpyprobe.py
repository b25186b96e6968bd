"""The tactical probe in numpy alone: the same conflicts as ``probe.probe``, without numba.

For one-shot processes on up to some tens of thousands of units (``keepclear probe STATES.csv``),
where importing numba and loading the compiled kernels (about a CPU-second) costs more than the
whole detection. Same geometry (``relative.relative_motion``, the projection of
``pairsolve.solve_pair``), same candidates: every unit's swept segment is boxed in earth-centred
coordinates and grown exactly as in ``grid``; boxes are entered in the cells of a coarse grid,
sorted by cell and floor altitude, and each entry is paired with the later entries of its cell
whose floor is not above its ceiling. A pair is kept in the first cell its two boxes share only,
then solved exactly, all as whole-array operations. Work and memory grow with the pairs of nearby
units, so the compiled probe stays the one for large or dense pictures.

>>> import numpy as np
>>> from keepclear.detect.states import TrackStates
>>> s = TrackStates(("a", "b"), np.array([0, 1]), np.array([0, 0]), np.zeros(2),
...     np.array([0.0, 0.0]), np.array([-0.1, 0.1]), np.full(2, 3000.0),
...     np.array([100.0, -100.0]), np.zeros(2), np.zeros(2))
>>> c = probe_numpy(s, 0.0)
>>> [(c.unit_a[0], c.unit_b[0]), round(float(c.tcpa_s[0]), 1), bool(c.los[0])]
[('a', 'b'), 111.3, False]
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from keepclear.detect.conflicts import Conflicts, Part, assemble
from keepclear.detect.minima import DOMAIN_CODES, ProbeSettings
from keepclear.detect.relative import relative_motion
from keepclear.detect.states import Kinematics, TrackStates
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: As in ``grid``: the smallest earth radius of curvature (m), bounding how far two tangent-plane
#: paths leave their common plane, and the box bounds (clipping keeps every overlap).
_MIN_RADIUS_M = 6.3e6
_ECEF_BOUND_M = 1.2e7
#: As in ``pairsolve``: below these relative speeds a pair moves together (m²/s², m/s).
_STILL_MPS2 = 1e-12
_STILL_V_MPS = 1e-9
#: Altitude steps (m) of the floor/ceiling sort, from this base, in this many bits (clipped).
_ALT_STEP_M = 16.0
_ALT_BASE_M = -5_000.0
_ALT_BITS = 14
#: Grid cells are this many times the horizontal minimum, and no smaller than a quarter of the
#: longest sweep (a box spans a few cells per axis).
_CELL_PER_MINIMUM = 4.0


def probe_numpy(states: TrackStates, time_s: float, settings: ProbeSettings | None = None) -> Conflicts:
    """Conflicts among ``states`` extrapolated to ``time_s``: ``probe.probe``'s answer, in numpy."""
    settings = settings or ProbeSettings()
    kin = kinematics_numpy(states, time_s)
    parts: list[Part] = []
    for dom_a, dom_b, minima in settings.domain_pairs():
        code_a, code_b = DOMAIN_CODES[dom_a], DOMAIN_CODES[dom_b]
        in_a = states.domain == code_a
        in_b = states.domain == code_b
        if not (bool(in_a.any()) and bool(in_b.any())):
            continue
        rows = np.flatnonzero(in_a | in_b).astype(np.int64)
        if rows.shape[0] < 2:
            continue
        i, j = candidates(
            kin, states, rows, code_a != code_b, minima.horizontal_m, minima.vertical_m, minima.lookahead_s
        )
        near = near_pairs(
            kin,
            i,
            j,
            minima.horizontal_m,
            minima.vertical_m,
            minima.lookahead_s,
            _reach_max_m(kin, rows, minima.lookahead_s),
        )
        i, j = i[near], j[near]
        keep, values = solve_pairs(kin, i, j, minima.horizontal_m, minima.vertical_m, minima.lookahead_s)
        parts.append((i[keep], j[keep], values, (minima.horizontal_m, minima.vertical_m, minima.lookahead_s)))
    return assemble(states, parts)


def kinematics_numpy(states: TrackStates, time_s: float) -> Kinematics:
    """``kinematics.kinematics_at`` as whole-array operations: each unit extrapolated in a straight
    line from its report to ``time_s``, in earth-centred metres."""
    lat = np.radians(np.asarray(states.lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(states.lon_deg, dtype=np.float64))
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    sin_lon, cos_lon = np.sin(lon), np.cos(lon)
    radius = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    ve = np.asarray(states.vel_east_mps, dtype=np.float64)
    vn = np.asarray(states.vel_north_mps, dtype=np.float64)
    vel = np.stack(
        (-sin_lon * ve - sin_lat * cos_lon * vn, cos_lon * ve - sin_lat * sin_lon * vn, cos_lat * vn), axis=1
    )
    dt = (float(time_s) - np.asarray(states.time_s, dtype=np.float64))[:, None]
    surface = np.stack(
        (radius * cos_lat * cos_lon, radius * cos_lat * sin_lon, radius * (1.0 - WGS84_E2) * sin_lat), axis=1
    )
    up = np.stack((cos_lat * cos_lon, cos_lat * sin_lon, sin_lat), axis=1)
    vz = np.array(states.vel_up_mps, dtype=np.float64)
    alt = np.asarray(states.alt_m, dtype=np.float64) + vz * dt[:, 0]
    return Kinematics(surface + vel * dt, vel, up, alt, vz)


def candidates(
    kin: Kinematics,
    states: TrackStates,
    rows: IntArray,
    cross: bool,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
) -> tuple[IntArray, IntArray]:
    """Row pairs ``(i, j)``, ``i < j``, of different parties (and domains when ``cross``) whose
    grown swept boxes and altitude intervals overlap: a superset of the conflicts, each pair once."""
    t = float(lookahead_s)
    pos, vel = kin.pos[rows], kin.vel[rows]
    end = pos + vel * t
    reach_m = np.sqrt(np.sum(vel * vel, axis=1)) * t
    reach_max_m = float(reach_m.max(initial=0.0))
    per_reach = _per_reach(horizontal_m, reach_max_m)
    margin_m = (0.5 * horizontal_m + 50.0 + per_reach * reach_m)[:, None]
    lo = np.clip(np.minimum(pos, end) - margin_m, -_ECEF_BOUND_M, _ECEF_BOUND_M)
    hi = np.clip(np.maximum(pos, end) + margin_m, -_ECEF_BOUND_M, _ECEF_BOUND_M)
    cell_m = max(_CELL_PER_MINIMUM * horizontal_m, reach_max_m / 4.0, 1_000.0)
    first = np.floor(lo / cell_m).astype(np.int64)
    last = np.floor(hi / cell_m).astype(np.int64)
    alt_lo, alt_hi = _altitude_steps(kin.alt_m[rows], kin.vel_up_mps[rows], t, vertical_m)

    # One entry per (unit, cell of its box); cells numbered densely after sorting. An entry's
    # mask has bit a set when its cell is the first of its unit's box along axis a.
    span = last - first + 1
    count = span[:, 0] * span[:, 1] * span[:, 2]
    unit = np.repeat(np.arange(rows.shape[0], dtype=np.int64), count)
    k = np.arange(unit.shape[0], dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    sy, sz = span[unit, 1], span[unit, 2]
    offset = np.stack((k // (sy * sz), (k // sz) % sy, k % sz), axis=1)
    mask = ((offset == 0) * np.array([1, 2, 4])).sum(axis=1).astype(np.int8)
    cell = first[unit] + offset
    base = cell.min(axis=0, initial=0)
    width = cell.max(axis=0, initial=0) - base + 1
    key = ((cell[:, 0] - base[0]) * width[1] + (cell[:, 1] - base[1])) * width[2] + (cell[:, 2] - base[2])
    # Entries sorted by cell, then mask, then floor altitude: a (cell, mask) group is a run.
    order = np.lexsort((alt_lo[unit], mask, key))
    unit, key, mask = unit[order], key[order], mask[order].astype(np.int64)
    rank = np.concatenate(([0], np.cumsum(key[1:] != key[:-1]))).astype(np.int64)
    floor = (((rank << 3) + mask) << _ALT_BITS) + alt_lo[unit]
    p, q = _overlapping_entries(floor, rank, mask, alt_lo[unit], alt_hi[unit])
    party = states.party[rows[unit]]
    keep = party[p] != party[q]
    if cross:
        domain = states.domain[rows[unit]]
        keep &= domain[p] != domain[q]
    u, w = unit[p[keep]], unit[q[keep]]
    keep = np.ones(u.shape[0], dtype=np.bool_)
    for axis in range(3):  # the boxes themselves overlap (sharing a cell is not enough)
        lo_a, hi_a = np.ascontiguousarray(lo[:, axis]), np.ascontiguousarray(hi[:, axis])
        keep &= (lo_a[u] <= hi_a[w]) & (lo_a[w] <= hi_a[u])
    ru, rw = rows[u[keep]], rows[w[keep]]
    return np.minimum(ru, rw), np.maximum(ru, rw)


def _overlapping_entries(
    floor: IntArray, rank: IntArray, mask: IntArray, alt_lo: IntArray, alt_hi: IntArray
) -> tuple[IntArray, IntArray]:
    """Entry pairs ``(p, q)`` of one cell whose altitude steps overlap and whose masks together
    cover the three axes (the cell is the first the two boxes share), each pair once.

    ``floor`` is the sorted key (cell rank, mask, floor step). Each pair is found from the entry with
    the lower floor (ties: the lower mask, then the earlier entry), as a range of the other's
    (cell, mask) run: floors from its own floor up to its ceiling.
    """
    entry = np.arange(floor.shape[0], dtype=np.int64)
    starts: list[IntArray] = []
    stops: list[IntArray] = []
    owners: list[IntArray] = []
    for other in range(8):
        mine = np.flatnonzero((mask | other) == 7)
        group = ((rank[mine] << 3) + other) << _ALT_BITS
        if other == 7:  # p's own run only when p's mask is 7 as well; later entries of it
            same = mask[mine] == 7
            start = np.where(same, entry[mine] + 1, np.searchsorted(floor, group + alt_lo[mine], side="left"))
        else:
            side_left = mask[mine] < other
            start = np.searchsorted(floor, group + alt_lo[mine], side="left")
            start_right = np.searchsorted(floor, group + alt_lo[mine], side="right")
            start = np.where(side_left, start, start_right)
        stop = np.searchsorted(floor, group + alt_hi[mine], side="right")
        starts.append(start)
        stops.append(stop)
        owners.append(mine)
    start, stop, owner = np.concatenate(starts), np.concatenate(stops), np.concatenate(owners)
    count = np.maximum(stop - start, 0)
    narrow = np.int32 if int(count.sum()) < 2**31 else np.int64  # half the bytes to move, most of the time
    p = np.repeat(owner.astype(narrow), count)
    q = np.arange(p.shape[0], dtype=narrow) + np.repeat((start - (np.cumsum(count) - count)).astype(narrow), count)
    return p, q


def _reach_max_m(kin: Kinematics, rows: IntArray, lookahead_s: float) -> float:
    """The longest horizontal sweep of ``rows`` over the lookahead (m)."""
    vel = kin.vel[rows]
    return float(np.sqrt(np.sum(vel * vel, axis=1)).max(initial=0.0)) * float(lookahead_s)


def _per_reach(horizontal_m: float, reach_max_m: float) -> float:
    """As in ``grid``: how far two tangent-plane paths within reach leave their common plane, per
    metre of sweep, at most ``(reach_i + reach_j)(H + 2 U) / 2 R``."""
    return (horizontal_m + 2.0 * reach_max_m) / (2.0 * _MIN_RADIUS_M)


def near_pairs(
    kin: Kinematics,
    i: IntArray,
    j: IntArray,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
    reach_max_m: float,
) -> BoolArray:
    """``grid``'s pre-test, in float64: False where the straight ECEF paths stay farther apart than
    the minimum plus both out-of-plane bounds (and slack) throughout the time the two units may be
    vertically close. Only pairs that cannot conflict are False."""
    t = float(lookahead_s)
    pos, vel = kin.pos.T, kin.vel.T
    dx, dy, dz = (pos[k][j] - pos[k][i] for k in range(3))
    wx, wy, wz = (vel[k][j] - vel[k][i] for k in range(3))
    reach_m = horizontal_m + 2.0 * reach_max_m * _per_reach(horizontal_m, reach_max_m) + 100.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t0, t1 = np.zeros(i.shape[0]), np.full(i.shape[0], t)
        if not math.isinf(vertical_m):
            hz = kin.alt_m[j] - kin.alt_m[i]
            rate = kin.vel_up_mps[j] - kin.vel_up_mps[i]
            moving = np.abs(rate) > 1e-3
            slow = np.where(moving, rate, 1.0)
            ta, tb = (-(vertical_m + 1.0) - hz) / slow, ((vertical_m + 1.0) - hz) / slow
            t0 = np.where(moving, np.maximum(0.0, np.minimum(ta, tb)), 0.0)
            t1 = np.where(moving, np.minimum(t, np.maximum(ta, tb)), t)
            t1 = np.where(~moving & (np.abs(hz) > vertical_m + 1.0 + 1e-3 * t), -1.0, t1)
        ww = wx * wx + wy * wy + wz * wz
        dw = dx * wx + dy * wy + dz * wz
        tc = np.clip(-dw / np.where(ww > 0.0, ww, 1.0), t0, t1)
        d2 = dx * dx + dy * dy + dz * dz + tc * (2.0 * dw + ww * tc)
        near: BoolArray = (t0 <= t1) & (d2 <= reach_m * reach_m)
    return near


def _altitude_steps(alt_m: FloatArray, vz_mps: FloatArray, t: float, vertical_m: float) -> tuple[IntArray, IntArray]:
    """Floor and ceiling of each unit's altitude interval over the lookahead, grown by half the
    vertical minimum, in clipped steps (clipping keeps the order, so overlaps are kept)."""
    if math.isinf(vertical_m):
        n = alt_m.shape[0]
        return np.zeros(n, dtype=np.int64), np.full(n, (1 << _ALT_BITS) - 1, dtype=np.int64)
    a1 = alt_m + vz_mps * t
    top = float((1 << _ALT_BITS) - 1)
    lo = np.floor((np.minimum(alt_m, a1) - 0.5 * vertical_m - 1e-6 - _ALT_BASE_M) / _ALT_STEP_M)
    hi = np.ceil((np.maximum(alt_m, a1) + 0.5 * vertical_m + 1e-6 - _ALT_BASE_M) / _ALT_STEP_M)
    return np.clip(lo, 0.0, top).astype(np.int64), np.clip(hi, 0.0, top).astype(np.int64)


def solve_pairs(
    kin: Kinematics, i: IntArray, j: IntArray, horizontal_m: float, vertical_m: float, lookahead_s: float
) -> tuple[BoolArray, FloatArray]:
    """``pairsolve.solve_pair`` over arrays of pairs: which pairs conflict, and for those the
    ``(6, k)`` values ``t_in_s, t_out_s, tcpa_s, dcpa_m, vsep_cpa_m, los``."""
    t = float(lookahead_s)
    rel = relative_motion(kin, i, j)
    mean_up = kin.up[i] + kin.up[j]
    valid = np.sum(mean_up * mean_up, axis=1) >= 1e-18  # antipodes: never within any minimum
    a, b, c0 = rel.vv, rel.sv, rel.ss
    c = c0 - horizontal_m * horizontal_m
    still = a < _STILL_MPS2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = b * b - a * c
        sq = np.sqrt(np.maximum(disc, 0.0))
        q = np.where(b > 0.0, -(b + sq), -b + sq)
        r1, r2 = q / a, c / q
        tcpa = np.where(still, 0.0, np.maximum(0.0, -b / a))
        th1 = np.where(still, -np.inf, np.minimum(r1, r2))
        th2 = np.where(still, np.inf, np.maximum(r1, r2))
        dcpa2 = np.where(still, c0, np.maximum(0.0, c0 + 2.0 * b * tcpa + a * tcpa * tcpa))
        valid &= np.where(still, c < 0.0, disc > 0.0)
        valid &= (th2 > 0.0) & (th1 < t)
        hz, vz = rel.dz_m, rel.dvz_mps
        if math.isinf(vertical_m):
            tv1 = np.full(hz.shape, -np.inf)
            tv2 = np.full(hz.shape, np.inf)
        else:
            level = np.abs(vz) < _STILL_V_MPS
            valid &= ~level | (np.abs(hz) < vertical_m)
            s1, s2 = (-vertical_m - hz) / vz, (vertical_m - hz) / vz
            tv1 = np.where(level, -np.inf, np.minimum(s1, s2))
            tv2 = np.where(level, np.inf, np.maximum(s1, s2))
        t_in, t_out = np.maximum(th1, tv1), np.minimum(th2, tv2)
        valid &= (t_in < t_out) & (t_out > 0.0) & (t_in < t)
    k = np.flatnonzero(valid)
    values = np.stack(
        (
            np.maximum(t_in[k], 0.0),
            np.minimum(t_out[k], t),
            tcpa[k],
            np.sqrt(dcpa2[k]),
            np.abs(hz[k] + vz[k] * tcpa[k]),
            (t_in[k] < 0.0).astype(np.float64),
        )
    )
    return valid, values
