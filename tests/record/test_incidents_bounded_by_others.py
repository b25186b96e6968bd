"""What incidents others report or fall due cost a party, on SQLite and PostgreSQL alike.

Parties report incidents in any number, at times of their choosing (up to a minute ahead), and a
storm opens thousands that fall due together: a party's own report froze the evidence of every
incident due, its request doing the others' work; the tick froze all of them in one call, the
probe waiting behind it; every batch of alert changes read each reported incident near its time
to find what a trigger merges with (a trigger merges only with what keepclear opened).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from keepclear.domain import TrackReport
from keepclear.domain.events import Event
from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
from keepclear.ledger import Ledger
from keepclear.services.incidents.service import IncidentConfig, IncidentService
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import incidents as store

WINDOW_S = 600.0


def _no_tracks(unit_ids: list[str], start_s: float, end_s: float) -> list[TrackReport]:
    return []


def _service(deployment: Deployment, ledger: Ledger, clock: ManualClock) -> IncidentService:
    config = IncidentConfig(evidence_window_s=WINDOW_S)  # freeze_batch: 100
    return IncidentService(deployment.db, clock, EventBus(), _no_tracks, config, ledger=ledger)


def _stored(
    deployment: Deployment, count: int, time_s: float, reported_by: str | None, unit: str = "u1", first: int = 0
) -> list[str]:
    """``count`` open incidents at ``time_s``, stored in bulk (as the service stores them)."""
    made = [
        Incident(
            id=f"inc-bulk-{i:06d}",
            kind=IncidentKind.REPORTED if reported_by else IncidentKind.SEPARATION_LOST,
            status=ReviewStatus.OPEN,
            time_s=time_s,
            opened_s=time_s,
            reported_by=reported_by,
            parties=("coalition", "russia"),
            unit_ids=(unit,),
            alert_ids=(),
            zone_id=None,
            zone_kind=None,
            summary=f"bulk {i}",
        )
        for i in range(first, first + count)
    ]
    with deployment.db.write() as conn:
        store.insert_incidents(conn, made)
    return [i.id for i in made]


def _unfrozen(deployment: Deployment) -> set[str]:
    with deployment.db.read() as conn:
        return {i.id for i in store.unfrozen_incidents(conn, happened_before_s=float("inf"))}


def test_a_report_freezes_its_own_evidence_not_the_others_due(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    service = _service(deployment, ledger, clock)
    others = _stored(deployment, 250, clock.now_s() - 2 * WINDOW_S, reported_by="russia")

    past = service.report("coalition", time_s=clock.now_s() - WINDOW_S - 1, summary="we saw it an hour ago")
    recent = service.report("coalition", time_s=clock.now_s() - 5, summary="just now")

    assert past.evidence_sha256 is not None  # its window has passed: frozen as it is reported
    assert recent.evidence_sha256 is None  # its window has not
    assert _unfrozen(deployment) == {*others, recent.id}  # the others' wait for the tick


def test_the_tick_freezes_a_bounded_batch_oldest_first_and_the_rest_on_the_next_ticks(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    service = _service(deployment, ledger, clock)
    t0 = clock.now_s()
    older = _stored(deployment, 230, t0 - 3 * WINDOW_S, reported_by=None)
    newer = {service.report("russia", time_s=t0 - 2, summary=f"later {i}").id for i in range(3)}
    clock.advance(WINDOW_S + 1)

    assert service.freeze_due() == older[:100]  # oldest first, by time then id
    assert service.freeze_due() == older[100:200]
    last = service.freeze_due()
    assert last[:30] == older[200:] and set(last[30:]) == newer
    assert service.freeze_due() == [] and _unfrozen(deployment) == set()


def test_alert_changes_read_no_reported_incident_to_find_what_they_merge_with(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    t0 = clock.now_s()
    reported = _stored(deployment, 3_000, t0, reported_by="russia")
    with deployment.db.read() as conn:
        found = store.open_incidents_concerned(
            conn, alert_ids=[], incident_ids=[reported[7]], time_windows=[(t0 - 600, t0 + 600)], window_units=None
        )
        by_unit = store.open_incidents_concerned(
            conn, alert_ids=[], incident_ids=[], time_windows=[(t0 - 600, t0 + 600)], window_units={"u1"}
        )
    assert [i.id for i in found] == [reported[7]]  # named: read; near in time: not
    assert by_unit == []

    # A trigger of keepclear's still merges with the incident keepclear opened for the same units.
    service = _service(deployment, ledger, clock)
    payload = {"alert_id": "al-1", "los": True, "level": "warning", "unit_ids": ["u1", "u2"]}
    service.on_event(Event("alert.raised", t0, None, payload, frozenset({"coalition", "russia"})))
    payload = {"alert_id": "al-2", "los": True, "level": "warning", "unit_ids": ["u1", "u2"]}
    service.on_event(Event("alert.raised", t0 + 30, None, payload, frozenset({"coalition", "russia"})))
    with deployment.db.read() as conn:
        opened = [i for i in store.list_incidents(conn) if i.reported_by is None]
    assert len(opened) == 1 and opened[0].alert_ids == ("al-1", "al-2")


def test_the_merge_window_is_read_from_the_index_of_keepclears_incidents_only(
    deployment: Deployment, clock: ManualClock
) -> None:
    """The window query skipped the reported incidents but found them through the index of every
    incident's time, walking each one near the batch's time; the partial index
    ``ix_incidents_opened_time_s`` (``reported_by IS NULL``) holds keepclear's alone."""
    t0 = clock.now_s()
    _stored(deployment, 3_000, t0, reported_by="russia")
    opened = _stored(deployment, 3, t0 + 1, reported_by=None, first=3_000)
    db = deployment.db
    seen: list[tuple[str, object]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.read() as conn:
            found = store.open_incidents_concerned(
                conn, alert_ids=[], incident_ids=[], time_windows=[(t0 - 600, t0 + 600)], window_units={"u1"}
            )
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert [i.id for i in found] == opened
    (statement, parameters), *_ = [(s, p) for s, p in seen if "time_s >=" in s]
    with db.write() as conn:
        if db.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
            plan = " | ".join(str(row[-1]) for row in rows)
        else:
            conn.exec_driver_sql("ANALYZE incidents")
            plan = " | ".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))  # type: ignore[arg-type]
    assert "ix_incidents_opened_time_s" in plan, plan


