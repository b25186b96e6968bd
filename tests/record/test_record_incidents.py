"""Incidents on both stores: automatic opening, party reports, evidence, accounts, review, metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from keepclear.domain import TrackReport
from keepclear.domain.event_payloads import IncidentOpened
from keepclear.domain.events import Event
from keepclear.domain.incidents import IncidentKind, ReviewStatus, incident_trigger
from keepclear.errors import ConflictError, ValidationError
from keepclear.ledger import Ledger, canonical_text, sha256_hex, verify_document
from keepclear.services.incidents.metrics import compute_metrics
from keepclear.services.incidents.service import IncidentService, NotInvolvedError
from keepclear.services.policy import unknown
from keepclear.services.record.signer import RecordSigner
from keepclear.services.record.staging import stage
from keepclear.services.reports.incident import incident_html
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment

PARTIES = frozenset({"coalition", "russia"})


class TrackHistory:
    """A track-history provider over a fixed list, recording what it was asked."""

    def __init__(self, reports: list[TrackReport]) -> None:
        self.reports = reports
        self.asked: list[tuple[list[str], float, float]] = []

    def __call__(self, unit_ids: list[str], start_s: float, end_s: float) -> list[TrackReport]:
        self.asked.append((list(unit_ids), start_s, end_s))
        return [r for r in self.reports if r.unit_id in unit_ids and start_s <= r.time_s <= end_s]


@pytest.fixture
def wired(deployment: Deployment, ledger: Ledger, clock: ManualClock) -> tuple[IncidentService, EventBus, TrackHistory]:
    t0 = clock.now_s()
    reports = [
        TrackReport(unit, t0 + dt, 35.0 + 0.001 * dt / 60 + off, 40.0, 3000.0, 100.0, 0.0)
        for unit, off in (("u1", 0.0), ("u2", 0.01), ("u9", 0.5))
        for dt in range(-900, 901, 60)
    ]
    history = TrackHistory(reports)
    bus = EventBus()
    bus.subscribe_batches(RecordSigner(deployment.db, ledger).record)
    service = IncidentService(deployment.db, clock, bus, history, ledger=ledger)
    bus.subscribe(service.on_event)
    return service, bus, history


def _los(clock: ManualClock, alert_id: str = "al1", **extra: object) -> Event:
    payload = {"alert_id": alert_id, "los": True, "level": "warning", "unit_ids": ["u1", "u2"], **extra}
    return Event("alert.raised", clock.now_s(), None, payload, PARTIES)


def test_trigger_matcher_reads_the_documented_payloads() -> None:
    assert incident_trigger(Event("alert.raised", 1.0, None, {"los": False, "alert_id": "a"})) is None
    assert incident_trigger(Event("alert.resolved", 1.0, None, {"los": True})) is None
    zone = incident_trigger(
        Event(
            "zone.entered",
            1.0,
            None,
            {"zone_id": "z", "zone_kind": "deconfliction-line", "unit_id": "u1", "permitted": False},
            PARTIES,
        )
    )
    assert zone is not None and zone.kind is IncidentKind.ZONE_VIOLATION and zone.unit_ids == ("u1",)
    assert zone.parties == ("coalition", "russia")
    assert (
        incident_trigger(Event("zone.entered", 1.0, None, {"zone_id": "z", "unit_id": "u1", "violation": False}))
        is None
    )
    alert_zone = incident_trigger(
        Event("alert.level_changed", 1.0, None, {"los": True, "zone_id": "z", "units": ["u3"]})
    )
    assert alert_zone is not None and alert_zone.kind is IncidentKind.ZONE_VIOLATION and alert_zone.unit_ids == ("u3",)


def _written(deployment: Deployment, bus: EventBus, event: Event) -> None:
    """What a writer does: stage the event's record entry with its change, publish after commit."""
    with deployment.db.write() as conn:
        stage(conn, [event])
    bus.emit(event)


