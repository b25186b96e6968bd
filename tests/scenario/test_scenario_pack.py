"""The founding pack does what its README promises, checked on the true trajectories.

The near miss really loses 5 NM / 1,000 ft; the partner unit really crosses the river; and no other
pair of units of different parties comes near the minima, even by a straight-line prediction over the
lookahead, so a replay shows the expected events and nothing else.
"""

from __future__ import annotations

import itertools

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from keepclear.domain import Domain
from keepclear.geo import distance_m
from keepclear.geo.shapes import buffer_m, plane_for, to_plane
from keepclear.scenario import Scenario, Simulator

NM_M = 1852.0
FT_M = 0.3048
#: (horizontal minimum m, vertical rule, lookahead s) per pair of domains, as in the design.
MINIMA = {
    frozenset({Domain.AIR}): (5 * NM_M, 1000 * FT_M, 300.0),
    frozenset({Domain.AIR, Domain.LAND}): (2 * NM_M, 3000 * FT_M, 120.0),
    frozenset({Domain.LAND}): (2000.0, None, 1800.0),
}


def _states(sim: Simulator, unit_id: str, grid: np.ndarray) -> tuple[np.ndarray, ...]:
    tr = sim.truth(unit_id)
    alive = (grid >= tr.start_s) & (grid <= tr.end_s)
    cols = [np.interp(grid, tr.time_s, c) for c in (tr.lat_deg, tr.lon_deg, tr.alt_m, tr.vel_east_mps,
                                                      tr.vel_north_mps, tr.vel_up_mps)]  # fmt: skip
    x, y = sim.plane.to_xy(cols[0], cols[1])
    return alive, cols[0], cols[1], x, y, cols[2], cols[3], cols[4], cols[5]


def _violations(
    sim: Simulator, a: str, b: str, domains: frozenset[Domain], grid: np.ndarray
) -> tuple[float | None, float | None]:
    """First grid times at which separation is lost, and at which straight lines predict its loss within
    the lookahead (None: never)."""
    h_m, v_rule_m, lookahead_s = MINIMA[domains]
    sa, sb = _states(sim, a, grid), _states(sim, b, grid)
    alive = sa[0] & sb[0]
    if not alive.any():
        return None, None
    tau = np.arange(0.0, lookahead_s + 1.0, 5.0)[:, None]
    dx = (sb[3] - sa[3])[alive] + tau * (sb[6] - sa[6])[alive]
    dy = (sb[4] - sa[4])[alive] + tau * (sb[7] - sa[7])[alive]
    dz = (sb[5] - sa[5])[alive] + tau * (sb[8] - sa[8])[alive]
    near = np.hypot(dx, dy) < h_m
    if v_rule_m is not None:
        near &= np.abs(dz) < v_rule_m
    now_m = distance_m(sa[1][alive], sa[2][alive], sb[1][alive], sb[2][alive])
    lost_now = now_m < h_m
    if v_rule_m is not None:
        lost_now &= np.abs(sa[5][alive] - sb[5][alive]) < v_rule_m
    times = grid[alive]
    predicted = near.any(axis=0)
    first_lost = float(times[lost_now][0]) if lost_now.any() else None
    first_predicted = float(times[predicted][0]) if predicted.any() else None
    return first_lost, first_predicted


def test_near_miss_pair_loses_separation_over_the_river(euphrates: Scenario, euphrates_truth: Simulator) -> None:
    viper, berkut = euphrates_truth.truth("viper-21"), euphrates_truth.truth("berkut-12")
    grid = np.arange(max(viper.start_s, berkut.start_s), min(viper.end_s, berkut.end_s), 1.0)
    lat_a, lon_a, alt_a = (np.interp(grid, viper.time_s, c) for c in (viper.lat_deg, viper.lon_deg, viper.alt_m))
    lat_b, lon_b, alt_b = (np.interp(grid, berkut.time_s, c) for c in (berkut.lat_deg, berkut.lon_deg, berkut.alt_m))
    horizontal_m = distance_m(lat_a, lon_a, lat_b, lon_b)
    lost = (horizontal_m < 5 * NM_M) & (np.abs(alt_a - alt_b) < 1000 * FT_M)
    assert lost.sum() > 30  # separation lost for more than half a minute
    closest = int(np.argmin(horizontal_m))
    assert horizontal_m[closest] < 2 * NM_M
    river = next(z for z in euphrates.zones if z.id == "euphrates-line")
    plane = plane_for(river.geometry)
    where = to_plane(Point(lon_a[closest], lat_a[closest]), plane)
    assert buffer_m(river.geometry, 5000.0, plane).contains(where)  # over the river
    # The probe must have warning time: both are more than 5 minutes apart at the start of their common time.
    assert horizontal_m[0] > 2 * 300 * 150.0