class _WriterFreeWhileReading:
    """The ledger, whose ``entries`` first checks from another thread that the store's writer is
    free: reading the window's record entries (everyone's alerts and messages) must not hold it."""

    def __init__(self, ledger: Ledger, deployment: Deployment) -> None:
        self._ledger = ledger
        self._db = deployment.db
        self.writer_free: list[bool] = []

    def entries(self, **kwargs: object) -> object:
        written = threading.Event()

        def write() -> None:
            with self._db.write():
                written.set()

        threading.Thread(target=write, daemon=True).start()
        self.writer_free.append(written.wait(2.0))
        return self._ledger.entries(**kwargs)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._ledger, name)


def test_freezing_reads_the_record_before_it_takes_the_writer(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """The evidence read every alert and message entry of all parties within the window (thousands
    under load) inside its write transaction: on SQLite every other write waited for it."""
    watched = _WriterFreeWhileReading(ledger, deployment)
    config = IncidentConfig(evidence_window_s=WINDOW_S)
    service = IncidentService(deployment.db, clock, EventBus(), _no_tracks, config, ledger=watched)  # type: ignore[arg-type]
    frozen = service.report("coalition", time_s=clock.now_s() - WINDOW_S - 1, summary="seen an hour ago")
    assert frozen.evidence_sha256 is not None
    assert watched.writer_free == [True]
