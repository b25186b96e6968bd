"""Cells for detector workers: the union of the workers' owned pairs is the single probe's, each once.

The single-process probe is the exact oracle (its own tests hold it to a brute-force one). Scenes
sit on cell boundaries, across the antimeridian and at the poles, with cells smaller and larger
than the halo, units over their speed cap and stale reports (the wide units every worker sees).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepclear.detect.cells import CellGrid, CellPlan, assign_cells, cells_in_view, view_for
from keepclear.detect.halos import AgeCaps, SpeedCaps, halo_m
from keepclear.detect.minima import DOMAIN_CODES, ProbeSettings, SeparationMinima
from keepclear.detect.probe import Conflicts, probe
from keepclear.detect.states import TrackStates
from keepclear.domain import Domain
from keepclear.geo import bearing_deg, destination
from keepclear.services.tactical.partitioned import PartitionedProbe


def make_states(rows: list[tuple[float, ...]]) -> TrackStates:
    """rows: (party, domain, time_s, lat, lon, alt_m, ve, vn, vu)."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 9)
    return TrackStates(
        tuple(f"u{k:03d}" for k in range(len(a))),
        a[:, 0].astype(np.int64),
        a[:, 1].astype(np.int64),
        *(a[:, c].copy() for c in range(2, 9)),
    )


def _rows(s: TrackStates) -> list[tuple[float, ...]]:
    """``make_states``'s rows back from states."""
    cols = (s.party, s.domain, s.time_s, s.lat_deg, s.lon_deg, s.alt_m, s.vel_east_mps, s.vel_north_mps, s.vel_up_mps)
    return [tuple(float(c[k]) for c in cols) for k in range(len(s))]


def pairs(c: Conflicts) -> list[tuple[int, int]]:
    return sorted(zip(c.row_a.tolist(), c.row_b.tolist(), strict=True))


def values(c: Conflicts) -> dict[tuple[int, int], tuple[float, ...]]:
    cols = (c.t_in_s, c.t_out_s, c.tcpa_s, c.dcpa_m, c.vsep_cpa_m, c.los, c.horizontal_m, c.lookahead_s)
    return {
        (int(a), int(b)): tuple(float(col[k]) for col in cols)
        for k, (a, b) in enumerate(zip(c.row_a, c.row_b, strict=True))
    }


def assert_partition_matches(
    states: TrackStates, time_s: float, plan: CellPlan, workers: int, block_deg: float | None = None
) -> Conflicts:
    single = probe(states, time_s, plan.settings)
    partitioned = PartitionedProbe(plan, [f"w{k}" for k in range(workers)], block_deg=block_deg)
    shares = partitioned.shares(states, time_s)
    found = [p for s in shares for p in pairs(s.conflicts)]
    if plan.grid.cell_deg >= 1.0:  # the subjects a worker subscribes to hold every narrow unit it sees
        for share in shares:
            subscribed = set(cells_in_view(plan, partitioned.cells[share.worker]).tolist())
            assert set(partitioned.cells[share.worker].tolist()) <= subscribed
            assert set(share.view.cell[~share.view.wide].tolist()) <= subscribed
    assert len(found) == len(set(found)), "a pair is owned by two workers"
    assert sorted(found) == pairs(single)
    merged = partitioned.probe(states, time_s)
    assert values(merged) == values(single)
    return single


SLOW = ProbeSettings(
    air_air=SeparationMinima(9_260.0, 300.0, 60.0),
    air_land=SeparationMinima(3_704.0, 900.0, 30.0),
    air_sea=SeparationMinima(3_704.0, 900.0, 30.0),
    sea_sea=SeparationMinima(1_852.0, math.inf, 60.0),
    land_land=SeparationMinima(2_000.0, math.inf, 60.0),
    land_sea=SeparationMinima(2_000.0, math.inf, 60.0),
)


