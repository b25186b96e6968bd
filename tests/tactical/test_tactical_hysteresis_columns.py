"""The alert book's hysteresis over columns gives, row for row, what one ``PairHysteresis`` per pair gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.detect.hysteresis import HysteresisColumns, PairHysteresis
from keepclear.detect.wellclear import Hysteresis

hysteresis = st.builds(
    Hysteresis,
    m=st.integers(0, 5),
    n=st.integers(0, 5),
    persistence_s=st.sampled_from([0.0, 1.0, 2.5, 4.0]),
    reset_gap_s=st.sampled_from([0.5, 1.5, 3.0, 5.0]),
)


@given(
    policies=st.lists(hysteresis, min_size=1, max_size=6),
    steps=st.lists(
        st.tuples(st.sampled_from([0.5, 1.0, 1.0, 2.0, 6.0]), st.lists(st.integers(0, 3), min_size=6, max_size=6)),
        min_size=1,
        max_size=30,
    ),
)
@settings(max_examples=300, deadline=None)
def test_columns_match_one_filter_per_pair(policies: list[Hysteresis], steps: list[tuple[float, list[int]]]) -> None:
    columns = HysteresisColumns(max(max(1, p.n) for p in policies))
    columns.append(policies)
    scalar = [PairHysteresis(p) for p in policies]
    time_s = 0.0
    for dt_s, raws in steps:
        time_s += dt_s
        raw = np.array(raws[: len(policies)], dtype=np.int64)
        got = columns.step(time_s, raw)
        assert got.tolist() == [h.step(time_s, int(r)) for h, r in zip(scalar, raw.tolist(), strict=True)]


def test_rows_can_be_reordered_and_forgotten_without_touching_the_others() -> None:
    columns = HysteresisColumns(4)
    columns.append([Hysteresis(m=2, n=4)] * 3)
    columns.step(0.0, np.array([2, 3, 0]))
    columns.step(1.0, np.array([2, 3, 0]))
    columns.take(np.array([1, 0]))  # forget the third pair, swap the other two
    assert columns.step(2.0, np.array([3, 2])).tolist() == [3, 2]
    assert len(columns) == 2


def test_a_policy_wider_than_the_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="width 2"):
        HysteresisColumns(2).append([Hysteresis(m=2, n=4)])