def test_lost_separation_opens_one_incident_and_links_the_alert_history(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock, ledger: Ledger, deployment: Deployment
) -> None:
    service, bus, history = wired
    t0 = clock.now_s()
    bus.emit(Event("alert.raised", t0 - 30, None, {"alert_id": "al1", "los": False, "unit_ids": ["u1", "u2"]}, PARTIES))
    assert service.list() == []
    bus.emit(
        Event("alert.level_changed", t0, None, {"alert_id": "al1", "los": True, "unit_ids": ["u1", "u2"]}, PARTIES)
    )
    bus.emit(
        Event("alert.level_changed", t0 + 5, None, {"alert_id": "al1", "los": True, "unit_ids": ["u1", "u2"]}, PARTIES)
    )
    _written(
        deployment,
        bus,
        Event(
            "message.posted", t0 + 10, "russia", {"message_id": "m1", "alert_id": "al1", "text": "we see it"}, PARTIES
        ),
    )
    _written(
        deployment, bus, Event("message.posted", t0 + 11, "russia", {"message_id": "m2", "text": "unrelated"}, PARTIES)
    )
    (incident,) = service.list()
    assert incident.kind is IncidentKind.SEPARATION_LOST and incident.parties == ("coalition", "russia")
    assert incident.alert_ids == ("al1",) and incident.evidence_sha256 is None
    kinds = [t.kind for t in service.timeline(incident.id)]
    assert kinds == ["alert.level_changed", "alert.level_changed", "message.posted"]
    assert history.asked == []  # evidence waits for the window to pass
    clock.advance(599)
    assert service.freeze_due() == []
    clock.advance(1)
    assert service.freeze_due() == [incident.id]
    assert history.asked == [(["u1", "u2"], t0 - 600, t0 + 600)]
    evidence = service.evidence(incident.id)
    assert evidence is not None
    assert len(evidence["tracks"]) == 2 * 21 and {r["unit_id"] for r in evidence["tracks"]} == {"u1", "u2"}
    assert [m["payload"]["message_id"] for m in evidence["messages"]] == ["m1"]
    # the alert history from the ledger includes the level before separation was lost
    assert [(a["kind"], a["payload"]["los"]) for a in evidence["alerts"]] == [
        ("alert.raised", False),
        ("alert.level_changed", True),
        ("alert.level_changed", True),
    ]
    frozen = service.get(incident.id)
    assert frozen.evidence_sha256 == sha256_hex(canonical_text(evidence).encode())
    assert service.freeze_due() == []  # frozen once
    recorded = [e for e in ledger.entries(kinds_prefix=("incident.",))]
    assert [e.statement.kind for e in recorded] == ["incident.opened", "incident.evidence_frozen"]
    assert recorded[1].payload_value()["evidence_sha256"] == frozen.evidence_sha256
    assert IncidentOpened.from_payload(recorded[0].payload_value()).incident_id == incident.id
    assert bus.errors == []


def test_reported_incident_accounts_are_append_only_and_party_bound(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock, ledger: Ledger
) -> None:
    service, _bus, _ = wired
    incident = service.report(
        "coalition",
        time_s=clock.now_s() - 3600,
        summary="Su-35 intercept over the Euphrates",
        parties=["russia"],
        unit_ids=["u1"],
        message_ids=["m7"],
    )
    assert incident.kind is IncidentKind.REPORTED and incident.reported_by == "coalition"
    assert incident.evidence_sha256 is not None  # the window is already over: frozen at once
    first = service.add_account(incident.id, "coalition", "F-22 fired flares to warn off the Su-25s.")
    other = service.add_account(incident.id, "russia", "The F-22 obstructed our aircraft.")
    amended = service.add_account(incident.id, "coalition", "Correction: two Su-25s.", amends=first.position)
    with pytest.raises(NotInvolvedError, match="unknown incident") as uninvolved:
        service.add_account(incident.id, "un", "We saw it.")
    assert str(uninvolved.value) == unknown("incident", incident.id), "reads exactly like a made-up id"
    with pytest.raises(ValidationError, match="amends: #2 is not an account of party coalition"):
        service.add_account(incident.id, "coalition", "Rewriting theirs", amends=other.position)
    with pytest.raises(ValidationError, match="must not be empty"):
        service.add_account(incident.id, "russia", "  ")
    accounts = service.accounts(incident.id)
    assert [(a.party_id, a.text, a.amends) for a in accounts] == [
        ("coalition", first.text, None),
        ("russia", other.text, None),
        ("coalition", amended.text, 1),
    ]
    entries = ledger.entries(kinds_prefix=("incident.account",))
    assert [(e.statement.party_id, e.payload_value()["text"]) for e in entries] == [
        (a.party_id, a.text) for a in accounts
    ]
    assert verify_document(ledger.export_document()).ok
    assert verify_document(ledger.export_document(for_party="un")).redacted >= 3