@st.composite
def scenes(draw: st.DrawFn) -> tuple[TrackStates, CellPlan]:
    cell_deg = draw(st.sampled_from([0.25, 0.5, 1.0, 3.0, 10.0, 45.0]))
    near_edge = [k * cell_deg + e for k in (-2, -1, 0, 1, 2) for e in (0.0, 1e-9, -1e-7, 0.004)]
    lat0 = draw(st.one_of(st.sampled_from([90.0, -90.0, 89.99, -89.9, 88.0, *near_edge]), st.floats(-90, 90)))
    lon0 = draw(st.one_of(st.sampled_from([180.0, -180.0, 179.99, -179.995, *near_edge]), st.floats(-180, 180)))
    lat0 = min(max(lat0, -90.0), 90.0)
    lon0 = (lon0 + 180.0) % 360.0 - 180.0
    probe_settings = draw(st.sampled_from([ProbeSettings(), SLOW]))
    caps = draw(st.sampled_from([SpeedCaps(), SpeedCaps(250.0, 20.0, 20.0), SpeedCaps(120.0, 5.0, 5.0)]))
    ages = draw(st.sampled_from([AgeCaps.uniform(0.0), AgeCaps.uniform(10.0), AgeCaps(10.0, 60.0, 30.0), AgeCaps()]))
    spread_m = draw(st.sampled_from([5_000.0, 40_000.0, 150_000.0]))
    n = draw(st.integers(2, 30))
    rows = []
    # A tight scene: every unit at its cap, reported as late as allowed, heading for the centre to
    # pass it by half the minimum at the end of the lookahead (the pairs the halo must just hold).
    # With ``over`` > 1 every unit is over its cap (wide): the pairs that stretch wide units' halos.
    tight = draw(st.booleans())
    over = draw(st.sampled_from([1.0, 1.0, 2.5]))
    for _ in range(n):
        domain = draw(st.sampled_from([0, 0, 0, 1, 2]))
        age_s = float(ages.by_code()[domain])
        report_s = -age_s if tight else draw(st.sampled_from([0.0, -age_s, age_s, -5.0, -30.0, 20.0]))
        cap_mps = float(caps.by_code()[domain])
        speed = cap_mps * over if tight else draw(st.sampled_from([cap_mps, cap_mps * 0.999, 0.0, 19.9, 300.0]))
        if tight or draw(st.booleans()):
            # Heading for the centre, to be there near the end of the lookahead: the pairs that
            # stretch the halo furthest.
            lookahead_s = max(m.lookahead_s for a, b, m in probe_settings.domain_pairs() if domain in _codes(a, b))
            meet_s = lookahead_s * draw(st.sampled_from([1.0, 0.9999, 0.98, 0.5]))
            toward = draw(st.one_of(st.sampled_from([0.0, 90.0, 180.0, 270.0]), st.floats(0, 360)))
            horizontal_m = max(m.horizontal_m for a, b, m in probe_settings.domain_pairs() if domain in _codes(a, b))
            miss_m = horizontal_m * draw(st.sampled_from([0.0, 0.499, 0.4999]))
            lat, lon = destination(lat0, lon0, toward, speed * (meet_s - report_s) + miss_m)
            bearing = math.radians(float(bearing_deg(lat, lon, lat0, lon0)))
        else:
            lat, lon = destination(lat0, lon0, draw(st.floats(0, 360)), draw(st.floats(0, spread_m)))
            bearing = math.radians(draw(st.floats(0, 360)))
        rows.append(
            (
                draw(st.integers(0, 2)),
                domain,
                report_s,
                float(lat),
                float(lon),
                draw(st.sampled_from([1_000.0, 9_000.0, draw(st.floats(0, 12_000))])),
                speed * math.sin(bearing),
                speed * math.cos(bearing),
                0.0 if draw(st.booleans()) else draw(st.floats(-15, 15)),
            )
        )
    return make_states(rows), CellPlan(CellGrid(cell_deg), caps, ages, probe_settings)


def _codes(a: Domain, b: Domain) -> tuple[int, int]:
    return DOMAIN_CODES[a], DOMAIN_CODES[b]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.integers(1, 4), st.sampled_from([None, 1.0, 3.0]))
def test_union_of_workers_is_the_single_probe_each_pair_once(
    scene: tuple[TrackStates, CellPlan], workers: int, blocks: float | None
) -> None:
    states, plan = scene
    block_deg = None if blocks is None else plan.grid.cell_deg * blocks
    single = assert_partition_matches(states, 0.0, plan, workers, block_deg)
    # Sharper than the union (scattered cells hide a short halo): the owner cell alone sees its pairs.
    cell, wide = plan.grid.cell_of(states.lat_deg, states.lon_deg), plan.wide(states, 0.0)
    for a, b in pairs(single):
        owner = cell[b] if wide[a] and not wide[b] else cell[a] if wide[b] and not wide[a] else min(cell[a], cell[b])
        view = view_for(plan, states, 0.0, np.array([owner]))
        assert {a, b} <= set(view.rows.tolist()), (a, b, owner)
        if plan.grid.cell_deg >= 1.0:
            subscribed = set(cells_in_view(plan, np.array([owner])).tolist())
            assert set(view.cell[~view.wide].tolist()) <= subscribed, owner


