"""Track history keeps one report per interval per unit, within the retention, in time order."""

from __future__ import annotations

from keepclear.domain import Domain, TrackReport
from keepclear.services.track_history import HistoryLimits, TrackHistory
from keepclear.services.tracks import ReportColumns


def columns(reports: list[TrackReport], party: str = "a") -> ReportColumns:
    batch = ReportColumns.from_reports(reports)
    return batch.take(list(range(len(reports))), [party] * len(reports), [Domain.AIR] * len(reports))


def test_thinning_retention_and_window():
    history = TrackHistory(HistoryLimits(retention_s=60.0, min_interval_s=2.0))
    history.add([columns([TrackReport("u1", float(t), 35.0, 38.0, 0.0, 0.0, 0.0) for t in range(0, 10)])])
    assert [r.time_s for r in history.between(["u1"], 0, 100)] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert [r.time_s for r in history.between(["u1", "u2"], 3.0, 6.0)] == [4.0, 6.0]
    history.prune(now_s=66.0)
    assert [r.time_s for r in history.between(["u1"], 0, 100)] == [6.0, 8.0]
    history.prune(now_s=1000.0)
    assert history.between(["u1"], 0, 2000) == []
    assert len(history) == 0
    # interleaved units and a late, older report in one batch; a unit forgotten by pruning starts afresh
    history.add(
        [
            columns(
                [
                    TrackReport(unit, t, 35.0, 38.0, 0.0, 0.0, 0.0)
                    for unit, t in (("u1", 1000.0), ("u2", 1000.5), ("u1", 1001.0), ("u1", 999.0), ("u2", 1003.0))
                ]
            )
        ]
    )
    assert [(r.unit_id, r.time_s) for r in history.between(["u1", "u2"], 0, 2000)] == [
        ("u1", 1000.0),
        ("u2", 1000.5),
        ("u2", 1003.0),
    ]


def test_units_of_a_party():
    history = TrackHistory()
    history.add([columns([TrackReport("u1", 0.0, 35.0, 38.0, 0.0, 0.0, 0.0)], "a")])
    history.add([columns([TrackReport("u2", 0.0, 35.0, 38.0, 0.0, 0.0, 0.0)], "b")])
    assert history.units_of("a") == ["u1"]