def test_review_status_moves_and_closes(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock
) -> None:
    service, bus, _ = wired
    bus.emit(_los(clock))
    (incident,) = service.list()
    service.set_review(incident.id, ReviewStatus.UNDER_REVIEW, by_party="russia", note="joint review 12 Dec")
    with pytest.raises(NotInvolvedError):
        service.set_review(incident.id, ReviewStatus.AGREED, by_party="un")
    assert service.set_review(incident.id, ReviewStatus.CLOSED, by_party=None).status is ReviewStatus.CLOSED
    with pytest.raises(ConflictError, match="closed"):
        service.set_review(incident.id, ReviewStatus.OPEN, by_party=None)
    assert service.list(party_id="un") == [] and len(service.list(party_id="russia")) == 1


def test_the_review_is_joint_no_party_agrees_or_closes_for_the_others(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock
) -> None:
    """Before, either party could set ``agreed`` or ``closed`` (final) alone, ending the other's
    dispute with it. Each party's step is now its own stance; the review is agreed, and closes, once
    both agree; a dispute holds it disputed; every step is in the timeline with the stance taken."""
    service, bus, _ = wired
    bus.emit(_los(clock))
    (incident,) = service.list()
    assert set(incident.parties) == {"coalition", "russia"}
    step = service.set_review(incident.id, ReviewStatus.AGREED, by_party="russia")
    assert (step.status, step.agreed_by, step.disputed_by) == (ReviewStatus.UNDER_REVIEW, ("russia",), ())
    with pytest.raises(ConflictError, match="waiting for coalition"):
        service.set_review(incident.id, ReviewStatus.CLOSED, by_party="russia")
    step = service.set_review(incident.id, ReviewStatus.DISPUTED, by_party="coalition", note="our unit held")
    assert (step.status, step.agreed_by, step.disputed_by) == (ReviewStatus.DISPUTED, ("russia",), ("coalition",))
    with pytest.raises(ConflictError, match="disputed by coalition"):
        service.set_review(incident.id, ReviewStatus.CLOSED, by_party="coalition")
    # Withdrawing a stance: neither agreed nor disputed.
    step = service.set_review(incident.id, ReviewStatus.UNDER_REVIEW, by_party="coalition")
    assert (step.status, step.agreed_by, step.disputed_by) == (ReviewStatus.UNDER_REVIEW, ("russia",), ())
    step = service.set_review(incident.id, ReviewStatus.AGREED, by_party="coalition")
    assert (step.status, step.agreed_by) == (ReviewStatus.AGREED, ("coalition", "russia"))
    # One party going back on its agreement takes the review back under review.
    assert service.set_review(incident.id, ReviewStatus.OPEN, by_party="russia").status is ReviewStatus.UNDER_REVIEW
    service.set_review(incident.id, ReviewStatus.AGREED, by_party="russia")
    assert service.set_review(incident.id, ReviewStatus.CLOSED, by_party="coalition").status is ReviewStatus.CLOSED
    with pytest.raises(ConflictError, match="closed"):
        service.set_review(incident.id, ReviewStatus.DISPUTED, by_party="russia")
    steps = [
        (item.party_id, item.payload["stance"], item.payload["status"])
        for item in service.timeline(incident.id)
        if item.kind == "incident.review_changed"
    ]
    assert steps == [
        ("russia", "agreed", "under-review"),
        ("coalition", "disputed", "disputed"),
        ("coalition", "under-review", "under-review"),
        ("coalition", "agreed", "agreed"),
        ("russia", "open", "under-review"),
        ("russia", "agreed", "agreed"),
        ("coalition", "closed", "closed"),
    ]


def test_zone_violation_and_new_alert_open_separate_incidents(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock
) -> None:
    service, bus, _ = wired
    bus.emit(_los(clock, "al1"))
    bus.emit(_los(clock, "al1"))
    zone_payload = {"zone_id": "euphrates", "zone_kind": "deconfliction-line", "unit_id": "u9", "violation": True}
    bus.emit(Event("zone.entered", clock.now_s(), None, zone_payload, PARTIES))
    bus.emit(Event("zone.entered", clock.now_s() + 5, None, zone_payload, PARTIES))  # same crossing: joined
    clock.advance(3600)
    bus.emit(_los(clock, "al2"))
    kinds = sorted(i.kind.value for i in service.list())
    assert kinds == ["separation-lost", "separation-lost", "zone-violation"]