def test_head_on_pair_meeting_at_the_end_of_the_lookahead_across_a_boundary() -> None:
    # Two jets at the air cap, head on across the 0° meridian (a cell boundary), closing to just
    # inside 5 NM at 300 s: the widest pair the halo must hold. Cells of 1°, 4 workers.
    plan = CellPlan(CellGrid(1.0), ages=AgeCaps.uniform(0.0))
    gap_m = 9_260.0 + 2 * 700.0 * 300.0 - 1_000.0
    half_deg = math.degrees(gap_m / 2 / 6_378_137.0)
    s = make_states([(0, 0, 0, 0.5, -half_deg, 9000, 700, 0, 0), (1, 0, 0, 0.5, half_deg, 9000, -700, 0, 0)])
    single = assert_partition_matches(s, 0.0, plan, 4)
    assert len(single) == 1 and single.t_in_s[0] > 290.0
    assert halo_m(plan.settings, plan.caps, plan.ages) == pytest.approx(429_260.0)
    # The worst case for the halo: the lower cell's unit on its edge nearest the other, and a worker
    # owning that one cell.
    s = make_states([(0, 0, 0, 0.5, -1e-9, 9000, 700, 0, 0), (1, 0, 0, 0.5, 2 * half_deg, 9000, -700, 0, 0)])
    assert len(probe(s, 0.0, plan.settings)) == 1
    owner = plan.grid.cell_of(s.lat_deg, s.lon_deg)[0]
    assert view_for(plan, s, 0.0, np.array([owner])).rows.tolist() == [0, 1]


def test_a_worker_sees_its_cells_and_the_halo_but_not_far_units() -> None:
    plan = CellPlan(CellGrid(10.0), ages=AgeCaps.uniform(0.0))
    cell = int(plan.grid.cell_of(np.array([45.0]), np.array([5.0]))[0])
    s = make_states(
        [
            (0, 0, 0, 45.0, 5.0, 9000, 0, 0, 0),  # in the cell
            (0, 0, 0, 53.0, 5.0, 9000, 0, 0, 0),  # 3° north of it: in the halo (~4°)
            (0, 0, 0, 60.0, 5.0, 9000, 0, 0, 0),  # 10° north: out
            # Wide units are seen within their own halo: their speed and age, their partners' caps.
            (0, 0, 0, 60.0, 5.0, 9000, 800, 0, 0),  # over the air cap, but ~540 km reach: out
            (0, 0, -120, 60.0, 5.0, 9000, 0, 0, 0),  # stale but still: out
            (0, 0, -120, 51.5, 5.0, 9000, 0, 0, 0),  # stale, 170 km from the cell: in
        ]
    )
    view = view_for(plan, s, 0.0, np.array([cell]))
    assert view.rows.tolist() == [0, 1, 5]
    # A wide unit fast enough to reach the cell, and with it the wide units it could meet there.
    faster = make_states([*_rows(s), (0, 0, 0, 60.0, 5.0, 9000, 4000, 0, 0)])
    assert view_for(plan, faster, 0.0, np.array([cell])).rows.tolist() == [0, 1, 3, 4, 5, 6]
    subscribed = cells_in_view(plan, np.array([cell]))
    assert cell in subscribed and plan.grid.cell_of(np.array([53.0]), np.array([5.0]))[0] in subscribed
    assert plan.grid.cell_of(np.array([60.0]), np.array([5.0]))[0] not in subscribed
    assert 4 <= len(subscribed) <= 12


@pytest.mark.parametrize("lat0", [0.0, 50.0, 75.0, -80.0])
def test_units_at_the_edge_of_the_halo_are_seen_and_their_cells_subscribed(lat0: float) -> None:
    plan = CellPlan(CellGrid(1.0))
    halo_deg = math.degrees(plan.halo_rad)
    owner = int(plan.grid.cell_of(np.array([lat0 + 0.5]), np.array([0.5]))[0])
    lat_lo, lat_hi, lon_lo, lon_hi = plan.grid.bounds_deg(owner)
    rows = []
    for corner_lat, corner_lon, bearing in ((lat_hi, lon_hi, 45.0), (lat_lo, lon_lo, 225.0), (lat_hi, lon_lo, 0.0)):
        for frac in (0.9, 0.99):
            lat, lon = destination(corner_lat, corner_lon, bearing, frac * plan.halo_rad * 6_300_000.0)
            rows.append((0, 0, 0, float(lat), float(lon), 9000, 0, 0, 0))
    s = make_states(rows)
    view = view_for(plan, s, 0.0, np.array([owner]))
    assert view.rows.tolist() == list(range(len(rows)))
    subscribed = set(cells_in_view(plan, np.array([owner])).tolist())
    assert set(view.cell.tolist()) <= subscribed
    assert halo_deg > 4.0


