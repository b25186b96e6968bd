"""Track history keeps one report per interval per unit, within the retention, in time order."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from keepclear.domain import Domain, TrackReport
from keepclear.services.tactical.history import HistoryLimits, TrackHistory
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.store import Database, migrate
from keepclear.store.track_history import history_database


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


def test_durable_history_reads_back_thins_across_restarts_and_prunes_the_store(database):
    from keepclear.store import track_history as store
    from keepclear.store.track_history import history_database

    history_db = history_database(database)
    limits = HistoryLimits(retention_s=100.0, min_interval_s=2.0, prune_every_s=0.0)
    first = TrackHistory(limits, history_db)
    first.add([columns([TrackReport("u1", float(t), 35.0, 38.0, 0.0, 0.0, 0.0) for t in range(0, 20, 2)])])
    first.add([columns([TrackReport("u2", 10.0, 35.0, 38.0, 0.0, 0.0, 0.0)], "b")])
    assert first.rows_written == 11 and first.writes == 2

    # A new process: everything within the retention comes back, with its party.
    again = TrackHistory(limits, history_db)
    assert again.load(now_s=50.0) == 11
    assert [r.time_s for r in again.between(["u1"], 0.0, 100.0)] == [float(t) for t in range(0, 20, 2)]
    assert again.units_of("b") == ["u2"] and again.units_of("a") == ["u1"]
    # The last kept times came back too: a retried batch adds nothing, the next report is kept.
    again.add([columns([TrackReport("u1", t, 35.0, 38.0, 0.0, 0.0, 0.0) for t in (18.0, 19.0, 20.0)])])
    assert again.rows_written == 1
    latest = again.latest()
    assert latest.unit_ids == ["u1", "u2"] and latest.values[:, 0].tolist() == [20.0, 10.0]
    assert latest.party_ids == ["a", "b"]

    # Pruning forgets what is past the retention, in memory and in the store.
    again.prune(now_s=113.0)
    again.wait_maintenance()
    with history_db.read() as conn:
        kept = [row for rows in store.since(conn, 0.0) for row in rows]
    assert sorted((r[0], r[2]) for r in kept) == [("u1", 14.0), ("u1", 16.0), ("u1", 18.0), ("u1", 20.0)]
    assert [r.time_s for r in again.between(["u1", "u2"], 0.0, 200.0)] == [14.0, 16.0, 18.0, 20.0]
    if history_db is not database:
        history_db.dispose()


def test_request_keys_are_forgotten_after_their_retention(database):
    from keepclear.services.runtime.request_keys import RequestKeyRetention
    from keepclear.store import request_keys as store

    for key, created_s in (("old-key-0001", 10.0), ("new-key-0001", 500.0)):
        claim = store.Claim("a", key, "f" * 64, "POST", "/v1/activities", created_s, "boot")
        with store.claiming(claim), database.write():
            pass  # the first transaction of the request holds the key
        assert claim.held
    retention = RequestKeyRetention(database, retention_s=600.0, every_s=0.0)
    assert retention.prune(now_s=1000.0) == 1
    with database.read() as conn:
        assert store.find(conn, "a", "old-key-0001") is None
        assert store.find(conn, "a", "new-key-0001") is not None
        assert store.find(conn, "b", "new-key-0001") is None  # keys are per party


def _keys(database: Database, scope: str, count: int, created_s: float) -> None:
    """``count`` idempotency keys of ``scope`` first used at ``created_s``, stored in bulk."""
    from keepclear.store import request_keys as store

    row = {"fingerprint": "f" * 64, "method": "POST", "path": "/v1/activities", "boot": "boot"}
    with database.write() as conn:
        conn.execute(
            store.request_keys.insert(),
            [row | {"scope": scope, "key": f"key-{i:05d}", "created_s": created_s + i % 7} for i in range(count)],
        )


def test_request_keys_due_together_are_forgotten_in_bounded_transactions(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key due was deleted in one transaction: a party sending keyed writes by the hundred
    thousand made a pass hold every other write for all of them, on the tick that runs the probe.
    Now ``batch`` per transaction and ``batches_per_pass`` per call; a pass cut short goes on at
    the next call, not ``every_s`` later; none is lost, and the keys still within their time stay."""
    from keepclear.services.runtime.request_keys import RequestKeyRetention
    from keepclear.store import request_keys as store

    for scope in ("a", "b"):
        _keys(database, scope, 1_201, 100.0)
    _keys(database, "kept", 3, 900.0)
    writes: list[object] = []
    write = database.write

    def counted(*args: Any, **kwargs: Any) -> Any:
        writes.append(args)
        return write(*args, **kwargs)

    monkeypatch.setattr(database, "write", counted)
    assert RequestKeyRetention(database, retention_s=600.0, every_s=3600.0).prune(now_s=1000.0) == 2_402
    assert len(writes) == 5  # 500, 500, 500, 500, 402
    _keys(database, "c", 1_201, 200.0)
    retention = RequestKeyRetention(database, retention_s=600.0, every_s=3600.0, batches_per_pass=2)
    writes.clear()
    assert [retention.prune(now_s=1000.0) for _ in range(3)] == [1_000, 201, 0]  # the third: every_s later
    assert len(writes) == 3
    with database.read() as conn:
        left = conn.execute(sa.select(store.request_keys.c.scope, sa.func.count()).group_by("scope")).all()
    assert [tuple(row) for row in left] == [("kept", 3)]


def test_kept_reports_are_durable_and_read_back_on_each_store(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate(db)
        history_db = history_database(db)
        kept = [TrackReport("u1", 1000.0 + t, 35.0 + t / 7, 38.0, 7000.5, 1.25, -2.5, 0.125) for t in (0, 1, 2, 3)]
        TrackHistory(HistoryLimits(min_interval_s=2.0), history_db).add(
            [columns(kept), columns([TrackReport("u2", 1000.0, 1 / 3, 2 / 3, 0.0, 0.0, 0.0, 0.0)], "b")]
        )
        again = TrackHistory(HistoryLimits(min_interval_s=2.0), history_db)
        assert again.load(now_s=1010.0) == 3
        assert again.between(["u1", "u2"], 0, 2000) == [
            kept[0],
            kept[2],
            TrackReport("u2", 1000.0, 1 / 3, 2 / 3, 0.0, 0.0, 0.0, 0.0),
        ]
        assert again.units_of("a") == ["u1"] and again.units_of("b") == ["u2"]
        if history_db is not db:
            history_db.dispose()
    finally:
        db.dispose()
