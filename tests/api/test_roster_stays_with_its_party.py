"""A party's roster (its contacts' names and roles, set by the operator for that party alone) never
reaches another party through escalations, on both stores, over HTTP.

Escalating an overdue acknowledgement posted "Escalated to Maj Ivanov (duty)" into a thread both
parties read (and the record kept it for both), told every member of the thread the contact on the
``hotline.escalated`` stream event and socket frame, and showed an activity's notifier the silent
addressee's contact names and roles (``GET /v1/activities/{id}``, ``activity.escalated``). Now the
other party learns which step of how many, never who; the overdue party is told its own contact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apisupport import Service
from nksupport import served, stream_once
from test_api_activities import air_operation
from test_api_hotline_ws import frames_until, socket

from keepclear.domain.parties import Contact

#: b's roster: what none of a's readers may see (the names, and the roles: posts in b's chain of command).
SECRETS = ("Maj Secretov", "Col Hiddenov", "Chief of Staff 4th Army", "Commander Southern District")


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Service]:
    with served(database_url, tmp_path) as running:
        running.deployment.registry.set_roster(
            "b",
            [
                Contact("Maj Secretov", "Chief of Staff 4th Army"),
                Contact("Col Hiddenov", "Commander Southern District"),
            ],
        )
        yield running


def secrets_in(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def record_of(service: Service, who: str, kinds: set[str]) -> str:
    """The entries ``who`` may read of the record export, once every kind of ``kinds`` is signed there."""
    deadline = time.monotonic() + 30
    with service.client(who) as client:
        while True:
            shown = [e for e in client.get("/v1/record/export").json()["entries"] if "statement" in e]
            if kinds <= {e["statement"]["kind"] for e in shown} or time.monotonic() > deadline:
                assert kinds <= {e["statement"]["kind"] for e in shown}, "the record never signed them"
                return json.dumps(shown, ensure_ascii=False)
            time.sleep(0.2)


def test_a_hotline_escalation_tells_the_asking_party_which_step_never_whom(service: Service) -> None:
    thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
    with socket(service, "a-liaison") as a_ws, socket(service, "b-liaison") as b_ws:
        with service.client("a-liaison") as a:
            asked = {"kind": "query", "body": "confirm your tanker track", "ack_within_s": 60}
            posted = a.post(
                f"/v1/hotline/threads/{thread_id}/messages", json=asked, headers={"Idempotency-Key": "ask-b-0001"}
            )
            assert posted.status_code == 201, posted.text
        seq = posted.json()["message"]["seq"]
        steps = service.runtime.hotline.run_deadlines(time.time() + 61)
        assert [m.reply_to_seq for m in steps] == [seq]
        a_frames = frames_until(a_ws, lambda f: f["type"] == "escalated")
        b_frames = frames_until(b_ws, lambda f: f["type"] == "escalated")
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        a_messages = a.get(f"/v1/hotline/threads/{thread_id}/messages").json()
        b_messages = b.get(f"/v1/hotline/threads/{thread_id}/messages").json()
    assert secrets_in(json.dumps(a_messages)) == [], a_messages  # was "Escalated to Maj Secretov (Chief of Staff...)"
    escalation = next(m for m in a_messages if m["kind"] == "escalation")
    assert escalation["text"] == (
        f"No acknowledgement from b of message #{seq} in time. Escalated to contact 1 of 2 on the roster of b."
    )
    assert escalation["phrase"]["params"] == {"party": "b", "ref": f"#{seq}", "step": "1", "contacts": "2"}
    assert escalation["data"] == {"party_id": "b", "step": 1, "contacts": 2}
    # a, the party waiting, learns the step from the thread, its socket, its stream and its record only.
    a_stream = stream_once(service, "a-liaison")
    a_told = [e for e in a_stream if e["kind"] == "hotline.escalated"]
    assert [(e["payload"]["step"], e["payload"]["contacts"], e["payload"]["contact"]) for e in a_told] == [(1, 2, None)]
    a_record = record_of(service, "a-liaison", {"hotline.escalated", "message.posted"})
    for seen in (json.dumps(a_messages), json.dumps(a_frames), json.dumps(a_stream), a_record):
        assert secrets_in(seen) == [], seen
    # b, the overdue party, reads the same message, and is told on its own whom it called.
    assert next(m for m in b_messages if m["kind"] == "escalation")["data"] == escalation["data"]
    own = [f for f in b_frames if f["type"] == "escalated"]
    assert [f["contact"] for f in own] == ["Maj Secretov (Chief of Staff 4th Army)"]
    b_told = [e for e in stream_once(service, "b-liaison") if e["kind"] == "hotline.escalated"]
    assert [e["payload"]["contact"] for e in b_told] == ["Maj Secretov (Chief of Staff 4th Army)"]
    assert "Maj Secretov" in record_of(service, "b-liaison", {"hotline.escalated"})


def test_an_activity_escalation_shows_the_notifier_the_roster_position_never_the_contact(service: Service) -> None:
    with service.client("a-liaison") as a:
        notified = a.post("/v1/activities", json=air_operation(addressees=["b"]))
        assert notified.status_code == 201, notified.text
    activity_id = notified.json()["activity"]["id"]
    later_s = time.time() + 7 * 86400
    taken = service.runtime.activities.run_deadlines(later_s)
    taken += service.runtime.activities.run_deadlines(later_s + 7 * 86400)
    assert [(s.party_id, s.level, s.contact_name) for s in taken] == [("b", 1, "Col Hiddenov"), ("b", 2, None)]
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        a_view = a.get(f"/v1/activities/{activity_id}")
        a_list = a.get("/v1/activities")
        b_view = b.get(f"/v1/activities/{activity_id}")
        a_threads = [a.get(f"/v1/hotline/threads/{t['id']}/messages").text for t in a.get("/v1/hotline/threads").json()]
    assert a_view.status_code == 200 and b_view.status_code == 200, (a_view.text, b_view.text)
    assert secrets_in(a_view.text) == [], a_view.text  # was each escalation's contact_name and contact_role
    assert [(e["party"], e["level"], e["roster_exhausted"]) for e in a_view.json()["escalations"]] == [
        ("b", 1, False),
        ("b", 2, True),
    ]
    a_stream = stream_once(service, "a-liaison")
    told = [e["payload"] for e in a_stream if e["kind"] == "activity.escalated"]
    assert [(p["addressee"], p["level"], p["roster_exhausted"]) for p in told] == [("b", 1, False), ("b", 2, True)]
    a_record = record_of(service, "a-liaison", {"activity.escalated"})
    for seen in (a_view.text, a_list.text, *a_threads, json.dumps(a_stream), a_record):
        assert secrets_in(seen) == [], seen
    # b reads in its own view whom of its roster each step called.
    own: list[dict[str, Any]] = b_view.json()["your_escalations"]
    assert [(e["level"], e["contact_name"], e["contact_role"], e["roster_exhausted"]) for e in own] == [
        (1, "Col Hiddenov", "Commander Southern District", False),
        (2, None, None, True),
    ]