def test_motion_beyond_a_third_of_the_earth_makes_the_halo_the_whole_globe() -> None:
    # The limit of the halo's bound: beyond it every worker sees every unit (exact, not partitioned).
    plan = CellPlan(CellGrid(10.0), SpeedCaps(air_mps=5_000.0), AgeCaps(air_s=600.0))
    assert plan.halo_rad == math.pi
    s = make_states([(0, 0, 0, 45.0, 5.0, 9000, 0, 0, 0), (1, 0, 0, -45.0, -175.0, 9000, 0, 0, 0)])
    cell = int(plan.grid.cell_of(np.array([45.0]), np.array([5.0]))[0])
    assert view_for(plan, s, 0.0, np.array([cell])).rows.tolist() == [0, 1]
    assert CellPlan().halo_rad < math.radians(5.0)


def test_a_leaving_worker_moves_only_its_own_cells() -> None:
    cells = np.arange(CellGrid(3.0).cell_count)
    four = assign_cells(cells, ["a", "b", "c", "d"])
    three = assign_cells(cells, ["a", "b", "d"])
    assert sorted(np.concatenate(list(four.values())).tolist()) == cells.tolist()
    for name in ("a", "b", "d"):
        assert set(four[name].tolist()) <= set(three[name].tolist())
    moved = [len(set(three[n].tolist()) - set(four[n].tolist())) for n in ("a", "b", "d")]
    assert sum(moved) == len(four["c"]) and min(moved) > 0.2 * len(four["c"])
    assert min(len(v) for v in four.values()) > 0.8 * len(cells) / 4
    assert {k: v.tolist() for k, v in assign_cells(cells, ["d", "c", "b", "a"]).items()} == {
        k: v.tolist() for k, v in four.items()
    }


def test_cells_of_one_block_go_to_one_worker_and_blocks_spread() -> None:
    grid = CellGrid(2.0)
    cells = np.arange(grid.cell_count)
    blocks = grid.block_of(cells, 10.0)
    assigned = assign_cells(cells, ["a", "b", "c"], blocks)
    owner = np.empty(grid.cell_count, dtype=np.int64)
    for k, name in enumerate(("a", "b", "c")):
        owner[assigned[name]] = k
    for block in np.unique(blocks).tolist():
        assert len(set(owner[blocks == block].tolist())) == 1
    assert min(len(v) for v in assigned.values()) > 0.2 * grid.cell_count
    europe = grid.cell_of(np.array([50.5, 51.5, 59.0]), np.array([4.5, 1.0, 8.0]))
    assert len(set(grid.block_of(europe, 10.0).tolist())) == 1


def test_grid_cells_stay_near_square_to_the_poles_and_cover_the_globe() -> None:
    grid = CellGrid(10.0)
    assert grid.cell_count == 442
    lat = np.array([-90.0, -89.0, 0.0, 89.999, 90.0, 45.0, 45.0])
    lon = np.array([0.0, 179.9, -180.0, 0.0, 180.0, 180.0, -180.0])
    cells = grid.cell_of(lat, lon)
    assert cells[5] == cells[6] and cells[2] == grid.band_first[9]  # 180° is -180°
    for c, la, lo in zip(cells.tolist(), lat.tolist(), lon.tolist(), strict=True):
        lat_lo, lat_hi, lon_lo, lon_hi = grid.bounds_deg(c)
        assert lat_lo <= la <= lat_hi and (lon_lo <= lo < lon_hi or lo == 180.0)
    assert grid.band_columns[0] == 6 and grid.band_columns[9] == 36


def test_a_plan_with_bad_numbers_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="cell_deg"):
        CellGrid(0.0)
    with pytest.raises(ValueError, match=r"ages\.land_s"):
        CellPlan(ages=AgeCaps(land_s=-1.0))
    with pytest.raises(ValueError, match=r"caps\.air_mps"):
        CellPlan(caps=SpeedCaps(air_mps=math.nan))
    with pytest.raises(ValueError, match="workers"):
        assign_cells(np.arange(3), [])
    with pytest.raises(ValueError, match="keys"):
        assign_cells(np.arange(3), ["a"], np.arange(2))
    with pytest.raises(ValueError, match="block_deg"):
        CellGrid(10.0).block_of(np.arange(3), 5.0)
