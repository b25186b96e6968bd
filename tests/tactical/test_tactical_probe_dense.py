"""The probe where its buffers must grow (a dense cluster: more entries in one cell run, and
more conflicts, than they start with) and where the grid's sort key does not fit one word with
the payload (fine cells over the whole globe): the same answer whatever the culling grid."""

from __future__ import annotations

import numpy as np

from keepclear.detect.minima import ProbeSettings
from keepclear.detect.probe import Conflicts, CullGrid, probe
from keepclear.detect.states import TrackStates
from keepclear.geo import destination


def dense_cluster(n: int, seed: int = 7) -> TrackStates:
    """``n`` aircraft of two alternating parties within 2 km and 100 m of each other, slow."""
    rng = np.random.default_rng(seed)
    lat, lon = destination(35.0, 36.5, rng.uniform(0.0, 360.0, n), rng.uniform(0.0, 2_000.0, n))
    return TrackStates(
        tuple(f"u{k:04d}" for k in range(n)),
        np.arange(n, dtype=np.int64) % 2,
        np.zeros(n, dtype=np.int64),
        np.zeros(n),
        lat,
        lon,
        rng.uniform(3_000.0, 3_100.0, n),
        rng.uniform(-20.0, 20.0, n),
        rng.uniform(-20.0, 20.0, n),
        np.zeros(n),
    )


def by_pair(c: Conflicts) -> tuple[np.ndarray, np.ndarray]:
    """Rows and values sorted by pair, for comparing two answers exactly."""
    order = np.lexsort((c.row_b, c.row_a))
    rows = np.stack([c.row_a[order], c.row_b[order]])
    values = np.stack([c.t_in_s, c.t_out_s, c.tcpa_s, c.dcpa_m, c.vsep_cpa_m, c.los.astype(np.float64)])
    return rows, values[:, order]


def test_a_dense_cluster_finds_every_cross_party_pair_with_buffers_grown() -> None:
    # 300 entries share a cell run (the run buffers start at 256) and 22,500 conflicts exceed
    # the output's first capacity (one per grid entry).
    n = 300
    states = dense_cluster(n)
    got = probe(states, 0.0, ProbeSettings())
    expected = {(i, j) for i in range(n) for j in range(i + 1, n) if (i + j) % 2 == 1}
    assert set(zip(got.row_a.tolist(), got.row_b.tolist(), strict=True)) == expected
    assert len(got) == len(expected)
    assert bool(got.los.all())
    assert np.all(np.isfinite(np.stack([got.t_in_s, got.t_out_s, got.tcpa_s, got.dcpa_m, got.vsep_cpa_m])))


def test_the_culling_grid_changes_nothing_on_a_dense_cluster() -> None:
    states = dense_cluster(300)
    coarse_rows, coarse_values = by_pair(probe(states, 0.0, ProbeSettings()))
    fine_rows, fine_values = by_pair(probe(states, 0.0, ProbeSettings(), CullGrid(1_000.0)))
    assert np.array_equal(coarse_rows, fine_rows)
    assert np.array_equal(coarse_values, fine_values)


def test_fine_cells_over_the_whole_globe_give_the_same_answer_as_coarse_ones() -> None:
    # 2 km land cells from pole to pole: 13 bits a axis, too many to share a word with the unit,
    # so the entries take the two-word sort. 200 still pairs of two parties, 1 km apart.
    rng = np.random.default_rng(3)
    n = 400
    lat = np.repeat(np.degrees(np.arcsin(rng.uniform(-0.99, 0.99, n // 2))), 2)
    lon = np.repeat(rng.uniform(-180.0, 180.0, n // 2), 2)
    lat[1::2] += 0.009
    still = np.zeros(n)
    states = TrackStates(
        tuple(f"u{k:04d}" for k in range(n)),
        np.arange(n, dtype=np.int64) % 2,
        np.ones(n, dtype=np.int64),  # land
        still,
        lat,
        lon,
        still,
        still,
        still,
        still,
    )
    fine = probe(states, 0.0, ProbeSettings(), CullGrid(1_000.0))
    assert set(zip(fine.row_a.tolist(), fine.row_b.tolist(), strict=True)) == {(k, k + 1) for k in range(0, n, 2)}
    fine_rows, fine_values = by_pair(fine)
    coarse_rows, coarse_values = by_pair(probe(states, 0.0, ProbeSettings()))
    assert np.array_equal(fine_rows, coarse_rows)
    assert np.array_equal(fine_values, coarse_values)
