"""The probe against a brute-force oracle: hypothesis states and the cases that break detectors."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tactical_oracle import interval, min_margin, oracle, pair_motion

from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.probe import Conflicts, CullGrid, probe
from keepclear.detect.states import TrackStates
from keepclear.geo import destination, distance_m

#: Relative margin (of the minima) within which a pair is a threshold-borderline case.
BORDER = 1e-6


def make_states(rows: list[tuple[float, ...]]) -> TrackStates:
    """rows: (party, domain, time_s, lat, lon, alt_m, ve, vn, vu)."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 9)
    return TrackStates(
        tuple(f"u{k:03d}" for k in range(len(a))),
        a[:, 0].astype(np.int64),
        a[:, 1].astype(np.int64),
        a[:, 2].copy(),
        a[:, 3].copy(),
        a[:, 4].copy(),
        a[:, 5].copy(),
        a[:, 6].copy(),
        a[:, 7].copy(),
        a[:, 8].copy(),
    )


def as_dict(c: Conflicts) -> dict[tuple[int, int], int]:
    return {(int(a), int(b)): k for k, (a, b) in enumerate(zip(c.row_a, c.row_b, strict=True))}


def assert_matches_oracle(
    states: TrackStates, time_s: float, cfg: ProbeSettings, grid: CullGrid | None = None
) -> Conflicts:
    got = probe(states, time_s, cfg, grid)
    values = np.column_stack([got.t_in_s, got.t_out_s, got.tcpa_s, got.dcpa_m, got.vsep_cpa_m])
    assert np.all(np.isfinite(values)), "probe returned a non-finite value"
    assert np.all(got.row_a < got.row_b)
    found = as_dict(got)
    assert len(found) == len(got), "a pair is reported twice"
    expected = oracle(states, time_s, cfg)
    for pair in set(found) | set(expected):
        pm = pair_motion(states, time_s, *pair, cfg)
        margin = min_margin(pm)
        if pair in expected and pair not in found:
            assert margin > -BORDER, f"missed conflict {pair}: {expected[pair]} margin {margin}"
        elif pair in found and pair not in expected:
            assert margin < BORDER * 10 + 1e-3, f"invented conflict {pair} margin {margin}"
        elif pair in found:
            k = found[pair]
            t_in, t_out = expected[pair]
            span = max(t_out - t_in, 1e-9)
            tol = 1e-6 * max(1.0, pm.lookahead_s)
            if span > 1e-3:
                assert abs(got.t_in_s[k] - t_in) < max(tol, 1e-3), (pair, got.t_in_s[k], t_in)
                assert abs(got.t_out_s[k] - t_out) < max(tol, 1e-3), (pair, got.t_out_s[k], t_out)
                mid = 0.5 * (got.t_in_s[k] + got.t_out_s[k])
                h, v = pm.inside(mid)
                assert h < pm.horizontal_m * (1 + BORDER) and v < pm.vertical_m * (1 + BORDER)
            assert (
                bool(got.los[k])
                == (
                    interval(pm) is not None
                    and pm.inside(0.0)[0] < pm.horizontal_m
                    and pm.inside(0.0)[1] < pm.vertical_m
                )
                or abs(pm.inside(0.0)[0] - pm.horizontal_m) < 1e-3
            )
    return got


SPECIAL_LATS = [90.0, -90.0, 89.99, -89.97, 0.0, 52.0, 35.0]
SPECIAL_LONS = [180.0, -180.0, 179.995, -179.995, 0.0, 36.5]


