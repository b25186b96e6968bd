"""What one party's acknowledgement requests may make the others read is bounded: every overdue
request escalates along the recipient's roster, a system message in its thread a step. Windows of at
least ``hotline_min_ack_within_s``, steps at least ``hotline_escalation_min_step_s`` apart, at most
``max_hotline_ack_requests_per_party`` outstanding; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pydantic
import pytest
from hotline_support import pair

from keepclear.domain.hotline import Draft, MessageKind
from keepclear.domain.parties import Contact
from keepclear.errors import ConflictError, ValidationError
from keepclear.services.hotline.service import HotlineConfig, HotlineService
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import Database
from keepclear.store import hotline as store
from racing import Held, race_at_bound


def _asking(thread_id: str, key: str, ack_within_s: float | None = 300.0) -> Draft:
    return Draft(thread_id, MessageKind.QUERY, key, body=key, ack_within_s=ack_within_s)


def _bounded(deployment: Deployment, db: Database | None = None, **config: Any) -> HotlineService:
    return HotlineService(db or deployment.db, deployment.clock, deployment.bus, config=HotlineConfig(**config))


def _escalations(hotline: HotlineService, thread_id: str) -> list[int]:
    return [m.seq for m in hotline.messages("coalition", thread_id) if m.kind == MessageKind.ESCALATION]


def test_a_window_under_the_minimum_is_refused_naming_the_field_and_the_minimum_nothing_stored(
    hotline: HotlineService, clock: ManualClock
) -> None:
    """A post with ``ack_within_s`` of a millisecond was accepted, and escalated each recipient along its
    whole roster at the next ticks. Refused now (not raised silently), nothing stored."""
    thread_id = pair(hotline, "coalition", "russia")
    with pytest.raises(ValidationError) as refused:
        hotline.post("coalition", "Maj Smith", _asking(thread_id, "too-short-1", 0.001))
    (problem,) = refused.value.problems
    assert str(problem).startswith("ack_within_s: 0.001 s is shorter"), problem
    assert "60 s (hotline_min_ack_within_s)" in str(problem)
    assert hotline.messages("coalition", thread_id) == []
    assert hotline.run_deadlines(clock.now_s() + 10) == []
    # The minimum itself, and anything longer, is asked as before.
    hotline.post("coalition", "Maj Smith", _asking(thread_id, "at-the-minimum", 60))
    assert hotline.ack_status("coalition", thread_id, 1)[0]["deadline_s"] == clock.now_s() + 60


def test_steps_of_one_request_are_at_least_the_minimum_spacing_apart(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    """The steps came one per window: a window of a second made one system message a second. Now the
    spacing is the window, never under ``min_escalation_step_s``, requests stored before included."""
    spaced = _bounded(deployment, min_ack_within_s=1.0, min_escalation_step_s=30.0)
    thread_id = pair(spaced, "coalition", "russia")
    start = clock.now_s()
    spaced.post("coalition", "Maj Smith", _asking(thread_id, "one-second-1", 1.0))
    assert [m.data["step"] for m in spaced.run_deadlines(start + 1)] == [1]
    assert spaced.run_deadlines(start + 2) == []
    assert spaced.run_deadlines(start + 30.5) == []
    assert [m.data["step"] for m in spaced.run_deadlines(start + 31)] == [2]
    # A request stored before the bound, with a step of a millisecond, is spaced the same way.
    with deployment.db.write() as conn:
        store.insert_ack_requests(conn, thread_id, 1, ["coalition"], start + 40, 0.001)
    assert [m.data["party_id"] for m in spaced.run_deadlines(start + 40)] == ["coalition"]
    assert spaced.run_deadlines(start + 41) == []
    assert [m.data["party_id"] for m in spaced.run_deadlines(start + 70)] == ["russia", "coalition"]  # russia's last


def test_outstanding_requests_are_bounded_per_party_and_freed_by_acknowledgement_or_exhaustion(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    """Nothing bounded the requests a party had outstanding, each escalating along a roster. Past
    ``max_ack_requests_per_party`` (one per recipient party) a post asking more is refused with 409
    naming the setting, nothing stored; an acknowledgement or an escalation's end frees its place."""
    bounded = _bounded(deployment, max_ack_requests_per_party=3)
    with_russia = pair(bounded, "coalition", "russia")
    three = bounded.create_thread("coalition", ["russia", "un"], "three parties").id
    start = clock.now_s()
    for k in range(3):
        bounded.post("coalition", "Maj Smith", _asking(with_russia, f"asking-{k}"))
    with pytest.raises(ConflictError, match=r"max_hotline_ack_requests_per_party: 3") as refused:
        bounded.post("coalition", "Maj Smith", _asking(with_russia, "one-too-many"))
    assert "has 3 acknowledgement requests outstanding" in str(refused.value)
    assert "nothing was stored" in str(refused.value)
    assert [m.seq for m in bounded.messages("coalition", with_russia)] == [1, 2, 3]
    assert bounded.ack_requests_refused_limit_total == 1
    # Posting without asking, and another party asking, go on.
    bounded.post("coalition", "Maj Smith", _asking(with_russia, "no-ack-asked", None))
    bounded.post("russia", "Maj Ivanov", _asking(with_russia, "russia-asks"))
    # An acknowledgement frees one place: a post asking one passes, one asking two (a thread of three) not.
    ack = Draft(with_russia, MessageKind.ACKNOWLEDGEMENT, "russia-acks-1", reply_to_seq=1)
    bounded.post("russia", "Maj Ivanov", ack)
    with pytest.raises(ConflictError, match="this post asks 2 more"):
        bounded.post("coalition", "Maj Smith", _asking(three, "asks-two"))
    bounded.post("coalition", "Maj Smith", _asking(with_russia, "after-the-ack"))
    assert bounded.ack_requests_refused_limit_total == 2
    # An escalation that has run through the roster (two contacts, then the last message) frees its place.
    for step_s in (300, 600, 900):
        bounded.run_deadlines(start + step_s)
    bounded.post("coalition", "Maj Smith", _asking(three, "after-the-roster"))
    assert [r["party_id"] for r in bounded.ack_status("coalition", three, 1)] == ["russia", "un"]


