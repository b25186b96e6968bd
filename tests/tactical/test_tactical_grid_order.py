"""The grid's unit order (Morton code of the start cell, ties by index) on both of its paths:
code and index in one word, and the two-array sort when they do not fit (spans of 2**20 cells,
which no probe of test size reaches)."""

from __future__ import annotations

import numpy as np
import pytest

from keepclear.detect.morton import morton3, morton_order


@pytest.mark.parametrize("span", [1_000, 1 << 20])
def test_units_are_ordered_by_the_morton_code_of_their_start_cell_then_index(span: int) -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    start = rng.integers(0, span, (3, n)).astype(np.int64) + 7
    start[:, 10:20] = start[:, :10]  # ties
    rel = start - start.min(axis=1, keepdims=True)
    codes = [morton3(int(rel[0, k]), int(rel[1, k]), int(rel[2, k])) for k in range(n)]
    expected = np.lexsort((np.arange(n), codes))
    got = morton_order(start.copy(), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
    assert np.array_equal(got, expected)
