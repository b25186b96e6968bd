"""Geographic cells for detector workers: who owns a unit, what else a worker must see, who owns a pair.

Pure: states, the probe time and a worker's cells come in; row indices and masks go out.

**The grid.** Latitude bands ``cell_deg`` high from the south pole; each band is cut into as many
equal longitude cells as fit ``cell_deg`` of arc at its equatorward edge (at least one), so cells
stay roughly square up to the poles instead of shrinking to slivers. Cell ids count band by band
from the south, west to east from -180°, so "the lower cell" is a plain integer comparison. The
default, 10°, is the trade-off for the default minima: a cell is ~2 times the default halo
(~550 km, ``detect.halos``), so a cell's halo reaches its neighbours only and a worker's view stays a small
multiple of its own area; and the globe still has 442 cells to spread over tens of workers. Smaller cells balance finer but widen the view (the halo is set by the minima,
not by the cells); every size is exact.

**The halo** (``detect.halos``): how far from a unit a partner it can conflict with may be reported;
a unit within its domain's speed and age caps is *narrow*, any other *wide* (a halo of its own).

**Ownership.** A pair of narrow units belongs to the lower of their two cells; a pair with one wide
unit to the narrow unit's cell; two wide units to the lower cell. The owner's worker sees both units
(its own cell, the halo, or the wide unit's own halo, which reaches any partner it can meet), so the union of the workers' owned pairs is the
single probe's pairs, each exactly once.

>>> grid = CellGrid(10.0)
>>> int(grid.cell_of(np.array([-89.0]), np.array([0.0]))[0]), grid.cell_count
(3, 442)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit
from keepclear.detect.halos import AgeCaps, SpeedCaps, angles_rad, halo_angle_rad
from keepclear.detect.minima import DOMAIN_CODES, ProbeSettings
from keepclear.detect.states import TrackStates

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CellGrid:
    """Latitude bands ``cell_deg`` high, each cut into near-square longitude cells (see the module)."""

    cell_deg: float = 10.0
    band_columns: IntArray = field(init=False, repr=False, compare=False)
    band_first: IntArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cell_deg) and 0.01 <= self.cell_deg <= 90.0):
            raise ValueError(f"cell_deg: {self.cell_deg!r} must be a number from 0.01 to 90")
        bands = math.ceil(180.0 / self.cell_deg - 1e-9)
        columns = np.empty(bands, dtype=np.int64)
        for b in range(bands):
            lo, hi = -90.0 + b * self.cell_deg, min(-90.0 + (b + 1) * self.cell_deg, 90.0)
            equatorward = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
            columns[b] = max(1, math.floor(360.0 * math.cos(math.radians(equatorward)) / self.cell_deg + 1e-9))
        object.__setattr__(self, "band_columns", columns)
        object.__setattr__(self, "band_first", np.concatenate(([0], np.cumsum(columns)[:-1])).astype(np.int64))

    @property
    def cell_count(self) -> int:
        """Number of cells on the globe."""
        return int(self.band_columns.sum())

    def cell_of(self, lat_deg: FloatArray, lon_deg: FloatArray) -> IntArray:
        """The cell of each position (the south pole is in the first cell, 180° is -180°)."""
        out = np.empty(lat_deg.shape[0], dtype=np.int64)
        _cells(
            np.ascontiguousarray(lat_deg, dtype=np.float64),
            np.ascontiguousarray(lon_deg, dtype=np.float64),
            self.cell_deg,
            self.band_columns,
            self.band_first,
            out,
        )
        return out

    def block_of(self, cells: IntArray, block_deg: float) -> IntArray:
        """The ``block_deg`` × ``block_deg`` latitude/longitude block holding each cell's centre: a
        key for ``assign_cells`` that keeps neighbouring cells on one worker (fewer halos)."""
        if not (math.isfinite(block_deg) and block_deg >= self.cell_deg):
            raise ValueError(f"block_deg: {block_deg!r} must be a number >= cell_deg ({self.cell_deg})")
        cells = np.asarray(cells, dtype=np.int64)
        band = np.searchsorted(self.band_first, cells, side="right") - 1
        cols = self.band_columns[band]
        lat_c = np.minimum(-90.0 + (band + 0.5) * self.cell_deg, 90.0)
        lon_c = -180.0 + 360.0 * ((cells - self.band_first[band]) + 0.5) / cols
        per_row = math.ceil(360.0 / block_deg)
        return np.asarray(
            np.floor((lat_c + 90.0) / block_deg).astype(np.int64) * per_row
            + np.floor((lon_c + 180.0) / block_deg).astype(np.int64),
            dtype=np.int64,
        )

    def bounds_deg(self, cell: int) -> tuple[float, float, float, float]:
        """``(lat_lo, lat_hi, lon_lo, lon_hi)`` of ``cell`` in degrees."""
        if not 0 <= cell < self.cell_count:
            raise ValueError(f"cell: {cell} is not in 0..{self.cell_count - 1}")
        band = int(np.searchsorted(self.band_first, cell, side="right")) - 1
        col, cols = cell - int(self.band_first[band]), int(self.band_columns[band])
        lat_lo = -90.0 + band * self.cell_deg
        return lat_lo, min(lat_lo + self.cell_deg, 90.0), -180.0 + 360.0 * col / cols, -180.0 + 360.0 * (col + 1) / cols


def wide_halos_rad(plan: CellPlan, states: TrackStates, time_s: float, wide: BoolArray) -> FloatArray:
    """For each wide unit, its own halo: how far from its report position a partner it can conflict
    with may be reported — its own speed and age, and the partner's cap (a narrow partner) or the
    fastest wide unit of the partner's domain (a wide one), per pair of domains. A worker must see a
    wide unit only within that halo of its cells (``view_for``). Narrow units get the plan's halo;
    units of an unknown domain ``π`` (everywhere)."""
    code = np.asarray(states.domain)
    speed_mps = np.hypot(states.vel_east_mps, states.vel_north_mps)
    age_s = np.abs(float(time_s) - states.time_s)
    caps, ages = plan.caps.by_code(), plan.ages.by_code()
    out = np.full(len(states), plan.halo_rad)
    known = (code >= 0) & (code < len(DOMAIN_CODES))
    out[wide & ~known] = math.pi
    best = np.zeros(len(states))
    for dom_w, code_w in DOMAIN_CODES.items():
        mine = wide & (code == code_w)
        if not bool(mine.any()):
            continue
        best_w = np.zeros(int(mine.sum()))
        for dom_p, code_p in DOMAIN_CODES.items():
            minima = plan.settings.minima_for(dom_w, dom_p)
            look_s = minima.lookahead_s
            partner_m = caps[code_p] * (look_s + ages[code_p])
            wide_p = wide & (code == code_p)
            if bool(wide_p.any()):
                partner_m = max(partner_m, float(np.max(speed_mps[wide_p] * (look_s + age_s[wide_p]))))
            reach_m = speed_mps[mine] * (look_s + age_s[mine]) + partner_m
            best_w = np.maximum(best_w, angles_rad(np.full(reach_m.shape, minima.horizontal_m), reach_m))
        best[mine] = best_w
    out[wide & known] = best[wide & known]
    return out


@dataclass(frozen=True, slots=True)
class CellPlan:
    """Everything a worker needs to know to cut its share: the grid, the caps, the report age bound
    and the halo they give under ``settings``."""

    grid: CellGrid = field(default_factory=CellGrid)
    caps: SpeedCaps = field(default_factory=SpeedCaps)
    ages: AgeCaps = field(default_factory=AgeCaps)
    settings: ProbeSettings = field(default_factory=ProbeSettings)

    def __post_init__(self) -> None:
        for group, names in (("caps", ("air_mps", "land_mps", "sea_mps")), ("ages", ("air_s", "land_s", "sea_s"))):
            for name in names:
                value = getattr(getattr(self, group), name)
                if not (math.isfinite(value) and value >= 0):
                    raise ValueError(f"{group}.{name}: {value!r} must be a finite number >= 0")

    @property
    def halo_rad(self) -> float:
        """The halo as an angle between normals (``halo_angle_rad``)."""
        return halo_angle_rad(self.settings, self.caps, self.ages)

    def wide(self, states: TrackStates, time_s: float) -> BoolArray:
        """Units every worker sees: over their domain's speed cap, or reported further from
        ``time_s`` (either way) than their domain's age cap."""
        speed_mps = np.hypot(states.vel_east_mps, states.vel_north_mps)
        code = np.clip(states.domain, 0, len(DOMAIN_CODES) - 1)
        unknown = (states.domain < 0) | (states.domain >= len(DOMAIN_CODES))
        age_s = np.abs(float(time_s) - states.time_s)
        over = (speed_mps > self.caps.by_code()[code]) | (age_s > self.ages.by_code()[code])
        return np.asarray(over | unknown, dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One worker's share of ``states``: ``rows`` (ascending) are the units it must see, ``cell``
    and ``wide`` their cells and wide flags, ``owned`` its cells as a mask over the grid."""

    rows: IntArray
    cell: IntArray
    wide: BoolArray
    owned: BoolArray

    def subset(self, states: TrackStates) -> TrackStates:
        """The states of ``rows`` alone, in that order."""
        r = self.rows
        return TrackStates(
            tuple(states.unit_ids[k] for k in r.tolist()),
            states.party[r],
            states.domain[r],
            states.time_s[r],
            states.lat_deg[r],
            states.lon_deg[r],
            states.alt_m[r],
            states.vel_east_mps[r],
            states.vel_north_mps[r],
            states.vel_up_mps[r],
        )

    def owns(self, local_a: IntArray, local_b: IntArray) -> BoolArray:
        """Which pairs (rows into ``subset``) this worker owns (see the module for the rule)."""
        ca, cb = self.cell[local_a], self.cell[local_b]
        wa, wb = self.wide[local_a], self.wide[local_b]
        owner = np.where(wa & ~wb, cb, np.where(wb & ~wa, ca, np.minimum(ca, cb)))
        return np.asarray(self.owned[owner], dtype=np.bool_)


def view_for(plan: CellPlan, states: TrackStates, time_s: float, cells: IntArray) -> WorkerView:
    """The units a worker owning ``cells`` must see at ``time_s``: its cells' units, the narrow units
    within the plan's halo of any of its cells, and the wide units within their own halo of one
    (``wide_halos_rad``)."""
    grid = plan.grid
    owned = np.zeros(grid.cell_count, dtype=np.bool_)
    owned[np.asarray(cells, dtype=np.int64)] = True
    cell = grid.cell_of(states.lat_deg, states.lon_deg)
    wide = plan.wide(states, time_s)
    seen = np.empty(len(states), dtype=np.bool_)
    _near_owned(
        np.ascontiguousarray(states.lat_deg, dtype=np.float64),
        np.ascontiguousarray(states.lon_deg, dtype=np.float64),
        wide_halos_rad(plan, states, time_s, wide),
        grid.cell_deg,
        grid.band_columns,
        grid.band_first,
        owned,
        seen,
    )
    rows = np.flatnonzero(seen).astype(np.int64)
    return WorkerView(rows=rows, cell=cell[rows], wide=wide[rows], owned=owned)


def cells_in_view(plan: CellPlan, cells: IntArray) -> IntArray:
    """Every cell whose units a worker owning ``cells`` may have to see (its own and the halo's),
    ascending: the track subjects it subscribes to, besides the wide units'. A superset of the
    cells of ``view_for``'s narrow units, for any states. Scans the whole grid: ~10 ms for 1° cells,
    once per change of assignment."""
    grid = plan.grid
    owned = np.zeros(grid.cell_count, dtype=np.bool_)
    owned[np.asarray(cells, dtype=np.int64)] = True
    near = np.empty(grid.cell_count, dtype=np.bool_)
    _cells_near_owned(plan.halo_rad, grid.cell_deg, grid.band_columns, grid.band_first, owned, near)
    return np.flatnonzero(near | owned).astype(np.int64)


def assign_cells(cells: IntArray, workers: Sequence[str], keys: IntArray | None = None) -> dict[str, IntArray]:
    """Cells per worker by rendezvous hashing: each cell goes to the worker with the highest hash of
    (worker, key), the key being the cell itself or its entry in ``keys`` (cells with one key stay
    together: ``CellGrid.block_of``). The same members give the same map in every process, and
    when a worker leaves only its own cells move, spread over the rest."""
    if not workers:
        raise ValueError("workers: at least one worker is needed")
    if len(set(workers)) != len(workers):
        raise ValueError("workers: names must be unique")
    cell_list = np.asarray(cells, dtype=np.int64)
    key_list = cell_list if keys is None else np.asarray(keys, dtype=np.int64)
    if key_list.shape != cell_list.shape:
        raise ValueError(f"keys: {key_list.shape[0]} keys for {cell_list.shape[0]} cells")
    scores = np.empty((len(workers), cell_list.shape[0]), dtype=np.uint64)
    for w, name in enumerate(workers):
        seed = hashlib.blake2b(name.encode(), digest_size=8).digest()
        scores[w] = _mix(key_list.astype(np.uint64) ^ np.frombuffer(seed, dtype=np.uint64)[0])
    winner = np.argmax(scores, axis=0) if cell_list.shape[0] else np.empty(0, dtype=np.int64)
    return {name: cell_list[winner == w] for w, name in enumerate(workers)}


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finalizer: a well-spread 64-bit hash of each value."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(x ^ (x >> np.uint64(31)), dtype=np.uint64)


@jit
def _band_col(lat_deg: float, lon_deg: float, cell_deg: float, columns: IntArray) -> tuple[int, int]:
    bands = columns.shape[0]
    band = min(max(math.floor((lat_deg + 90.0) / cell_deg), 0), bands - 1)
    cols = columns[band]
    col = math.floor((lon_deg + 180.0) / 360.0 * cols) % cols
    return band, col


@jit
def _cells(
    lat_deg: FloatArray, lon_deg: FloatArray, cell_deg: float, columns: IntArray, first: IntArray, out: IntArray
) -> None:
    for k in range(lat_deg.shape[0]):
        band, col = _band_col(lat_deg[k], lon_deg[k], cell_deg, columns)
        out[k] = first[band] + col


@jit
def _box_meets_owned(
    lat_lo: float,
    lat_hi: float,
    lon_lo: float,
    lon_hi: float,
    halo_rad: float,
    cell_deg: float,
    columns: IntArray,
    first: IntArray,
    owned: BoolArray,
) -> bool:
    """Whether an owned cell meets the box ``[lat_lo, lat_hi] × [lon_lo, lon_hi]`` grown by the
    bounding box of a cap of radius ``halo_rad`` around each of its points (a point is a box with
    no extent)."""
    halo_deg = math.degrees(halo_rad) + 1e-9
    bands = columns.shape[0]
    lo = lat_lo - halo_deg
    hi = lat_hi + halo_deg
    if hi >= 90.0 or lo <= -90.0 or halo_rad >= math.pi / 2:
        half_lon = 360.0
    else:
        poleward = max(abs(lat_lo), abs(lat_hi))
        ratio = math.sin(halo_rad) / math.cos(math.radians(poleward))
        half_lon = 360.0 if ratio >= 1.0 else math.degrees(math.asin(ratio)) + 1e-9
    b_lo = min(max(math.floor((lo + 90.0) / cell_deg), 0), bands - 1)
    b_hi = min(max(math.floor((hi + 90.0) / cell_deg), 0), bands - 1)
    for b in range(b_lo, b_hi + 1):
        cols = columns[b]
        c_lo = math.floor((lon_lo - half_lon + 180.0) / 360.0 * cols)
        c_hi = math.floor((lon_hi + half_lon + 180.0) / 360.0 * cols)
        if half_lon >= 180.0 or c_hi - c_lo >= cols - 1:
            c_lo, c_hi = 0, cols - 1
        for c in range(c_lo, c_hi + 1):
            if owned[first[b] + c % cols]:
                return True
    return False


@jit
def _near_owned(
    lat_deg: FloatArray,
    lon_deg: FloatArray,
    halo_rad: FloatArray,
    cell_deg: float,
    columns: IntArray,
    first: IntArray,
    owned: BoolArray,
    out: BoolArray,
) -> None:
    """``out[k]``: an owned cell meets the bounding box of the cap of radius ``halo_rad[k]`` around
    unit ``k`` (so every owned cell within the halo of the unit is found, and a few more)."""
    for k in range(lat_deg.shape[0]):
        lat, lon = lat_deg[k], lon_deg[k]
        out[k] = _box_meets_owned(lat, lat, lon, lon, halo_rad[k], cell_deg, columns, first, owned)


@jit
def _cells_near_owned(
    halo_rad: float, cell_deg: float, columns: IntArray, first: IntArray, owned: BoolArray, out: BoolArray
) -> None:
    """``out[c]``: some point of cell ``c`` is near an owned cell in ``_near_owned``'s sense (the
    cell's box grown with the widest cap of its points)."""
    for b in range(columns.shape[0]):
        lat_lo = -90.0 + b * cell_deg
        lat_hi = min(lat_lo + cell_deg, 90.0)
        cols = columns[b]
        for c in range(cols):
            lon_lo = -180.0 + 360.0 * c / cols
            lon_hi = -180.0 + 360.0 * (c + 1) / cols
            # grown by a hair so that a unit on the cell's edge is inside whatever the rounding
            out[first[b] + c] = _box_meets_owned(
                lat_lo - 1e-7, lat_hi + 1e-7, lon_lo - 1e-7, lon_hi + 1e-7, halo_rad, cell_deg, columns, first, owned
            )
