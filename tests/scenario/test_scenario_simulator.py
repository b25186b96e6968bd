"""The simulator: deterministic for a seed, within each unit's performance, noisy and gappy as told."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import MINI_YAML
from keepclear.domain import Domain, Unit, track_report_problems
from keepclear.geo import LocalPlane, distance_m
from keepclear.scenario import Scenario, SensorModel, Simulator, UnitPlan, Waypoint, load_scenario
from keepclear.scenario.kinematics import Trajectory, integrate
from keepclear.scenario.model import DEFAULT_PERFORMANCE, Dropouts, LoiterDirection
from keepclear.scenario.schedule import FT_PER_M, KT_PER_MPS, route_timing_problems

START_S = 1_510_120_800.0  # 2017-11-08T06:00:00Z
PLANE = LocalPlane(35.0, 40.0)


@pytest.fixture
def mini(write_scenario: Callable[[str], Path]) -> Scenario:
    return load_scenario(write_scenario(MINI_YAML))


def _as_tuples(sim: Simulator) -> list[tuple[float, ...]]:
    return [
        (r.time_s, r.lat_deg, r.lon_deg, r.alt_m, r.vel_east_mps, r.vel_north_mps, r.vel_up_mps)
        for r in sim.reports_between(sim.start_s, sim.end_s)
    ]


def test_same_seed_gives_the_same_reports(mini: Scenario) -> None:
    assert _as_tuples(Simulator(mini)) == _as_tuples(Simulator(mini))


def test_another_seed_gives_other_noise(mini: Scenario) -> None:
    assert _as_tuples(Simulator(mini, seed=1)) != _as_tuples(Simulator(mini, seed=2))


def test_slicing_time_does_not_change_the_reports(mini: Scenario) -> None:
    sim = Simulator(mini)
    whole = sim.reports_between(sim.start_s, sim.end_s)
    edges = np.linspace(sim.start_s, sim.end_s, 37)
    sliced = [r for a, b in itertools.pairwise(edges) for r in sim.reports_between(float(a), float(b))]
    assert sliced == whole
    assert [r.time_s for r in whole] == sorted(r.time_s for r in whole)


def test_reports_are_valid_track_reports(mini: Scenario) -> None:
    sim = Simulator(mini)
    reports = sim.reports_between(sim.start_s, sim.end_s)
    assert reports and all(track_report_problems(r) == [] for r in reports)
    assert {r.unit_id for r in reports} == {"jet", "truck"}


def test_noise_has_the_sigma_asked_for(mini: Scenario) -> None:
    sensors = replace(mini.sensors, dropouts=Dropouts())
    sim = Simulator(mini, sensors=sensors)
    errors_m, alt_errors_m = [], []
    for r in sim.reports_between(sim.start_s, sim.end_s):
        truth = sim.truth_at(r.unit_id, r.time_s)
        assert truth is not None
        errors_m.append(float(distance_m(r.lat_deg, r.lon_deg, truth.lat_deg, truth.lon_deg)))
        alt_errors_m.append(r.alt_m - truth.alt_m)
    # The horizontal error of a 2-D Gaussian with sigma s per axis has an RMS of s * sqrt(2).
    rms_m = math.sqrt(float(np.mean(np.square(errors_m))))
    assert rms_m == pytest.approx(50.0 * math.sqrt(2.0), rel=0.1)
    assert float(np.std(alt_errors_m)) == pytest.approx(10.0, rel=0.1)


def test_dropouts_remove_about_the_share_asked_for(mini: Scenario) -> None:
    perfect = Simulator(mini, sensors=replace(mini.sensors, dropouts=Dropouts()))
    lossy = Simulator(mini, sensors=replace(mini.sensors, dropouts=Dropouts(probability=0.3)))
    kept = lossy.report_count() / perfect.report_count()
    assert 0.63 < kept < 0.77
    outages = Simulator(mini, sensors=replace(mini.sensors, dropouts=Dropouts(outages_per_h=6, outage_mean_s=120)))
    gaps = np.diff([r.time_s for r in outages.reports_between(outages.start_s, outages.end_s) if r.unit_id == "jet"])
    assert gaps.max() > 30.0  # a whole outage, not single lost reports


def test_timed_waypoint_is_met(mini: Scenario) -> None:
    sim = Simulator(mini, sensors=SensorModel())
    wp = mini.plans[0].route[1]
    assert wp.at_s is not None
    tr = sim.truth("jet")
    d = distance_m(tr.lat_deg, tr.lon_deg, wp.lat_deg, wp.lon_deg)
    closest = int(np.argmin(d))
    assert abs(tr.time_s[closest] - wp.at_s) < 20.0


def test_loiter_orbits_at_its_radius_until_its_time(mini: Scenario) -> None:
    sim = Simulator(mini, sensors=SensorModel())
    wp = mini.plans[0].route[2]
    assert wp.until_s is not None
    tr = sim.truth("jet")
    settled = (tr.time_s > wp.until_s - 600) & (tr.time_s < wp.until_s)
    r = distance_m(tr.lat_deg[settled], tr.lon_deg[settled], wp.lat_deg, wp.lon_deg)
    assert np.all(np.abs(r - wp.loiter_radius_m) < 300.0)
    assert tr.end_s > wp.until_s


def _check_limits(plan: UnitPlan, tr: Trajectory) -> None:
    perf = plan.performance
    dt = np.diff(tr.time_s)
    assert np.all(dt > 0)
    turn_dps = np.degrees(np.abs(np.diff(np.unwrap(np.radians(tr.heading_deg))))) / dt
    assert turn_dps.max() <= perf.max_turn_rate_dps + 1e-6
    assert tr.vel_up_mps.max() <= perf.max_climb_mps + 1e-6
    assert -tr.vel_up_mps.min() <= perf.max_descent_mps + 1e-6
    assert tr.speed_mps.min() >= perf.min_speed_mps - 1e-6
    assert tr.speed_mps.max() <= perf.max_speed_mps + 1e-6
    assert (np.abs(np.diff(tr.speed_mps)) / dt).max() <= perf.max_accel_mps2 + 1e-6
    # Positions move as the velocities say (speed from the geodetic positions within 2 %).
    ground_speed = np.hypot(tr.vel_east_mps, tr.vel_north_mps)[1:-1]
    assert np.all(np.abs(ground_speed - tr.speed_mps[1:-1]) <= 0.02 * tr.speed_mps[1:-1] + 0.05)


points = st.tuples(st.floats(34.0, 36.0), st.floats(39.0, 41.0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.lists(points, min_size=2, max_size=5),
    st.lists(st.floats(5000, 35000), min_size=5, max_size=5),
    st.floats(250, 550),
)
def test_aircraft_stay_within_performance_and_reach_the_end(
    positions: list[tuple[float, float]], alts_ft: list[float], speed_kt: float
) -> None:
    route = tuple(
        Waypoint(lat, lon, alt_ft / FT_PER_M, speed_kt / KT_PER_MPS)
        for (lat, lon), alt_ft in zip(positions, alts_ft, strict=False)
    )
    assume(
        all(
            float(distance_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)) > 20_000 for a, b in itertools.pairwise(route)
        )
    )
    perf = DEFAULT_PERFORMANCE[Domain.AIR]
    assume(not route_timing_problems(START_S, route, perf, Domain.AIR))
    plan = UnitPlan(Unit("a", "A", Domain.AIR, "jet", "f"), START_S, route, perf)
    tr = integrate(plan, PLANE, START_S + 6 * 3600)
    _check_limits(plan, tr)
    assert tr.end_s < START_S + 6 * 3600  # got there, did not circle a waypoint forever
    last = route[-1]
    assert float(distance_m(tr.lat_deg[-1], tr.lon_deg[-1], last.lat_deg, last.lon_deg)) < 3 * tr.speed_mps[-1]


near_points = st.tuples(st.floats(34.9, 35.1), st.floats(39.9, 40.1))


@settings(max_examples=20, deadline=None)
@given(st.lists(near_points, min_size=2, max_size=4, unique=True), st.floats(10, 40))
def test_ground_units_keep_to_their_route(positions: list[tuple[float, float]], speed_kt: float) -> None:
    route = tuple(Waypoint(lat, lon, 300.0, speed_kt / KT_PER_MPS) for lat, lon in positions)
    assume(
        all(float(distance_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)) > 100 for a, b in itertools.pairwise(route))
    )
    plan = UnitPlan(Unit("g", "G", Domain.LAND, "truck", "f"), START_S, route, DEFAULT_PERFORMANCE[Domain.LAND])
    tr = integrate(plan, PLANE, START_S + 48 * 3600)
    xs, ys = PLANE.to_xy(np.array([w.lat_deg for w in route]), np.array([w.lon_deg for w in route]))
    road = shapely.LineString(np.column_stack([xs, ys]))
    tx, ty = PLANE.to_xy(tr.lat_deg, tr.lon_deg)
    off_road_m = shapely.distance(shapely.points(tx, ty), road)
    assert float(np.max(off_road_m)) < 1.0
    assert tr.speed_mps.max() <= plan.performance.max_speed_mps + 1e-6
    assert (np.abs(np.diff(tr.speed_mps))).max() <= plan.performance.max_accel_mps2 + 1e-6
    assert (tr.lat_deg[-1], tr.lon_deg[-1]) == pytest.approx((route[-1].lat_deg, route[-1].lon_deg), abs=1e-6)


def test_founding_pack_respects_every_units_limits(euphrates: Scenario, euphrates_truth: Simulator) -> None:
    for plan in euphrates.plans:
        tr = euphrates_truth.truth(plan.unit.id)
        if plan.unit.domain is Domain.AIR:
            _check_limits(plan, tr)
        else:
            assert tr.speed_mps.max() <= plan.performance.max_speed_mps + 1e-6


def test_orbit_direction_is_honoured() -> None:
    route = (
        Waypoint(35.0, 39.5, 6000.0, 200.0),
        Waypoint(35.0, 40.0, 6000.0, 200.0, until_s=START_S + 3600, loiter_radius_m=8000.0,
                 loiter_direction=LoiterDirection.COUNTER_CLOCKWISE),
        Waypoint(35.0, 40.5, 6000.0, 200.0),
    )  # fmt: skip
    plan = UnitPlan(Unit("a", "A", Domain.AIR, "jet", "f"), START_S, route, DEFAULT_PERFORMANCE[Domain.AIR])
    tr = integrate(plan, PLANE, START_S + 7200)
    x, y = PLANE.to_xy(tr.lat_deg, tr.lon_deg)
    cx, cy = PLANE.to_xy(35.0, 40.0)
    mid = (tr.time_s > START_S + 1800) & (tr.time_s < START_S + 3500)
    angle = np.unwrap(np.arctan2(y[mid] - cy, x[mid] - cx))  # counter-clockwise is increasing
    assert angle[-1] - angle[0] > 2 * math.pi
