"""What incidents others report or fall due cost a party, on SQLite and PostgreSQL alike.

Parties report incidents in any number, at times of their choosing (up to a minute ahead), and a
storm opens thousands that fall due together: a party's own report froze the evidence of every
incident due, its request doing the others' work; the tick froze all of them in one call, the
probe waiting behind it; every batch of alert changes read each reported incident near its time
to find what a trigger merges with (a trigger merges only with what keepclear opened).
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

from recordsupport import statements_seen

from keepclear.domain import TrackReport
from keepclear.domain.events import Event
from keepclear.domain.ids import random_id, seeded_bits
from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
from keepclear.ledger import Ledger
from keepclear.ledger.book import EntryDraft
from keepclear.services.incidents.evidence import document_text, history
from keepclear.services.incidents.service import IncidentConfig, IncidentService
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import incidents as store
from plansupport import query_plan

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
    with statements_seen(db.engine) as seen, db.read() as conn:
        found = store.open_incidents_concerned(
            conn, alert_ids=[], incident_ids=[], time_windows=[(t0 - 600, t0 + 600)], window_units={"u1"}
        )
    assert [i.id for i in found] == opened
    (statement, parameters), *_ = [(s, p) for s, p in seen if "time_s >=" in s]
    plan = query_plan(db, statement, parameters, "incidents")
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


class _Counted:
    """The ledger, counting the entries each ``entries`` call reads from the record (each is parsed)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.read: list[int] = []

    def entries(self, **kwargs: object) -> object:
        found = self._ledger.entries(**kwargs)  # type: ignore[arg-type]
        self.read.append(len(found))
        return found

    def __getattr__(self, name: str) -> object:
        return getattr(self._ledger, name)


class _WholeWindow(_Counted):
    """The ledger read as before the index of the ids payloads name: every alert and message entry
    of the window, whatever the caller asks to narrow it to."""

    def entries(self, **kwargs: object) -> object:
        kwargs.pop("refs", None)
        return super().entries(**kwargs)


def _alert(alert_id: str, time_s: float, kind: str = "alert.level_changed", **extra: object) -> EntryDraft:
    payload = {"alert_id": alert_id, "level": "caution", "los": False, "unit_ids": ["u1", "u2"], **extra}
    return EntryDraft(kind, None, payload, time_s, ["coalition", "russia"])


def _message(party_id: str, time_s: float, kind: str = "message.posted", **payload: object) -> EntryDraft:
    return EntryDraft(
        kind, party_id, {"thread_id": "th-9", "text": "hello", **payload}, time_s, ["coalition", "russia"]
    )