@st.composite
def scenes(draw: st.DrawFn) -> tuple[TrackStates, ProbeSettings]:
    lat0 = draw(st.one_of(st.sampled_from(SPECIAL_LATS), st.floats(-90, 90)))
    lon0 = draw(st.one_of(st.sampled_from(SPECIAL_LONS), st.floats(-180, 180)))
    n = draw(st.integers(2, 24))
    spread_m = draw(st.sampled_from([2_000.0, 20_000.0, 80_000.0]))
    shared_v = (draw(st.floats(-250, 250)), draw(st.floats(-250, 250)))
    shared_alt = draw(st.floats(0, 12_000))
    rows = []
    for _ in range(n):
        bearing = draw(st.floats(0, 360))
        dist = draw(st.floats(0, spread_m))
        lat, lon = destination(lat0, lon0, bearing, dist)
        kind = draw(st.sampled_from(["shared", "still", "free"]))
        if kind == "shared":
            ve, vn = shared_v
        elif kind == "still":
            ve, vn = 0.0, 0.0
        else:
            ve, vn = draw(st.floats(-300, 300)), draw(st.floats(-300, 300))
        alt = shared_alt if draw(st.booleans()) else draw(st.floats(0, 12_000))
        vu = 0.0 if draw(st.booleans()) else draw(st.floats(-15, 15))
        rows.append(
            (
                draw(st.integers(0, 2)),
                draw(st.sampled_from([0, 0, 0, 1, 2])),
                draw(st.sampled_from([0.0, -5.0, -30.0])),
                float(lat),
                float(lon),
                alt,
                ve,
                vn,
                vu,
            )
        )
    scale = draw(st.sampled_from([1.0, 3.0]))
    base = ProbeSettings()
    cfg = ProbeSettings(
        air_air=SeparationMinima(base.air_air.horizontal_m * scale, base.air_air.vertical_m, base.air_air.lookahead_s)
    )
    return make_states(rows), cfg


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.sampled_from([CullGrid(), CullGrid(1_000.0), CullGrid(5_000.0), CullGrid(500_000.0)]))
def test_probe_finds_exactly_the_oracle_conflicts_on_random_scenes(
    scene: tuple[TrackStates, ProbeSettings], grid: CullGrid
) -> None:
    states, cfg = scene
    assert_matches_oracle(states, 0.0, cfg, grid)


def test_identical_velocities_already_in_loss_are_found() -> None:
    # BlueSky's compiled detector misses this one: same velocity, 3 km apart, same altitude.
    s = make_states([(0, 0, 0, 52.0, 5.0, 9000, 200, 50, 0), (1, 0, 0, 52.02, 5.0, 9000, 200, 50, 0)])
    got = assert_matches_oracle(s, 0.0, ProbeSettings())
    assert len(got) == 1 and bool(got.los[0])
    assert got.t_in_s[0] == 0.0 and got.t_out_s[0] == 300.0


def test_stationary_units_at_the_same_point_conflict_for_the_whole_lookahead() -> None:
    s = make_states([(0, 1, 0, 35.0, 36.0, 300, 0, 0, 0), (1, 1, 0, 35.0, 36.0, 300, 0, 0, 0)])
    got = assert_matches_oracle(s, 0.0, ProbeSettings())
    assert len(got) == 1 and got.dcpa_m[0] == 0.0 and got.t_out_s[0] == 1800.0


def test_units_of_one_party_never_conflict() -> None:
    s = make_states([(3, 0, 0, 35.0, 36.0, 9000, 100, 0, 0), (3, 0, 0, 35.0, 36.001, 9000, -100, 0, 0)])
    assert len(probe(s, 0.0)) == 0


def test_head_on_across_the_antimeridian() -> None:
    # 40 km apart across ±180°, closing at 400 m/s: CPA after 100 s, inside from (40000-9260)/400 s.
    lat = 10.0
    s = make_states([(0, 0, 0, lat, 179.8174, 9000, 200, 0, 0), (1, 0, 0, lat, -179.8174, 9000, -200, 0, 0)])
    got = assert_matches_oracle(s, 0.0, ProbeSettings())
    gap = float(distance_m(lat, 179.8174, lat, -179.8174))
    assert len(got) == 1
    assert math.isclose(got.tcpa_s[0], gap / 400.0, rel_tol=1e-3)
    assert math.isclose(got.t_in_s[0], (gap - 9260.0) / 400.0, rel_tol=1e-3)


def test_crossing_the_pole() -> None:
    # Two aircraft 30 km either side of the north pole flying towards it, along opposite meridians.
    s = make_states([(0, 0, 0, 89.73, 0.0, 9000, 0, 250, 0), (1, 0, 0, 89.73, 180.0, 9000, 0, 250, 0)])
    got = assert_matches_oracle(s, 0.0, ProbeSettings())
    gap = float(distance_m(89.73, 0.0, 89.73, 180.0))
    assert len(got) == 1
    assert math.isclose(got.tcpa_s[0], gap / 500.0, rel_tol=2e-3)
    assert got.dcpa_m[0] < 50.0


def test_a_unit_exactly_at_the_pole() -> None:
    s = make_states([(0, 0, 0, 90.0, 45.0, 9000, 0, 0, 0), (1, 0, 0, 89.95, -120.0, 9000, 0, -100, 0)])
    got = assert_matches_oracle(s, 0.0, ProbeSettings())
    assert len(got) == 1 and bool(got.los[0])