def test_metrics_from_the_ledger(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock, ledger: Ledger, deployment: Deployment
) -> None:
    _service, bus, _ = wired
    t0 = clock.now_s()
    bus.emit(Event("alert.raised", t0, None, {"alert_id": "a1", "los": False}, PARTIES))
    bus.emit(Event("alert.acknowledged", t0 + 40, "russia", {"alert_id": "a1"}, PARTIES))
    bus.emit(Event("alert.acknowledged", t0 + 90, "russia", {"alert_id": "a1"}, PARTIES))  # second ack: ignored
    bus.emit(Event("alert.acknowledged", t0 + 100, "coalition", {"alert_id": "a1"}, PARTIES))
    _written(deployment, bus, Event("activity.notified", t0, "coalition", {"activity_id": "n1"}, PARTIES))
    escalated = Event("hotline.escalated", t0 + 300, None, {"message_id": "m1", "step": 2}, frozenset({"russia"}))
    _written(deployment, bus, escalated)
    zone_payload = {"zone_id": "euphrates", "zone_kind": "deconfliction-line", "unit_id": "u9", "violation": True}
    bus.emit(Event("zone.entered", t0, None, zone_payload, PARTIES))
    bus.emit(_los(clock, "a9"))
    asked = {"thread_id": "t1", "seq": 4, "kind": "text", "reply_to_seq": None, "ack_deadline_s": t0 + 600}
    answered = {"thread_id": "t1", "seq": 5, "kind": "acknowledgement", "reply_to_seq": 4, "ack_deadline_s": None}
    not_asked = {"thread_id": "t1", "seq": 6, "kind": "text", "reply_to_seq": None, "ack_deadline_s": None}
    other_thread = {**answered, "thread_id": "t2", "seq": 1}  # answers seq 4 of another thread: not this one
    for offset_s, party, payload in ((0, "coalition", asked), (25, "russia", answered), (30, "russia", not_asked)):
        _written(deployment, bus, Event("message.posted", t0 + offset_s, party, payload, PARTIES))
    _written(deployment, bus, Event("message.posted", t0 + 26, "russia", other_thread, PARTIES))
    metrics = compute_metrics(ledger.entries(), t0 - 1, t0 + 86400)
    message = metrics.ack_delays["message"]
    assert (message.acknowledged, message.unacknowledged, message.mean_s) == (1, 0, 25.0)
    assert metrics.incidents_by_kind == {"zone-violation": 1, "separation-lost": 1}
    assert metrics.line_crossings == 1 and metrics.zone_violations_by_zone == {"euphrates": 1}
    alert = metrics.ack_delays["alert"]
    assert (alert.acknowledged, alert.unacknowledged, alert.mean_s, alert.max_s) == (2, 1, 70.0, 100.0)
    assert metrics.ack_delays["activity"].unacknowledged == 1
    assert metrics.escalations == 1 and metrics.escalations_by_party == {"russia": 1}
    assert "ack_mean_s,alert,70.0" in metrics.to_csv()
    assert compute_metrics(ledger.entries(), t0 + 86400, t0 + 2 * 86400).to_json()["incidents"] == 0


def test_report_html_embeds_the_map_and_escapes(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock, tmp_path: Path
) -> None:
    service, _bus, _ = wired
    incident = service.report("russia", time_s=clock.now_s() - 600, summary="<script>x</script>", unit_ids=["u1", "u2"])
    service.add_account(incident.id, "russia", "a & b")
    text = incident_html(
        service.get(incident.id),
        service.accounts(incident.id),
        service.timeline(incident.id),
        service.evidence(incident.id),
        generated_s=clock.now_s(),
    )
    assert "<script>x" not in text and "&lt;script&gt;" in text and "a &amp; b" in text
    assert text.count("data:image/png;base64,") == 1