def test_freezing_reads_the_incidents_own_entries_not_everyones_in_the_window(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """Freezing read and parsed every alert and message entry of every party within ± the window to
    keep the few naming the incident's alerts, id or messages: 10,000 others' cost 10,000 reads."""
    t0 = clock.now_s() - 2 * WINDOW_S
    others = [
        _alert(f"al-other-{n}", t0 - WINDOW_S + n * 0.1) if n % 2 else _message("russia", t0 - WINDOW_S + n * 0.1)
        for n in range(10_000)
    ]
    own = [_alert("al-1", t0 - 30, "alert.raised"), _alert("al-1", t0), _message("coalition", t0 + 5, alert_id="al-1")]
    ledger.append_many([*others[:5_000], *own, *others[5_000:]])
    counted = _Counted(ledger)
    service = IncidentService(deployment.db, clock, EventBus(), _no_tracks, IncidentConfig(WINDOW_S), ledger=counted)  # type: ignore[arg-type]

    incident = service.report("coalition", time_s=t0, summary="seen", alert_ids=["al-1"])

    evidence = service.evidence(incident.id)
    assert evidence is not None
    assert [a["kind"] for a in evidence["alerts"]] == ["alert.raised", "alert.level_changed"]
    assert [m["payload"]["alert_id"] for m in evidence["messages"]] == ["al-1"]
    assert counted.read == [3]  # its own three entries, not the window's 10,003


#: The SHA-256 of the evidence ``test_the_frozen_evidence_is_the_document_the_whole_window_gave``
#: freezes, as the code before the index froze it (commit 34d2024, reading the whole window: the
#: same on SQLite and PostgreSQL).
EVIDENCE_BEFORE_THE_INDEX = "f0f89dc694f106fbabbdcc01324cab9394505f4126bbfc508c3e97c2edb241d0"


def test_the_frozen_evidence_is_the_document_the_whole_window_gave(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """Byte for byte: the entries the index finds are those the whole window's read kept, at the
    window's edges, by each id an entry may be kept by, whatever else the payloads hold."""
    incident_id = random_id("inc", seeded_bits(5)("incident"))
    t0 = clock.now_s() - 2 * WINDOW_S
    drafts = [
        _alert("al-1", t0 - WINDOW_S - 1),  # before the window
        _alert("al-1", t0 - WINDOW_S),  # its first microsecond
        _alert("al-1", t0 - 30, "alert.raised"),
        _alert("al-2", t0 - 20, "alert.raised"),
        _alert("al-x", t0 - 10, data={"alert_id": "al-1"}),  # names it below the top level only
        _alert("al-x", t0 - 9, incident_id=incident_id),  # an alert entry is kept by its alert only
        _message("russia", t0 - 8, alert_id="al-1"),
        _message("russia", t0 - 7, "message.receipt", alert_id="al-2"),
        _message("russia", t0 - 6, "hotline.escalated", incident_id=incident_id),
        _message("coalition", t0 - 5, message_id="th-9#3"),
        _message("coalition", t0 - 4, message_id=3),  # not text: never one of the timeline's
        _message("coalition", t0 - 3, message_id="th-9#4"),  # not referenced
        _message("coalition", t0 - 2, alert_id="al-1" + "x" * 200),  # too long to be indexed
        _message("coalition", t0 - 1, alert_id="al-1\x00"),  # a NUL: never indexed
        EntryDraft("incident.opened", None, {"incident_id": incident_id}, t0, ["coalition", "russia"]),
        EntryDraft(
            "message.posted", "russia", None, t0 + 1, ["coalition"], text='{"alert_id":"al-1","text":"from the outbox"}'
        ),
        _alert("al-1", t0 + WINDOW_S),  # its last microsecond
        _alert("al-1", t0 + WINDOW_S + 0.001),  # after the window
        *(_alert(f"al-other-{n}", t0 + n) for n in range(50)),
    ]
    ledger.append_many(drafts)
    service = IncidentService(
        deployment.db,
        clock,
        EventBus(),
        _no_tracks,
        IncidentConfig(WINDOW_S),
        ledger=ledger,
        random_bits=seeded_bits(5)("incident"),
    )

    incident = service.report(
        "coalition", time_s=t0, summary="seen", alert_ids=["al-1", "al-2"], message_ids=["th-9#3"], unit_ids=["u1"]
    )

    assert incident.id == incident_id
    with deployment.db.read() as conn:
        found = store.get_evidence(conn, incident.id)
        timeline = store.list_timeline(conn, incident.id)
    assert found is not None
    digest, text = found
    whole = _WholeWindow(ledger)
    alerts, messages = history(incident, timeline, whole, t0 - WINDOW_S, t0 + WINDOW_S)  # type: ignore[arg-type]
    assert whole.read == [len(drafts) - 3]  # the window's alert and message entries, all of them
    assert text == document_text(incident, [], alerts, messages, t0 - WINDOW_S, t0 + WINDOW_S)[0]
    kept = json.loads(text)
    assert [(a["time_s"] - t0, a["payload"]["alert_id"]) for a in kept["alerts"]] == [
        (-WINDOW_S, "al-1"),
        (-30, "al-1"),
        (-20, "al-2"),
        (WINDOW_S, "al-1"),
    ]
    assert [m["time_s"] - t0 for m in kept["messages"]] == [-8, -7, -6, -5, 1]
    assert digest == EVIDENCE_BEFORE_THE_INDEX

    # A timeline naming a message by a value the index cannot hold (here: too long): the whole
    # window is read, and kept as before.
    long_id = "th-9#" + "9" * 200
    odd = [*timeline, replace(timeline[0], position=9, payload={"message_id": long_id})]
    counted = _Counted(ledger)
    assert history(incident, odd, counted, t0 - WINDOW_S, t0 + WINDOW_S) == (alerts, messages)  # type: ignore[arg-type]
    assert counted.read == whole.read


def test_a_recorded_payload_naming_a_message_by_a_list_or_an_object_never_stops_a_freeze(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """A record entry is any JSON: one naming a message by a list or an object (no hash) made every
    freeze of an incident near it raise, and the chore try it again every round."""
    t0 = clock.now_s() - 2 * WINDOW_S
    odd = [_message("russia", t0 - 2, message_id=["th-9#3"]), _message("russia", t0 - 1, message_id={"th": 9})]
    ledger.append_many([*odd, _message("coalition", t0 + 1, message_id="th-9#3")])
    service = IncidentService(deployment.db, clock, EventBus(), _no_tracks, IncidentConfig(WINDOW_S), ledger=ledger)
    incident = service.report("coalition", time_s=t0, summary="seen", message_ids=["th-9#3", "th-9#x" * 40])
    evidence = service.evidence(incident.id)  # a message id too long for the index: the whole window is read
    assert evidence is not None
    assert [m["payload"]["message_id"] for m in evidence["messages"]] == ["th-9#3"]


def test_the_entries_naming_an_id_are_read_through_its_index_then_by_seq(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """The store's side: one range of ``ledger_refs`` per id, then the entries by their primary key;
    never the index of every entry's kind or time (SQLite took the kind's, reading every alert)."""
    t0 = clock.now_s()
    ledger.append_many([_alert(f"al-{n % 50}", t0 - 500 + n * 0.1) for n in range(2_000)])
    db = deployment.db
    with statements_seen(db.engine) as seen:
        found = ledger.entries(kinds={"alert.level_changed"}, from_s=t0 - 600, until_s=t0 + 600, refs={"al-7"})
    assert [e.payload_value()["alert_id"] for e in found] == ["al-7"] * 40
    selects = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2
    with db.write() as conn:
        if db.engine.dialect.name == "sqlite":
            plans = [
                " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))  # type: ignore[arg-type]
                for s, p in selects
            ]
            assert plans == [
                "SEARCH ledger_refs USING PRIMARY KEY (ref=? AND time_us>? AND time_us<?)",
                "SEARCH ledger_entries USING INTEGER PRIMARY KEY (rowid=?)",
            ]
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # small tables: the plan, not the size
            plans = [" | ".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {s}", p)) for s, p in selects]  # type: ignore[arg-type]
            assert "ledger_refs_pkey" in plans[0] and "ledger_entries_pkey" in plans[1], plans
            assert "ix_ledger_entries" not in " ".join(plans), plans


def test_the_incident_view_reads_the_earliest_timeline_items_from_their_index_and_counts_the_rest(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """A timeline grows with what the others do (alert changes merged over a long encounter, their
    messages and accounts): the view read every item, payload and all, and sorted them. It reads
    ``view_max_timeline_items`` from a range of ``ix_incident_timeline_order`` and counts the rest."""
    config = IncidentConfig(evidence_window_s=WINDOW_S, view_max_timeline_items=7)
    service = IncidentService(deployment.db, clock, EventBus(), _no_tracks, config, ledger=ledger)
    (incident_id, other_id) = _stored(deployment, 2, clock.now_s(), reported_by="coalition")
    t0 = clock.now_s()
    for stored_id in (incident_id, other_id):
        items = [(t0 + (3_000 - k) % 1_000, "alert.updated", None, {"n": k, "pad": "x" * 200}) for k in range(3_000)]
        with deployment.db.write() as conn:
            store.append_timeline_items(conn, stored_id, items)
    db = deployment.db
    with statements_seen(db.engine) as seen:
        shown, total = service.timeline_view(incident_id)
    assert total == 3_000 and len(shown) == 7
    assert [t.time_s for t in shown] == [t0] * 3 + [t0 + 1] * 3 + [t0 + 2]
    assert [t.payload["n"] for t in shown[:3]] == [0, 1_000, 2_000]  # same time: as appended
    (statement, parameters), *_ = [(s, p) for s, p in seen if "ORDER BY" in s and "incident_timeline" in s]
    assert "LIMIT" in statement, statement
    plan = query_plan(db, statement, parameters, "incident_timeline")
    assert "ix_incident_timeline_order" in plan and "TEMP B-TREE" not in plan and "Sort" not in plan, plan