def test_horizontal_distance_matches_the_geodesic_for_still_units() -> None:
    cases = [
        (52.0, 5.0, 52.05, 5.05),
        (0.0, 179.99, 0.01, -179.98),
        (89.99, 10.0, 89.98, -170.0),
        (-89.99, 0.0, -89.95, 90.0),
    ]
    for lat1, lon1, lat2, lon2 in cases:
        s = make_states([(0, 0, 0, lat1, lon1, 100, 0, 0, 0), (1, 0, 0, lat2, lon2, 100, 0, 0, 0)])
        cfg = ProbeSettings(air_air=SeparationMinima(50_000.0, 300.0, 60.0))
        got = probe(s, 0.0, cfg)
        assert len(got) == 1
        assert math.isclose(got.dcpa_m[0], float(distance_m(lat1, lon1, lat2, lon2)), rel_tol=1e-4)


def test_co_altitude_and_the_vertical_minimum() -> None:
    # Co-altitude and 999 ft apart conflict; 1001 ft apart does not.
    ft = 0.3048
    apart = make_states([(0, 0, 0, 35.0, 36.0, 9000, 0, 0, 0), (1, 0, 0, 35.0, 36.0, 9000 + 1001 * ft, 0, 0, 0)])
    same = make_states([(0, 0, 0, 35.0, 36.0, 9000, 0, 0, 0), (1, 0, 0, 35.0, 36.0, 9000, 0, 0, 0)])
    close = make_states([(0, 0, 0, 35.0, 36.0, 9000, 0, 0, 0), (1, 0, 0, 35.0, 36.0, 9000 + 999 * ft, 0, 0, 0)])
    assert len(probe(apart, 0.0)) == 0
    assert len(probe(close, 0.0)) == 1
    assert len(probe(same, 0.0)) == 1 and probe(same, 0.0).vsep_cpa_m[0] == 0.0


def test_a_slow_vertical_closure_over_a_long_lookahead_is_found() -> None:
    # Relative vertical rate 0.0009 m/s (below the pre-test's "level" threshold) closes 2 m past
    # the vertical minimum in ~2,222 s: the pre-test must not call the pair vertically apart.
    ft = 0.3048
    s = make_states(
        [(0, 0, 0, 35.0, 36.0, 9000, 0, 0, 0), (1, 0, 0, 35.0, 36.01, 9000 + 1000 * ft + 2.0, 0, 0, -0.0009)]
    )
    cfg = ProbeSettings(air_air=SeparationMinima(5 * 1852.0, 1000 * ft, 3600.0))
    got = assert_matches_oracle(s, 0.0, cfg)
    assert len(got) == 1 and abs(float(got.t_in_s[0]) - 2.0 / 0.0009) < 1.0


def test_reports_are_extrapolated_to_the_probe_time() -> None:
    # Reported 100 s ago 30 km apart head-on at 150 m/s each: now 0 km apart, already in loss.
    s = make_states([(0, 0, 100, 0.0, -0.13475, 9000, 150, 0, 0), (1, 0, 100, 0.0, 0.13475, 9000, -150, 0, 0)])
    got = assert_matches_oracle(s, 200.0, ProbeSettings())
    assert len(got) == 1 and bool(got.los[0])


def test_air_and_surface_units_use_their_own_minima() -> None:
    # A helicopter 1 km from a land unit and 500 m above it: inside 2 NM / 3000 ft.
    s = make_states([(0, 0, 0, 35.0, 36.0, 500, 0, 0, 0), (1, 1, 0, 35.009, 36.0, 0, 0, 0, 0)])
    got = probe(s, 0.0)
    assert len(got) == 1 and got.lookahead_s[0] == 120.0 and got.horizontal_m[0] == 2 * 1852.0


def test_empty_and_single_unit_states_give_no_conflicts() -> None:
    assert len(probe(make_states([]), 0.0)) == 0
    one = probe(make_states([(0, 0, 0, 35.0, 36.0, 9000, 100, 0, 0)]), 0.0)
    assert len(one) == 0 and one.unit_a == () and one.t_in_s.shape == (0,)


def test_mixed_domains_each_pair_gets_its_minima() -> None:
    # A vessel, a shore unit and a helicopter within a few hundred metres of each other, three parties.
    s = make_states(
        [
            (0, 2, 0, 35.0, 35.9, 0, 5, 0, 0),
            (1, 1, 0, 35.001, 35.9, 0, 0, 0, 0),
            (2, 0, 0, 35.0, 35.901, 200, 0, 0, 0),
        ]
    )
    got = assert_matches_oracle(s, 0.0, ProbeSettings())
    minima = {(int(a), int(b)): float(t) for a, b, t in zip(got.row_a, got.row_b, got.lookahead_s, strict=True)}
    assert minima == {(0, 1): 1800.0, (0, 2): 120.0, (1, 2): 120.0}
