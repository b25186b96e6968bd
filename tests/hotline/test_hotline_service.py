"""Contract tests of the hotline service on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hotline_support import Recorder, pair
from sqlalchemy.engine import Connection

from keepclear.domain import Party
from keepclear.domain.events import Event
from keepclear.domain.hotline import Availability, Draft, MessageKind, PhraseUse, ReceiptKind, Thread
from keepclear.domain.parties import Contact
from keepclear.errors import ConflictError, NotFoundError, ValidationError
from keepclear.services.hotline import escalation
from keepclear.services.hotline.service import HotlineConfig, HotlineService
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store


def _count(deployment: Deployment) -> int:
    with deployment.db.read() as conn:
        return store.count_messages(conn)


def _text(thread_id: str, key: str, body: str = "hello", **kw: object) -> Draft:
    return Draft(thread_id, MessageKind.TEXT, key, body=body, **kw)  # type: ignore[arg-type]


def test_a_standing_thread_is_created_for_every_pair_of_parties(hotline: HotlineService) -> None:
    pairs = {frozenset(t.parties) for p in ("coalition", "russia", "un") for t in hotline.threads_of(p)}
    assert pairs == {
        frozenset({"coalition", "russia"}),
        frozenset({"coalition", "un"}),
        frozenset({"russia", "un"}),
    }
    assert all(t.standing for t in hotline.threads_of("coalition"))
    assert len(hotline.ensure_standing_threads()) == 3  # idempotent: finds, creates nothing
    assert len(hotline.threads_of("russia")) == 2


def test_a_standing_thread_made_meanwhile_by_another_process_is_taken_not_refused(
    deployment: Deployment, database_url: str
) -> None:
    """Two API processes starting side by side each make the missing standing threads: the one that
    finds its insert beaten by the other's (committed while it waited) takes the other's thread."""
    for party in ("coalition", "russia"):  # no hotline on the bus: no standing thread yet
        deployment.registry.add_party(Party(party, party.title()))
    handles = [Database(database_url) for _ in range(2)]
    starting = HotlineService(handles[1], deployment.clock, EventBus())
    found: list[Thread] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            found.extend(starting.ensure_standing_threads())
        except BaseException as exc:
            errors.append(exc)

    try:
        with handles[0].write() as conn:  # the other process, its thread stored but not yet committed
            theirs = Thread("t-theirs", "coalition – russia", ("coalition", "russia"), True, deployment.clock.now_s())
            store.insert_thread(conn, theirs, store.pair_key("coalition", "russia"))
            waiting = threading.Thread(target=start)
            waiting.start()
            time.sleep(0.5)  # it waits on our uncommitted row (PostgreSQL) or on the file's lock (SQLite)
        waiting.join(timeout=30)
    finally:
        for db in handles:
            db.dispose()
    assert errors == []
    assert [t.id for t in found] == ["t-theirs"]
    with deployment.db.read() as conn:
        assert store.thread_id_for_pair(conn, "russia", "coalition") == "t-theirs"


def test_messages_get_gapless_sequence_numbers_sender_and_server_time(
    hotline: HotlineService, clock: ManualClock, recorder: Recorder
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    first, created = hotline.post("coalition", "Maj Smith", _text(thread_id, "key-00000001"))
    clock.advance(5)
    second, _ = hotline.post("russia", "Maj Ivanov", _text(thread_id, "key-00000001", "привет"))
    assert created and (first.seq, second.seq) == (1, 2)
    assert (second.sender_party, second.sender_person, second.time_s) == ("russia", "Maj Ivanov", clock.now_s())
    assert [m.body for m in hotline.messages("un", pair(hotline, "russia", "un"))] == []
    assert [m.seq for m in hotline.messages("coalition", thread_id)] == [1, 2]
    posted = recorder.of("message.posted")
    assert [(e.payload["seq"], e.parties) for e in posted] == [(1, frozenset({"coalition", "russia"}))] * 1 + [
        (2, frozenset({"coalition", "russia"}))
    ]


def test_concurrent_senders_through_separate_handles_get_a_total_order(
    deployment: Deployment, hotline: HotlineService, database_url: str
) -> None:
    """Four writer threads on two database handles (as two API processes would be): seq 1..N, no gap."""
    thread_id = pair(hotline, "coalition", "russia")
    other_db = Database(database_url)
    other = HotlineService(other_db, deployment.clock, EventBus(), hotline.phrases)
    services = [hotline, other]
    per_thread = 30
    errors: list[BaseException] = []

    def sender(n: int) -> None:
        party = ("coalition", "russia")[n % 2]
        try:
            for i in range(per_thread):
                services[n % 2].post(party, f"p{n}", _text(thread_id, f"w{n}-{i:04d}-key", f"{n}:{i}"))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    other_db.dispose()
    assert errors == []
    messages = hotline.messages("coalition", thread_id)
    assert [m.seq for m in messages] == list(range(1, 4 * per_thread + 1))
    # Each sender's own messages keep the order it sent them in.
    for n in range(4):
        mine = [int(m.body.split(":")[1]) for m in messages if m.body.startswith(f"{n}:")]
        assert mine == list(range(per_thread))


def test_a_retry_with_the_same_key_returns_the_original_and_stores_nothing(
    deployment: Deployment, hotline: HotlineService, recorder: Recorder
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    original, created = hotline.post("coalition", "Maj Smith", _text(thread_id, "retry-0001"))
    again, created_again = hotline.post("coalition", "Maj Smith", _text(thread_id, "retry-0001"))
    assert created and not created_again and again == original
    assert _count(deployment) == 1 and len(recorder.of("message.posted")) == 1
    with pytest.raises(ConflictError, match="already used for message 1"):
        hotline.post("coalition", "Maj Smith", _text(thread_id, "retry-0001", "different words"))
    # The same key from another party is that party's own key.
    other, created_other = hotline.post("russia", "Maj Ivanov", _text(thread_id, "retry-0001"))
    assert created_other and other.seq == 2
    answers = hotline.post_many("coalition", "x", [_text(thread_id, "retry-0001"), _text(thread_id, "retry-0002")])
    assert [(a[0].seq, a[1]) for a in answers if isinstance(a, tuple)] == [(1, False), (3, True)]
    assert _count(deployment) == 3


@pytest.mark.parametrize(
    ("party", "draft", "error", "match"),
    [
        ("coalition", _text("t-nope", "bad-input-1"), NotFoundError, "unknown thread 't-nope'"),
        ("un", None, NotFoundError, "unknown thread"),
        ("coalition", _text("T", "bad-input-1", "x" * (16 * 1024 + 1)), ValidationError, "16385 bytes"),
        ("coalition", _text("T", "short"), ValidationError, "idempotency_key"),
        ("coalition", _text("T", "has space in it"), ValidationError, "idempotency_key"),
        ("coalition", _text("T", "bad-input-1", phrase=PhraseUse("NOPE")), ValidationError, "'NOPE' is not"),
        (
            "coalition",
            _text("T", "bad-input-1", phrase=PhraseUse("ALTCRS", {"unit": "VIPER11"})),
            ValidationError,
            "course_deg: missing",
        ),
        (
            "coalition",
            Draft("T", MessageKind.REPLY, "bad-input-1", "ok"),
            ValidationError,
            "must name the message they answer",
        ),
        ("coalition", _text("T", "bad-input-1", reply_to_seq=7), NotFoundError, "has no message 7"),
        ("coalition", Draft("T", MessageKind.ESCALATION, "bad-input-1", "x"), ValidationError, "by keepclear only"),
        ("coalition", _text("T", "bad-input-1", ack_within_s=-5), ValidationError, "ack_within_s"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(
    deployment: Deployment, hotline: HotlineService, party: str, draft: Draft | None, error: type, match: str
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    if draft is None:
        draft = _text(thread_id, "bad-input-1")
    elif draft.thread_id == "T":
        draft = Draft(**{**{f: getattr(draft, f) for f in draft.__slots__}, "thread_id": thread_id})  # type: ignore[attr-defined]
    with pytest.raises(error, match=match):
        hotline.post(party, "someone", draft)
    assert _count(deployment) == 0


def test_standard_phrases_read_in_each_partys_language(hotline: HotlineService) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    message, _ = hotline.post(
        "coalition",
        "Maj Smith",
        Draft(
            thread_id,
            MessageKind.QUERY,
            "phrase-0001",
            phrase=PhraseUse("ALTCRS", {"unit": "SU-35 '21'", "course_deg": "090"}),
        ),
    )
    russian = hotline.view(message, hotline.language_of("russia"), "russia")["text"]
    english = hotline.view(message, hotline.language_of("coalition"), "coalition")["text"]
    assert russian == "Прошу ваше подразделение SU-35 '21' изменить курс на 090 градусов."
    assert english == "Request your unit SU-35 '21' alter course to 090 degrees."
    assert hotline.view(message, "ar", None)["text"] == english  # no Arabic wording: English stands in


def test_receipts_delivered_and_read_per_party_visible_to_the_sender(
    hotline: HotlineService, clock: ManualClock, recorder: Recorder
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    for i in range(3):
        hotline.post("coalition", "Maj Smith", _text(thread_id, f"rcpt-{i:04d}"))
    own, _ = hotline.post("russia", "Maj Ivanov", _text(thread_id, "rcpt-own-1"))
    clock.advance(2)
    assert hotline.mark_delivered("russia", thread_id, 2) == [1, 2]
    assert hotline.mark_delivered("russia", thread_id, 2) == []  # once only
    clock.advance(3)
    assert hotline.mark_read("russia", "Maj Ivanov", thread_id, 4) == [1, 2, 3]  # its own #4 gets none
    receipts = hotline.receipts("coalition", thread_id, 1)
    assert [(r.party_id, r.kind, r.time_s - clock.now_s(), r.person) for r in receipts] == [
        ("russia", ReceiptKind.DELIVERED, -3.0, ""),
        ("russia", ReceiptKind.READ, 0.0, "Maj Ivanov"),
    ]
    assert hotline.receipts("coalition", thread_id, own.seq) == []
    events = recorder.of("message.receipt")
    assert [(e.payload["kind"], e.payload["seqs"]) for e in events] == [
        ("delivered", [1, 2]),
        ("delivered", [3]),
        ("read", [1, 2, 3]),
    ]
    with pytest.raises(ValidationError, match="has only 4 messages"):
        hotline.mark_read("russia", "Maj Ivanov", thread_id, 99)
    with pytest.raises(NotFoundError):
        hotline.receipts("un", thread_id, 1)


def test_overdue_acknowledgement_escalates_along_the_recipients_roster(
    hotline: HotlineService, clock: ManualClock, recorder: Recorder
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    start = clock.now_s()
    query, _ = hotline.post(
        "coalition",
        "Maj Smith",
        Draft(
            thread_id, MessageKind.QUERY, "ack-query-1", phrase=PhraseUse("INTENT", {"unit": "VIPER"}), ack_within_s=300
        ),
    )
    assert hotline.run_deadlines(start + 299) == []
    step1 = hotline.run_deadlines(start + 300)
    assert [m.kind for m in step1] == [MessageKind.ESCALATION]
    # Which contact of how many, never who: the thread (and the record) is both parties'.
    assert hotline.view(step1[0], "en", "coalition")["text"] == (
        "No acknowledgement from russia of message #1 in time. Escalated to contact 1 of 2 on the roster of russia."
    )
    assert hotline.view(step1[0], "ru", "russia")["text"].endswith(
        "Передано дальше: контакт 1 из 2 в списке оповещения russia."
    )
    assert hotline.run_deadlines(start + 599) == []
    step2 = hotline.run_deadlines(start + 600)
    assert step2[0].data == {"party_id": "russia", "step": 2, "contacts": 2} and step2[0].reply_to_seq == query.seq
    exhausted = hotline.run_deadlines(start + 900)
    assert exhausted[0].phrase is not None and exhausted[0].phrase.code == "NOANSWER"
    assert hotline.run_deadlines(start + 5000) == []
    told = [(sorted(e.parties), e.payload["step"], e.payload["contact"]) for e in recorder.of("hotline.escalated")]
    assert told == [
        (["coalition"], 1, None),
        (["russia"], 1, "Maj Ivanov (duty)"),  # the overdue party alone is told whom it called
        (["coalition"], 2, None),
        (["russia"], 2, "Col Petrov"),
        (["coalition"], 3, None),
        (["russia"], 3, None),
    ]
    assert [m.seq for m in hotline.messages("coalition", thread_id)] == [1, 2, 3, 4]
    status = hotline.ack_status("coalition", thread_id, 1)
    assert status == [
        {"party_id": "russia", "deadline_s": start + 300, "acked_s": None, "acked_seq": None, "escalation_steps": 3}
    ]


@pytest.mark.parametrize("asked", [5, 4])
def test_overdue_requests_are_read_a_page_at_a_time_and_none_is_lost(
    hotline: HotlineService, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, asked: int
) -> None:
    """Every due request was read at once: a party asking thousands of messages to be acknowledged
    made the deadline ticker hold them all. Now ``DUE_PAGE`` at a time, oldest first, to the last."""
    monkeypatch.setattr(escalation, "DUE_PAGE", 2)
    pages: list[int] = []
    read = store.due_ack_requests

    def due(conn: Connection, now_s: float, limit: int | None = None) -> list[Any]:
        rows = read(conn, now_s, limit)
        pages.append(len(rows))
        return rows

    monkeypatch.setattr(store, "due_ack_requests", due)
    thread_id = pair(hotline, "coalition", "russia")
    start = clock.now_s()
    for k in range(asked):
        draft = Draft(thread_id, MessageKind.QUERY, f"paged-query-{k}", body=f"query {k}", ack_within_s=300 + k)
        hotline.post("coalition", "Maj Smith", draft)
    steps = hotline.run_deadlines(start + 400)
    assert [m.reply_to_seq for m in steps] == list(range(1, asked + 1))
    assert max(pages) == 2 and sum(pages) == asked
    assert hotline.run_deadlines(start + 400) == []


def test_an_acknowledgement_in_time_stops_the_escalation(hotline: HotlineService, clock: ManualClock) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    start = clock.now_s()
    hotline.post("coalition", "Maj Smith", _text(thread_id, "ack-query-2", ack_within_s=60))
    hotline.run_deadlines(start + 61)  # step 1 posted
    clock.advance(70)
    ack, _ = hotline.post(
        "russia",
        "Maj Ivanov",
        Draft(
            thread_id,
            MessageKind.ACKNOWLEDGEMENT,
            "ack-answer-1",
            phrase=PhraseUse("ACK", {"ref": "#1"}),
            reply_to_seq=1,
        ),
    )
    assert hotline.run_deadlines(start + 10_000) == []
    assert hotline.ack_status("russia", thread_id, 1)[0]["acked_seq"] == ack.seq


def test_availability_change_is_a_channel_status_message_in_each_standing_thread_of_the_party(
    hotline: HotlineService, recorder: Recorder
) -> None:
    hotline.set_availability("russia", "Col Petrov", Availability.SUSPENDED, "Communications maintenance")
    threads = hotline.threads_of("russia")
    statuses = [hotline.messages("russia", t.id)[-1] for t in threads]
    assert len(statuses) == 2 and all(m.kind == MessageKind.CHANNEL_STATUS for m in statuses)
    assert hotline.view(statuses[0], "en", None)["text"] == (
        "Channel status: russia has SUSPENDED the hotline. Messages are recorded but will not be answered.\n"
        "Communications maintenance"
    )
    assert hotline.view(statuses[0], "ru", None)["text"].startswith("Состояние канала: russia ПРИОСТАНОВИЛ")
    assert hotline.availability("russia").availability == Availability.SUSPENDED
    assert recorder.of("party.availability")[0].payload["availability"] == "suspended"
    hotline.set_availability("russia", "Col Petrov", "suspended", "still")  # no change: no new message
    assert sum(len(hotline.messages("russia", t.id)) for t in threads) == 2
    hotline.set_availability("russia", "Col Petrov", "available")
    assert sum(len(hotline.messages("russia", t.id)) for t in threads) == 4
    assert hotline.messages("coalition", pair(hotline, "coalition", "un")) == []
    with pytest.raises(ValidationError, match="'offline' is not one of"):
        hotline.set_availability("russia", "Col Petrov", "offline")


def test_alerts_activities_and_incidents_post_themselves_into_the_pair_threads(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    alert = Event(
        "alert.raised",
        clock.now_s(),
        None,
        {"id": "a-17", "summary": "VIPER11 and SU-35 '21' predicted 3.1 NM apart in 140 s"},
        frozenset({"coalition", "russia"}),
    )
    deployment.bus.emit(alert)
    deployment.bus.emit(alert)  # the same event again: not posted twice
    deployment.bus.emit(
        Event(
            "activity.notified",
            clock.now_s(),
            "coalition",
            {"id": "act-3", "summary": "Air operation over Raqqa 1200-1400Z"},
            frozenset({"coalition", "russia", "un"}),
        )
    )
    deployment.bus.emit(Event("zone.added", clock.now_s(), None, {"id": "z"}, frozenset({"coalition", "russia"})))
    assert deployment.bus.errors == []
    cr = hotline.messages("coalition", pair(hotline, "coalition", "russia"))
    assert [(m.kind, m.sender_party, m.body) for m in cr] == [
        (MessageKind.ALERT, None, "VIPER11 and SU-35 '21' predicted 3.1 NM apart in 140 s"),
        (MessageKind.NOTIFICATION, None, "Air operation over Raqqa 1200-1400Z"),
    ]
    assert [m.kind for m in hotline.messages("un", pair(hotline, "coalition", "un"))] == [MessageKind.NOTIFICATION]
    assert hotline.messages("un", pair(hotline, "russia", "un")) == []


def test_threads_among_any_set_of_parties_with_an_observer(deployment: Deployment, hotline: HotlineService) -> None:
    thread = hotline.create_thread("coalition", ["russia", "un"], "Aleppo convoy 14 Nov")
    assert thread.parties == ("coalition", "russia", "un") and not thread.standing
    message, _ = hotline.post("un", "OCHA liaison", _text(thread.id, "convoy-0001", "Convoy departs 0600Z"))
    assert [m.seq for m in hotline.messages("russia", thread.id)] == [message.seq]
    with pytest.raises(NotFoundError, match="parties\\[1\\]: party 'nobody'"):
        hotline.create_thread("coalition", ["russia", "nobody"], "x")
    with pytest.raises(ValidationError, match="at least one party"):
        hotline.create_thread("coalition", ["coalition"], "alone")
    assert len(hotline.threads_of("coalition")) == 3


def test_a_refused_draft_in_a_batch_leaves_no_gap(deployment: Deployment, hotline: HotlineService) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    answers = hotline.post_many(
        "coalition",
        "Maj Smith",
        [
            _text(thread_id, "batch-0001"),
            _text(thread_id, "batch-0002", reply_to_seq=5),
            _text(thread_id, "batch-0003", reply_to_seq=1),
            _text(thread_id, "batch-0001"),
        ],
    )
    assert isinstance(answers[1], NotFoundError)
    assert [(a[0].seq, a[1]) for a in answers if isinstance(a, tuple)] == [(1, True), (2, True), (1, False)]
    later, _ = hotline.post("russia", "Maj Ivanov", _text(thread_id, "batch-0004"))
    assert later.seq == 3 and _count(deployment) == 3


def _alert_event(kind: str, seq: int, time_s: float, level: str = "caution") -> Event:
    payload = {
        "alert_id": f"alert-{seq:06d}",
        "unit_a": f"c-{seq}",
        "unit_b": f"r-{seq}",
        "party_a": "coalition",
        "party_b": "russia",
        "level": level,
        "previous_level": None if kind == "alert.raised" else "advisory",
        "cpa": {"tcpa_s": 140.0, "dcpa_m": 1852.0 * 3.1, "vsep_cpa_m": -152.4},
    }
    return Event(kind, time_s, None, payload, frozenset({"coalition", "russia"}))


def test_an_alert_reads_as_what_between_whom_how_close_and_when(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    deployment.bus.emit(_alert_event("alert.raised", 7, clock.now_s()))
    (message,) = hotline.messages("russia", pair(hotline, "coalition", "russia"))
    assert message.body == (
        "CAUTION alert alert-000007 raised: c-7 (coalition) and r-7 (russia);"
        " closest approach in 140 s at 3.1 NM, 500 ft vertically"
    )
    assert message.data["ref"] == "alert-000007"


def test_an_alert_storm_is_one_summary_message_per_pair_and_a_few_alerts_are_one_each(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    t = clock.now_s()
    storm = [_alert_event("alert.raised", k, t, "warning" if k % 10 == 0 else "caution") for k in range(1, 301)]
    storm += [_alert_event("alert.resolved", k, t, "none") for k in range(301, 306)]
    deployment.bus.publish(storm)
    deployment.bus.publish([_alert_event("alert.raised", 400, t + 1)])  # the storm is over: one message again
    thread_id = pair(hotline, "coalition", "russia")
    messages = hotline.messages("coalition", thread_id)
    assert len(messages) == 2
    summary, single = messages
    assert summary.kind == MessageKind.ALERT and summary.body.startswith(
        "ALERT STORM: 305 changes between coalition and russia at "
    )
    assert "300 raised, 5 resolved; raised by level: 30 warning, 270 caution." in summary.body
    assert summary.data["count"] == 305 and summary.data["alerts"][:2] == ["alert-000001", "alert-000002"]
    assert single.body.startswith("CAUTION alert alert-000400 raised")
    deployment.bus.publish(storm)  # the same storm delivered again (a replay): not summed up twice
    assert len(hotline.messages("coalition", thread_id)) == 2


def _notified(clock: ManualClock, activity_id: str) -> Event:
    return Event(
        "activity.notified",
        clock.now_s(),
        "coalition",
        {"id": activity_id, "summary": f"Air operation {activity_id}"},
        frozenset({"coalition", "russia"}),
    )


def test_a_notice_posted_within_its_writers_transaction_is_stored_once_with_it(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock, recorder: Recorder
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    live: list[int] = []
    hotline.add_listener(lambda batch: live.extend(m.seq for m, _ in batch))
    event = _notified(clock, "act-within")
    with deployment.db.write() as conn:
        posted = hotline.post_within(conn, [event, Event("zone.added", clock.now_s(), None, {}, frozenset())])
        # in the writer's transaction, before its commit: nobody else sees the notice yet
        assert posted is not None and [e.kind for e in posted[0]] == ["message.posted"]
        assert recorder.of("message.posted") == []
    (message,) = hotline.messages("russia", thread_id)
    assert (message.kind, message.body) == (MessageKind.NOTIFICATION, "Air operation act-within")
    events, deliver_live = posted
    assert events[0].payload["seq"] == message.seq and events[0].payload["thread_id"] == thread_id
    assert live == []
    deliver_live()
    assert live == [message.seq]
    deployment.bus.emit(event)  # the bus delivers the write's event afterwards: not posted a second time
    assert deployment.bus.errors == []
    assert [m.seq for m in hotline.messages("russia", thread_id)] == [message.seq]
    deployment.bus.emit(_notified(clock, "act-bus"))  # an event no writer posted: the bus posts it
    assert [m.body for m in hotline.messages("russia", thread_id)][1:] == ["Air operation act-bus"]


def test_a_notice_of_a_write_that_rolls_back_is_gone_with_it(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    with pytest.raises(RuntimeError, match="the write failed"), deployment.db.write() as conn:
        assert hotline.post_within(conn, [_notified(clock, "act-lost")]) is not None
        raise RuntimeError("the write failed")
    assert hotline.messages("russia", thread_id) == []
    with deployment.db.write() as conn:  # the thread numbers stay gapless: the next notice is seq 1
        hotline.post_within(conn, [_notified(clock, "act-next")])
    assert [m.seq for m in hotline.messages("russia", thread_id)] == [1]


def test_a_notice_whose_thread_is_not_made_yet_is_left_to_the_bus(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    with deployment.db.write() as conn:  # a party whose party.added the bus has not delivered yet
        registry_store.insert_party(conn, Party("icrc", "ICRC", "en"), clock.now_s())
    event = Event("activity.notified", clock.now_s(), "icrc", {"id": "convoy-9"}, frozenset({"icrc", "coalition"}))
    with deployment.db.write() as conn:
        assert hotline.post_within(conn, [event]) is None
    deployment.bus.emit(event)
    assert [m.kind for m in hotline.messages("icrc", pair(hotline, "coalition", "icrc"))] == [MessageKind.NOTIFICATION]


def test_a_notice_the_hotline_refuses_does_not_fail_its_writers_transaction(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    bad = Event(
        "activity.notified",
        clock.now_s(),
        "coalition",
        {"id": "x", "summary": "a\x00b"},
        frozenset({"coalition", "russia"}),
    )
    with deployment.db.write() as conn:
        assert hotline.post_within(conn, [bad, _notified(clock, "act-good")]) is not None
    assert [m.body for m in hotline.messages("russia", thread_id)] == ["Air operation act-good"]
    deployment.bus.emit(bad)  # left to the bus, which reports why it cannot post it
    assert "NUL character" in str(deployment.bus.errors[-1][1])


def test_threads_kept_in_memory_are_bounded_and_one_pushed_out_is_read_again(deployment: Deployment) -> None:
    """Every thread any party opened stayed in the service's memory for good: a party opening threads
    without end grew it without bound. Now the most recently used ``max_cached_threads`` are kept, and
    posting, live delivery, availability and escalation read a thread pushed out from the store."""
    hotline = HotlineService(
        deployment.db, deployment.clock, deployment.bus, config=HotlineConfig(max_cached_threads=3)
    )
    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition"), [Contact("Maj Smith"), Contact("Col Jones")])
    reg.add_party(Party("russia", "Russian Federation", "ru"), [Contact("Maj Ivanov")])
    delivered: list[tuple[str, tuple[str, ...]]] = []
    hotline.add_listener(lambda batch: delivered.extend((m.thread_id, t.parties) for m, t in batch))
    threads = [hotline.create_thread("coalition", ["russia"], f"topic {k}") for k in range(12)]
    assert hotline.threads_cached == 3
    first = threads[0].id
    query = Draft(
        first, MessageKind.QUERY, "bounded-0001", phrase=PhraseUse("INTENT", {"unit": "VIPER"}), ack_within_s=60
    )
    _, created = hotline.post("coalition", "Maj Smith", query)
    assert created and delivered[-1] == (first, ("coalition", "russia"))
    standing = hotline.ensure_pair_thread("coalition", "russia").id
    for thread in threads[1:4]:  # the standing thread pushed out
        hotline.thread("coalition", thread.id)
    hotline.set_availability("russia", "Maj Ivanov", Availability.DEGRADED, "generator")
    assert delivered[-1] == (standing, ("coalition", "russia"))  # its status, read from the store
    for thread in threads[1:]:  # push the first out again before its escalation
        hotline.thread("coalition", thread.id)
    steps = hotline.run_deadlines(deployment.clock.now_s() + 120)
    assert [m.thread_id for m in steps] == [first]
    assert hotline.threads_cached == 3