def test_report_html_without_the_reports_extra_says_what_is_missing(
    wired: tuple[IncidentService, EventBus, TrackHistory], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """matplotlib is the ``reports`` extra: without it the report is whole but for its map, and says why."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    service, _bus, _ = wired
    incident = service.report("russia", time_s=clock.now_s() - 600, summary="close pass", unit_ids=["u1", "u2"])
    evidence = service.evidence(incident.id)
    assert evidence is not None and evidence["tracks"], "the evidence holds tracks, so a map would be drawn"
    text = incident_html(
        service.get(incident.id), service.accounts(incident.id), service.timeline(incident.id), evidence,
        generated_s=clock.now_s(),
    )  # fmt: skip
    assert "data:image/png" not in text
    assert "keepclear[reports]" in text and "close pass" in text


def test_a_published_batch_opens_merges_and_links_as_one_event_at_a_time_would(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    bus = EventBus()
    service = IncidentService(deployment.db, clock, bus, None, ledger=ledger)
    bus.subscribe_batches(service.on_events)
    t0 = clock.now_s()

    def alert(kind: str, dt: float, alert_id: str, los: bool) -> Event:
        return Event(kind, t0 + dt, None, {"alert_id": alert_id, "los": los, "unit_ids": ["u1", "u2"]}, PARTIES)

    bus.publish(
        [
            alert("alert.raised", 0, "al1", False),
            alert("alert.level_changed", 1, "al1", True),  # opens the incident
            alert("alert.level_changed", 2, "al1", True),
            Event("message.posted", t0 + 3, "russia", {"message_id": "m1", "alert_id": "al1"}, PARTIES),
            Event("message.posted", t0 + 3, "russia", {"message_id": "m2"}, PARTIES),
            alert("alert.raised", 4, "al2", True),  # same units within the merge window: same incident
            alert("alert.resolved", 5, "al2", False),
        ]
    )
    (incident,) = service.list()
    assert incident.alert_ids == ("al1", "al2")
    kinds = [t.kind for t in service.timeline(incident.id)]
    assert kinds == ["alert.level_changed", "alert.level_changed", "message.posted", "alert.raised", "alert.resolved"]
    # hours later, beyond any merge window, an event of a linked alert still finds its incident
    clock.advance(7200)
    bus.publish([alert("alert.resolved", 7200, "al1", False)])
    assert [t.kind for t in service.timeline(incident.id)][-1] == "alert.resolved"
    bus.publish([alert("alert.level_changed", 7201, "al2", False)])  # the alert merged in the batch is linked too
    timeline = service.timeline(incident.id)
    assert timeline[-1].kind == "alert.level_changed" and [t.position for t in timeline] == list(range(1, 8))
    assert len(service.list()) == 1


def test_the_open_incidents_a_batch_may_touch_are_found_by_alert_id_and_by_time_and_unit(
    deployment: Deployment,
) -> None:
    from keepclear.domain.incidents import Incident
    from keepclear.store import incidents as store

    def incident(incident_id: str, time_s: float, units: tuple[str, ...], alerts: tuple[str, ...] = ()) -> Incident:
        return Incident(
            incident_id, IncidentKind.SEPARATION_LOST, ReviewStatus.OPEN, time_s, time_s, None,
            ("coalition", "russia"), units, alerts, None, None, "loss of separation",
        )  # fmt: skip

    with deployment.db.write() as conn:
        store.insert_incidents(
            conn,
            [
                incident("i1", 100.0, ("u1", "u2"), ("al1",)),
                incident("i2", 101.0, ("u3", "u4")),
                incident("i3", 102.0, ("u5",)),
                incident("i4", 5000.0, ("u3",), ("al4",)),
                incident("i5", 101.0, ("u3",)),
            ],
        )
        store.set_status(conn, "i5", ReviewStatus.CLOSED)
    with deployment.db.read() as conn:

        def found(**kwargs: object) -> list[str]:
            args: dict[str, object] = {"alert_ids": [], "incident_ids": [], "time_windows": [], **kwargs}
            return [i.id for i in store.open_incidents_concerned(conn, **args)]  # type: ignore[arg-type]

        assert found(time_windows=[(90.0, 110.0)]) == ["i1", "i2", "i3"]  # closed i5 is not open
        assert found(time_windows=[(90.0, 110.0)], window_units={"u3"}) == ["i2"]
        assert found(time_windows=[(90.0, 110.0)], window_units={"u9"}) == []
        # an alert or an id finds its incident whatever the time and units
        assert found(alert_ids=["al4", "al1"], window_units={"u9"}) == ["i1", "i4"]
        assert found(incident_ids=["i3"], time_windows=[(4990.0, 5010.0)], window_units={"u3"}) == ["i3", "i4"]
