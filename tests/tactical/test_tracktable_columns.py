"""A batch of reports as columns leaves the track table exactly as one update per report would."""

from __future__ import annotations

import contextlib
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.detect.tracktable import TrackTable
from keepclear.domain import Domain, TrackReport
from keepclear.errors import ValidationError

units = st.sampled_from([f"u{k}" for k in range(1, 13)])
times = st.sampled_from([0.0, 1.0, 2.0, 3.0, math.nan])
rows = st.tuples(units, times, st.floats(-89, 89), st.sampled_from([35.0, 95.0]))


def snapshot(table: TrackTable) -> dict[str, tuple[object, ...]]:
    s = table.states()
    return {
        u: (
            float(s.time_s[k]),
            float(s.lat_deg[k]),
            float(s.lon_deg[k]),
            table.party_id(int(s.party[k])),
            tuple(table.history(u)),
        )
        for k, u in enumerate(s.unit_ids)
    }


# up to 40 reports of 12 units: batches naming units once, a few times (taken in rounds) and many times
@given(st.lists(st.lists(rows, min_size=1, max_size=40), min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
def test_columns_equal_one_update_per_report(batches):
    one_by_one, columns = TrackTable(), TrackTable()
    for batch in batches:
        values = np.array([[t, 35.0, lon, 1000.0, 10.0, 0.0, 0.0] for _, t, _, lon in batch], dtype=np.float64)
        values[:, 1] = [lat for _, _, lat, _ in batch]
        ids = [u for u, *_ in batch]
        parties = ["a" if int(u[1:]) % 2 else "b" for u in ids]
        accepted = 0
        for i, unit in enumerate(ids):
            report = TrackReport(unit, *(float(v) for v in values[i]))
            with contextlib.suppress(ValidationError):  # a malformed report never enters
                accepted += one_by_one.update(report, parties[i], Domain.AIR).value == "accepted"
        assert columns.update_columns(ids, values, parties, [Domain.AIR] * len(ids)) == accepted
        assert snapshot(columns) == snapshot(one_by_one)