def test_escalation_messages_into_a_thread_are_bounded_whatever_the_roster_and_the_post_rate(
    deployment: Deployment, hotline: HotlineService, clock: ManualClock
) -> None:
    """A party posting as fast as it may with the shortest window into the thread of a party with a long
    roster: at most ``max_ack_requests_per_party`` escalation messages in any minute, where it was
    (roster + 1) per post, almost at once."""
    deployment.registry.set_roster("russia", [Contact(f"contact {k}") for k in range(12)])
    bounded = _bounded(deployment, max_ack_requests_per_party=4)
    thread_id = pair(bounded, "coalition", "russia")
    start = clock.now_s()
    per_minute: Counter[int] = Counter()
    accepted = 0
    for tick in range(0, 20 * 60, 5):  # 20 minutes, a tick every 5 s, 4 posts a tick
        clock.set(start + tick)
        for k in range(4):
            try:
                bounded.post("coalition", "Maj Smith", _asking(thread_id, f"flood-{tick}-{k}", 60))
                accepted += 1
            except ConflictError:
                pass
        per_minute[tick // 60] += len(bounded.run_deadlines())
    assert accepted >= 4 and max(per_minute.values()) <= 4 * 2, per_minute  # a place's last step and the next's first
    assert sum(per_minute.values()) <= 4 * 20, per_minute
    assert len(_escalations(bounded, thread_id)) == sum(per_minute.values())


def test_a_deployment_step_under_the_minimum_spacing_is_refused_at_start() -> None:
    with pytest.raises(pydantic.ValidationError, match="hotline_escalation_min_step_s"):
        Settings(hotline_escalation_step_s=1.0)
    assert Settings(hotline_escalation_step_s=1.0, hotline_escalation_min_step_s=1.0).hotline_escalation_step_s == 1.0
    with pytest.raises(pydantic.ValidationError, match="hotline_min_ack_within_s"):
        Settings(hotline_min_ack_within_s=0.001)


def test_two_processes_asking_a_partys_last_acknowledgements_at_once_cannot_both_pass(
    deployment: Deployment, hotline: HotlineService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two API processes post for one party at once, one request short of its bound: the second counts
    only once the first has committed (the party's row is locked with the count), so it is refused."""
    first = _bounded(deployment, max_ack_requests_per_party=2)
    other_db = Database(deployment.db.url.render_as_string(hide_password=False))
    second = _bounded(deployment, other_db, max_ack_requests_per_party=2)
    thread_id = pair(first, "coalition", "russia")
    first.post("coalition", "Maj Smith", _asking(thread_id, "the-first"))
    held = Held()
    insert = store.insert_ack_requests

    def held_open(conn: Any, thread_id: str, seq: int, parties: Any, deadline_s: float, step_s: float) -> None:
        insert(conn, thread_id, seq, parties, deadline_s, step_s)
        if seq == 2:
            held.reached()

    monkeypatch.setattr(store, "insert_ack_requests", held_open)
    try:
        answers = race_at_bound(
            lambda: first.post("coalition", "Maj Smith", _asking(thread_id, "held-open")),
            lambda: second.post("coalition", "Maj Smith", _asking(thread_id, "same-moment")),
            held,
        )
    finally:
        other_db.dispose()
    assert isinstance(answers[1], ConflictError), answers
    with deployment.db.read() as conn:
        assert store.outstanding_ack_requests(conn, "coalition") == 2
