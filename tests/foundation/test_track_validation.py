"""The vectorised report check agrees with the per-report one on every input."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.domain import TrackReport, track_report_problems
from keepclear.domain.tracks import track_columns_valid

any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-200, 200),
    st.sampled_from([90.0, -90.0, 180.0, -180.0, 90.0000001, 40000.0, 40000.1, -1000.0, 1500.0, 0.0]),
)


@given(st.lists(st.tuples(*[any_float] * 7), min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_vectorised_check_agrees_with_per_report_check(rows):
    values = np.array(rows, dtype=np.float64)
    mask = track_columns_valid(*(values[:, k] for k in range(7)))
    for row, ok in zip(rows, mask, strict=True):
        report = TrackReport("u", *row)
        assert bool(ok) == (track_report_problems(report) == []), (row, track_report_problems(report))


def test_problems_name_each_field():
    problems = track_report_problems(TrackReport("u", math.nan, 95.0, 200.0, 50000.0, 0.0, 0.0, 0.0))
    assert problems == ["time_s: nan is not a finite number"]
    problems = track_report_problems(TrackReport("u", 0.0, 95.0, 200.0, 50000.0, 2000.0, 0.0, 0.0))
    assert [p.split(":")[0] for p in problems] == ["lat_deg", "lon_deg", "alt_m", "velocity"]