def test_partner_unit_crosses_the_river_and_no_one_else_does(euphrates: Scenario, euphrates_truth: Simulator) -> None:
    river = next(z for z in euphrates.zones if z.id == "euphrates-line")
    plane = plane_for(river.geometry)
    line = to_plane(river.geometry, plane)
    crossers = []
    for plan in euphrates.plans:
        if plan.unit.domain is not Domain.LAND:
            continue
        tr = euphrates_truth.truth(plan.unit.id)
        path = to_plane(LineString(np.column_stack([tr.lon_deg, tr.lat_deg])), plane)
        if path.crosses(line):
            crossers.append(plan.unit.id)
    assert crossers == ["saa-crossing"]
    tr = euphrates_truth.truth("saa-crossing")
    start = to_plane(Point(tr.lon_deg[0], tr.lat_deg[0]), plane)
    end = to_plane(Point(tr.lon_deg[-1], tr.lat_deg[-1]), plane)
    assert shapely.distance(start, line) > river.buffer_m and shapely.distance(end, line) > river.buffer_m


def test_only_the_expected_pairs_conflict(euphrates: Scenario, euphrates_truth: Simulator) -> None:
    party = euphrates.party_of_unit()
    domain = {p.unit.id: p.unit.domain for p in euphrates.plans}
    grid = np.arange(euphrates.start_s, euphrates.end_s, 10.0)
    lost, predicted = {}, {}
    for a, b in itertools.combinations(sorted(party), 2):
        if party[a] == party[b]:
            continue
        first_lost, first_predicted = _violations(euphrates_truth, a, b, frozenset({domain[a], domain[b]}), grid)
        if first_lost is not None:
            lost[frozenset({a, b})] = first_lost
        if first_predicted is not None:
            predicted[frozenset({a, b})] = first_predicted
    mayadin, palmyra = frozenset({"viper-21", "berkut-12"}), frozenset({"reaper-52", "grach-05"})
    assert set(lost) == {mayadin, palmyra}
    assert set(predicted) == {mayadin, palmyra}
    # Straight-line prediction sees each coming minutes before it happens: room for a caution, then a warning.
    for pair in (mayadin, palmyra):
        assert lost[pair] - predicted[pair] >= 240.0
    # Two encounters an hour apart: the first is over before the second begins.
    assert lost[palmyra] < predicted[mayadin] - 1800


def test_no_one_but_the_convoy_enters_a_de_escalation_zone(euphrates: Scenario, euphrates_truth: Simulator) -> None:
    zones = [z for z in euphrates.zones if z.kind.value == "de-escalation-zone" or z.id == "al-tanf"]
    party = euphrates.party_of_unit()
    entered = set()
    for plan in euphrates.plans:
        tr = euphrates_truth.truth(plan.unit.id)
        points = shapely.points(tr.lon_deg, tr.lat_deg)
        for zone in zones:
            if shapely.intersects(points, zone.geometry).any():
                entered.add((plan.unit.id, zone.id, zone.rules.access_for(party[plan.unit.id]).value))
    assert entered == {
        ("un-convoy-1", "dez-ghouta", "with-notice"),
        ("tanf-garrison", "al-tanf", "permitted"),
        ("reaper-52", "al-tanf", "permitted"),  # the coalition's MQ-9 flies from and back to al-Tanf
    }


def test_only_the_crossing_unit_enters_the_river_buffer(euphrates: Scenario, euphrates_truth: Simulator) -> None:
    river = next(z for z in euphrates.zones if z.id == "euphrates-line")
    plane = plane_for(river.geometry)
    corridor = buffer_m(river.geometry, river.buffer_m, plane)
    inside = set()
    for plan in euphrates.plans:
        tr = euphrates_truth.truth(plan.unit.id)
        in_band = (tr.alt_m / FT_M >= river.altitude.lower_ft) & (tr.alt_m / FT_M <= river.altitude.upper_ft)
        x, y = plane.to_xy(tr.lat_deg[in_band], tr.lon_deg[in_band])
        if len(x) and shapely.contains_xy(corridor, x, y).any():
            inside.add(plan.unit.id)
    assert inside == {"saa-crossing"}
