"""The probe against BlueSky and DAIDALUS (CD3D 5 NM / 1,000 ft / 300 s) on 1,000 random aircraft."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
from tactical_oracle import interval, pair_motion
from tactical_refs import bluesky_states, reference_dir

from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.probe import probe
from keepclear.detect.states import TrackStates


def _pairs(path: str, tin: str) -> dict[tuple[str, str], float]:
    with (reference_dir("bluesky-n1000") / path).open(newline="") as f:
        return {tuple(sorted((r["own"], r["intr"]))): float(r[tin]) for r in csv.DictReader(f)}  # type: ignore[misc]


def _settings(scale: float = 1.0) -> ProbeSettings:
    return ProbeSettings(air_air=SeparationMinima(5 * 1852.0 * scale, 1000 * 0.3048, 300.0))


def _borderline_set(dcpa: dict[tuple[str, str], float], tin: dict[tuple[str, str], float]) -> set[tuple[str, str]]:
    """Pairs within 1 % of the horizontal minimum at closest approach, or entering within 1 s of the lookahead."""
    return {k for k, d in dcpa.items() if abs(d - 9260.0) < 92.6} | {k for k, t in tin.items() if t > 299.0}


def test_same_unique_pairs_as_bluesky_and_daidalus() -> None:
    states = bluesky_states(reference_dir("bluesky-n1000") / "states.csv")
    got = probe(states, 0.0, _settings())
    mine = {(a, b): float(d) for a, b, d in zip(got.unit_a, got.unit_b, got.dcpa_m, strict=True)}
    mine_tin = dict(zip(zip(got.unit_a, got.unit_b, strict=True), got.t_in_s.tolist(), strict=True))
    bluesky = _pairs("bluesky_pairs.csv", "tin_s")
    daidalus = _pairs("daidalus_cd3d_pairs.csv", "tin_s")
    assert len(bluesky) == 302 and len(daidalus) == 302
    borderline = _borderline_set(mine, mine_tin)
    assert set(mine) - borderline == set(bluesky) - borderline
    assert set(mine) - borderline == set(daidalus) - borderline
    # Today there is not even a borderline difference: the three sets are equal.
    assert set(mine) == set(bluesky) == set(daidalus)
    assert int(got.los.sum()) == 51


def test_time_in_within_one_second_apart_from_explained_borderline_pairs() -> None:
    """Time-in agrees within 1 s, except where the pair is sensitive to conventions, shown pair by pair.

    The two references disagree with each other by up to 3 s on long, grazing encounters. Three
    conventions differ: earth model (WGS-84 here, spheres of 6,371 km and 6,366.7 km there, ~0.2 %),
    the projection (tangent plane at the pair's midpoint here, at the ownship there) and the
    direction of the intruder's velocity: the references reuse its east/north components in the
    ownship's frame, this probe carries the vector along the earth (great-circle motion), which
    turns it by the meridian convergence (Δlon·sin lat, up to 0.6° here). A pair is explained when
    every reference lies within 1 s of the times-in spanned by those conventions and ±1 % of the
    horizontal minimum (the README's borderline tolerance).
    """
    states = bluesky_states(reference_dir("bluesky-n1000") / "states.csv")
    base = _settings()
    got = probe(states, 0.0, base)
    refs = [_pairs("bluesky_pairs.csv", "tin_s"), _pairs("daidalus_cd3d_pairs.csv", "tin_s")]
    index = {u: k for k, u in enumerate(states.unit_ids)}
    explained: list[tuple[str, str]] = []
    for a, b, t_in in zip(got.unit_a, got.unit_b, got.t_in_s.tolist(), strict=True):
        if all(abs(t_in - r[(a, b)]) <= 1.0 for r in refs):
            continue
        i, j = index[a], index[b]
        times = [t_in]
        for scale in (0.99, 1.0, 1.01):
            cfg = _settings(scale)
            pm = pair_motion(states, 0.0, i, j, cfg)
            for rotate in (False, True):
                if rotate:
                    pm = replace(pm, w=_reference_convention_velocity(states, i, j))
                iv = interval(pm)
                if iv is not None:
                    times.append(iv[0])
        lo, hi = min(times) - 1.0, max(times) + 1.0
        assert all(lo <= r[(a, b)] <= hi for r in refs), (a, b, t_in, times, [r[(a, b)] for r in refs])
        explained.append((a, b))
    print(f"{len(explained)} of {len(got)} pairs explained by conventions")
    assert len(explained) <= 50, explained
    assert len(got) - len(explained) >= 250


def _reference_convention_velocity(states: TrackStates, i: int, j: int) -> np.ndarray:
    """Relative velocity with both units' east/north components taken as they are (no convergence)."""
    return np.array(
        [
            float(states.vel_east_mps[j] - states.vel_east_mps[i]),
            float(states.vel_north_mps[j] - states.vel_north_mps[i]),
        ]
    )
