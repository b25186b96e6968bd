"""Track table: validation, ordering, staleness, history, and agreement with a plain dict model."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.detect.tracktable import Outcome, TrackTable, TrackTableSettings
from keepclear.domain import Domain, TrackReport
from keepclear.errors import ValidationError


def rep(unit: str, t: float, lat: float = 35.0, lon: float = 36.0, alt: float = 1000.0) -> TrackReport:
    return TrackReport(unit, t, lat, lon, alt, 10.0, 0.0, 0.0)


def test_an_older_or_duplicate_report_never_overwrites_a_newer_one() -> None:
    table = TrackTable()
    assert table.update(rep("a", 100.0, lat=35.0), "us", Domain.AIR) is Outcome.ACCEPTED
    assert table.update(rep("a", 90.0, lat=36.0), "us", Domain.AIR) is Outcome.OUT_OF_ORDER
    assert table.update(rep("a", 100.0, lat=37.0), "us", Domain.AIR) is Outcome.DUPLICATE
    s = table.states()
    assert s.time_s.tolist() == [100.0] and s.lat_deg.tolist() == [35.0]


@pytest.mark.parametrize(
    "bad",
    [
        TrackReport("a", 1.0, math.nan, 36.0, 0.0, 0.0, 0.0),
        TrackReport("a", 1.0, 35.0, 200.0, 0.0, 0.0, 0.0),
        TrackReport("a", 1.0, 35.0, 36.0, 1e9, 0.0, 0.0),
        TrackReport("a", 1.0, 35.0, 36.0, 0.0, math.inf, 0.0),
        TrackReport("a", 1.0, 35.0, 36.0, 0.0, 5000.0, 0.0),
    ],
)
def test_a_report_with_nan_or_out_of_range_values_never_enters(bad: TrackReport) -> None:
    table = TrackTable()
    table.update(rep("a", 0.5), "us", Domain.AIR)
    with pytest.raises(ValidationError, match="track report of 'a'"):
        table.update(bad, "us", Domain.AIR)
    assert table.states().time_s.tolist() == [0.5]


def test_stale_units_are_dropped_per_domain() -> None:
    table = TrackTable(TrackTableSettings(stale_air_s=60.0, stale_land_s=600.0))
    table.update(rep("jet", 0.0), "us", Domain.AIR)
    table.update(rep("tank", 0.0), "ru", Domain.LAND)
    assert table.drop_stale(60.0) == []
    assert table.drop_stale(61.0) == ["jet"]
    assert set(table.states().unit_ids) == {"tank"}
    assert table.drop_stale(601.0) == ["tank"]
    assert len(table) == 0


def test_history_keeps_the_last_reports_oldest_first() -> None:
    table = TrackTable(TrackTableSettings(history_len=3))
    for t in range(5):
        table.update(rep("a", float(t)), "us", Domain.AIR)
    assert [r.time_s for r in table.history("a")] == [2.0, 3.0, 4.0]
    assert table.history("nobody") == []


def test_partner_forces_count_as_their_party() -> None:
    table = TrackTable()
    table.update(rep("sdf-1", 0.0), "coalition", Domain.LAND)
    table.update(rep("us-1", 0.0), "coalition", Domain.AIR)
    s = table.states()
    assert s.party[0] == s.party[1] == table.party_code("coalition")
    assert table.party_ids[int(s.party[0])] == "coalition"


ops = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 20), st.sampled_from(["upd", "drop"])),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_table_agrees_with_a_plain_model(sequence: list[tuple[str, int, str]]) -> None:
    table = TrackTable(TrackTableSettings(stale_air_s=5.0, history_len=4), capacity=1)
    model: dict[str, float] = {}
    for unit, t, op in sequence:
        if op == "upd":
            table.update(rep(unit, float(t), lat=float(t)), "p", Domain.AIR)
            if unit not in model or model[unit] < t:
                model[unit] = float(t)
        else:
            table.drop_stale(float(t))
            model = {u: v for u, v in model.items() if t - v <= 5.0}
    s = table.states()
    assert dict(zip(s.unit_ids, s.time_s.tolist(), strict=True)) == model
    assert all(lat == t for lat, t in zip(s.lat_deg.tolist(), s.time_s.tolist(), strict=True))
