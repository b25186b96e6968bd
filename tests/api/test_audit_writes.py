"""A black-box audit's findings (helper h71), acting as a hostile party against a real server on
SQLite and on PostgreSQL (``store_service``): each test shows a request that was answered 500, or
broke its caller's socket, and is now answered as the rules say: a problem naming the field, or
what an unknown object reads as, nothing stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from apisupport import Service, running_service
from nksupport import alert_between, stream_once
from test_api_activities import air_operation
from test_api_hotline_ws import frames_until, socket
from test_hotline_post_rate import Monotonic
from test_input_hardening import assert_problem, messages, standing_thread

from keepclear.domain.timefmt import format_utc
from keepclear.store.request_keys import request_keys as request_keys_table

#: Past the 32-bit ``INTEGER`` columns of the hotline's tables, within the API's 64-bit bound.
BEYOND_INT32 = 2**62


def _incident(**fields: Any) -> dict[str, Any]:
    return {"time": format_utc(time.time() - 60), "summary": "near miss", **fields}


def _detail(response: Any, named: str) -> tuple[int, list[str]]:
    body = response.json()
    return response.status_code, [e.replace(repr(named), "<id>") for e in body.get("errors", [body["detail"]])]


@contextmanager
def _two_posts_then_one_in_4_s(
    tmp_path: Path, database_url: str
) -> Iterator[tuple[Service, Monotonic, httpx.Client, httpx.Client]]:
    """A real server whose parties may post 2 at once, then one every 4 s (its clock moved by the
    test), with a liaison client of a and of b."""
    clock = Monotonic()
    overrides = {"hotline_message_burst": 2, "hotline_messages_per_party_per_s": 0.25}
    with (
        running_service(tmp_path / "data", database_url, clock, **overrides) as service,
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
    ):
        yield service, clock, a, b


def test_a_message_id_in_other_digits_names_an_unknown_message(store_service: Service) -> None:
    """``THREAD#SEQ`` was judged with ``str.isdigit``, which takes ``²`` (``int`` then raised: 500) and
    ``١`` (read as 1), and 5,000 digits (``int`` refuses them: 500). Each now names a message that is
    not there, in the words of a made-up one, and no incident is stored."""
    with store_service.client("a-liaison") as a, store_service.client("admin") as admin:
        thread = standing_thread(a)
        posted = a.post(
            f"/v1/hotline/threads/{thread}/messages", json={"body": "#1", "idempotency_key": "audit-1-0001"}
        )
        assert posted.status_code == 201 and posted.json()["message"]["seq"] == 1, posted.text
        before = len(admin.get("/v1/incidents").json())
        made_up = a.post("/v1/incidents", json=_incident(message_ids=[f"{thread}#999999"]))
        assert made_up.status_code == 422, made_up.text
        for seq in ("²", "١", "01", "1" * 5000, "+1", " 1"):
            named = f"{thread}#{seq}"
            answer = a.post("/v1/incidents", json=_incident(message_ids=[named]))
            assert_problem(answer, 422, "message_ids[0]")
            assert _detail(answer, named) == _detail(made_up, f"{thread}#999999"), answer.text
        assert len(admin.get("/v1/incidents").json()) == before
        named_well = a.post("/v1/incidents", json=_incident(message_ids=[f"{thread}#1"]))
        assert named_well.status_code == 201, named_well.text


def test_true_is_neither_seconds_nor_a_sequence_number_on_the_socket_or_over_http(store_service: Service) -> None:
    """A socket post with ``"ack_within_s": true`` passed the checks (a bool is an int) and its
    acknowledgement request was written with ``step_s`` true: PostgreSQL refused the insert, the
    socket's poster failed and the socket dropped without a close frame (SQLite stored it). HTTP
    read the same ``true`` as 1 second. Both now refuse it naming the field, nothing stored, and the
    socket stays open."""
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        before = messages(a, thread)
        with socket(store_service, "a-liaison") as ws:
            frames_until(ws, lambda f: f["type"] == "resumed")
            ws.send(
                json.dumps(
                    {
                        "type": "post",
                        "ref": "t1",
                        "thread_id": thread,
                        "idempotency_key": "audit-true-0001",
                        "body": "answer within true seconds",
                        "ack_within_s": True,
                    }
                )
            )
            refused = frames_until(ws, lambda f: f.get("ref") == "t1")[-1]
            assert refused["type"] == "error" and refused["status"] == "invalid", refused
            assert any(p.startswith("ack_within_s") for p in refused["problems"]), refused
            ws.send(json.dumps({"type": "ping"}))
            assert frames_until(ws, lambda f: f["type"] == "pong")[-1] == {"type": "pong"}
        for field, value in (("ack_within_s", True), ("reply_to_seq", True)):
            answer = a.post(
                f"/v1/hotline/threads/{thread}/messages",
                json={"body": "x", field: value, "idempotency_key": f"audit-true-{field}"[:40]},
            )
            assert_problem(answer, 422, field)
        assert messages(a, thread) == before  # nothing stored


def test_sequence_numbers_past_the_stores_columns_read_as_no_message(store_service: Service) -> None:
    """The API takes sequence numbers up to 64 bits; the hotline's columns are 32-bit on PostgreSQL,
    which refused the value: ``GET .../messages?after_seq=`` and ``GET .../messages/{seq}/receipts``
    past 2**31 - 1 were answered 500 there. They now read as a message that is not there, as on
    SQLite."""
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        far = a.get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": BEYOND_INT32})
        assert far.status_code == 200 and far.json() == [], far.text
        receipts = a.get(f"/v1/hotline/threads/{thread}/messages/{BEYOND_INT32}/receipts")
        none = a.get(f"/v1/hotline/threads/{thread}/messages/999999/receipts")
        assert (receipts.status_code, receipts.json()) == (none.status_code, none.json()), receipts.text


def test_a_stored_answer_is_replayed_to_the_role_that_made_it_only(store_service: Service) -> None:
    """A retry's stored answer was looked up by party alone, before the route judged the caller: a
    party's feed or observer key sending its liaison's ``Idempotency-Key`` and body was answered 201
    ``Idempotent-Replayed`` with the liaison's answer (the activity's notifier view, its conflicts;
    a thread made) though its role may neither notify nor post. Now it is refused as any request of
    its role is (403), and the liaison's own retry is replayed as before."""
    body = air_operation(addressees=["b"])
    with store_service.client("a-liaison") as liaison:
        first = liaison.post("/v1/activities", json=body, headers={"Idempotency-Key": "audit-role-0001"})
        assert first.status_code == 201, first.text
        thread = liaison.post(
            "/v1/hotline/threads",
            json={"parties": ["b"], "title": "cell only"},
            headers={"Idempotency-Key": "audit-role-0002"},
        )
        assert thread.status_code == 201, thread.text
        again = liaison.post("/v1/activities", json=body, headers={"Idempotency-Key": "audit-role-0001"})
        assert again.headers.get("Idempotent-Replayed") == "true" and again.content == first.content
    for who in ("a-feed", "a-observer"):
        with store_service.client(who) as other:
            for path, sent, key in (
                ("/v1/activities", body, "audit-role-0001"),
                ("/v1/hotline/threads", {"parties": ["b"], "title": "cell only"}, "audit-role-0002"),
            ):
                answer = other.post(path, json=sent, headers={"Idempotency-Key": key})
                assert answer.status_code == 403, (who, path, answer.text)
                assert "Idempotent-Replayed" not in answer.headers


def test_a_key_kept_under_the_party_alone_before_the_upgrade_is_neither_run_twice_nor_replayed_to_another_role(
    store_service: Service,
) -> None:
    """Keys the build before kept under the party alone (``a``), within their retention after the
    upgrade: the liaison's retry is answered as the original (not carried out a second time, a second
    activity), a feed key's is refused 409 (never another role's answer), a new key works as ever."""
    body = air_operation(addressees=["b"])
    with store_service.client("a-liaison") as liaison:
        first = liaison.post("/v1/activities", json=body, headers={"Idempotency-Key": "audit-legacy-0001"})
        assert first.status_code == 201, first.text
        with store_service.deployment.db.write() as conn:  # as the build before stored it
            conn.execute(
                sa.update(request_keys_table).where(request_keys_table.c.key == "audit-legacy-0001").values(scope="a")
            )
        listed = len(liaison.get("/v1/activities", params={"limit": 1000}).json())
        again = liaison.post("/v1/activities", json=body, headers={"Idempotency-Key": "audit-legacy-0001"})
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true", again.text
        assert again.content == first.content
        assert len(liaison.get("/v1/activities", params={"limit": 1000}).json()) == listed, "carried out twice"
    with store_service.client("a-feed") as feed:
        refused = feed.post("/v1/activities", json=body, headers={"Idempotency-Key": "audit-legacy-0001"})
        assert refused.status_code == 409, refused.text
        assert "before keepclear was upgraded" in refused.json()["detail"]
        assert first.json()["activity"]["id"] not in refused.text and "Idempotent-Replayed" not in refused.headers


def test_a_party_flapping_its_availability_is_held_to_its_post_rate(tmp_path: Path, database_url: str) -> None:
    """Each change of a party's availability posts a ``channel_status`` message into the standing
    thread of every other party; nothing bounded it, and one client flapping between two values
    posted about a hundred a second into each. A change now takes a token of the party's post rate:
    past it 429 with ``Retry-After``, nothing changed or posted; declaring what is declared takes
    nothing."""
    with _two_posts_then_one_in_4_s(tmp_path, database_url) as (_service, clock, a, b):
        thread = standing_thread(b)
        before = len(messages(b, thread))

        def declare(value: str) -> httpx.Response:
            return a.put("/v1/hotline/availability", json={"availability": value, "reason": "flap"})

        assert [declare(v).status_code for v in ("degraded", "degraded", "available")] == [200, 200, 200]
        refused = declare("degraded")
        assert_problem(refused, 429, "hotline_messages_per_party_per_s", "hotline_message_burst")
        assert refused.headers["Retry-After"] == "4"
        assert b.get("/v1/hotline/availability/a").json()["availability"] == "available"  # nothing changed
        statuses = [m for m in messages(b, thread)[before:] if m["kind"] == "channel_status"]
        assert len(statuses) == 2, statuses
        clock.now_s += 4.0
        assert declare("degraded").status_code == 200
        assert b.get("/v1/hotline/availability/a").json()["availability"] == "degraded"


def test_a_party_stepping_an_incidents_review_is_held_to_its_post_rate(tmp_path: Path, database_url: str) -> None:
    """Each review step (``POST /v1/incidents/{id}/review``) is a timeline item, a record entry and a
    message in the other involved party's standing thread; nothing bounded it, and one client
    toggling ``under-review`` and ``disputed`` posted about forty a second into it (with a note of
    4,000 characters each). A step now takes a token of the party's hotline post rate: past it 429
    with ``Retry-After``, nothing changed. An incident the caller may not see still answers 404 as an
    unknown one, and takes nothing."""
    with _two_posts_then_one_in_4_s(tmp_path, database_url) as (_service, clock, a, b):
        incident = a.post("/v1/incidents", json=_incident(parties=["b"]))
        assert incident.status_code == 201, incident.text
        path = f"/v1/incidents/{incident.json()['id']}/review"
        assert a.post("/v1/incidents/inc-nope/review", json={"status": "disputed"}).status_code == 404
        steps = [a.post(path, json={"status": s, "note": "n"}).status_code for s in ("under-review", "disputed")]
        assert steps == [200, 200]
        refused = a.post(path, json={"status": "under-review", "note": "n"})
        assert_problem(refused, 429, "hotline_messages_per_party_per_s", "hotline_message_burst")
        assert b.get(f"/v1/incidents/{incident.json()['id']}").json()["status"] == "disputed"  # nothing changed
        assert b.post(path, json={"status": "agreed"}).status_code == 200  # the other party's bucket is its own
        clock.now_s += 8.0  # two tokens back: a agrees (both agree now), then closes
        assert a.post(path, json={"status": "agreed"}).json()["status"] == "agreed"
        assert a.post(path, json={"status": "closed"}).status_code == 200


def test_no_party_closes_an_incidents_review_alone(store_service: Service) -> None:
    """Any one involved party could set ``agreed`` and then ``closed`` (final) alone, ending the other
    party's dispute. The review is joint now: closing alone is refused 409 naming whom it waits for,
    nothing changed; each party's stance is shown to both."""
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        made = a.post("/v1/incidents", json=_incident(parties=["b"]))
        assert made.status_code == 201, made.text
        incident_id = made.json()["id"]
        path = f"/v1/incidents/{incident_id}/review"
        agreed = a.post(path, json={"status": "agreed"}).json()
        assert (agreed["status"], agreed["agreed_by"]) == ("under-review", ["a"]), agreed
        refused = a.post(path, json={"status": "closed"})
        assert_problem(refused, 409, "every involved party agrees", "waiting for b")
        seen = b.get(f"/v1/incidents/{incident_id}").json()
        assert (seen["status"], seen["agreed_by"], seen["disputed_by"]) == ("under-review", ["a"], [])
        disputed = b.post(path, json={"status": "disputed", "note": "our unit held its track"}).json()
        assert (disputed["status"], disputed["disputed_by"]) == ("disputed", ["b"])
        assert_problem(a.post(path, json={"status": "closed"}), 409, "disputed by b")
        assert b.post(path, json={"status": "agreed"}).json()["status"] == "agreed"
        assert b.post(path, json={"status": "closed"}).json()["status"] == "closed"


def test_acknowledging_an_alert_again_tells_nobody_anything_new(store_service: Service) -> None:
    """Each ``POST /v1/alerts/{id}/acknowledge`` emitted ``alert.acknowledged`` again, on both
    parties' streams, in the record and as a message in their thread: one client acknowledging in a
    loop put about a hundred a second into the other party's alert channel. Acknowledging again now
    answers the alert as it stands and emits nothing."""
    alert_id = alert_between(store_service, "ua", "ub")
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        first = a.post(f"/v1/alerts/{alert_id}/acknowledge")
        assert first.status_code == 200 and first.json()["acknowledged_by"] == ["a"], first.text
        stream_once(store_service, "b-liaison")  # the first acknowledgement is delivered
        thread = standing_thread(b)
        before = len(messages(b, thread))
        again = [a.post(f"/v1/alerts/{alert_id}/acknowledge") for _ in range(5)]
        assert {(r.status_code, tuple(r.json()["acknowledged_by"])) for r in again} == {(200, ("a",))}
        time.sleep(1.0)  # what the bus would deliver of them has arrived
        acknowledged = [e for e in stream_once(store_service, "b-liaison") if e["kind"] == "alert.acknowledged"]
        assert len(acknowledged) == 1, acknowledged
        assert len(messages(b, thread)) == before
        # b's own first acknowledgement is news, and told once.
        assert b.post(f"/v1/alerts/{alert_id}/acknowledge").json()["acknowledged_by"] == ["a", "b"]


def test_an_addressee_objecting_again_and_again_is_held_to_its_post_rate(tmp_path: Path, database_url: str) -> None:
    """Each objection with a new reason (``POST /v1/activities/{id}/object``) is told to the notifier
    again: an ``activity.objected`` event and a message in its thread. Nothing bounded it: an
    addressee objecting in a loop filled the notifier's thread. Each objection now takes a token of
    the addressee's hotline post rate: past it 429 with ``Retry-After``, nothing changed."""
    with _two_posts_then_one_in_4_s(tmp_path, database_url) as (service, clock, a, b):
        notified = a.post("/v1/activities", json=air_operation(addressees=["b"]))
        assert notified.status_code == 201, notified.text
        path = f"/v1/activities/{notified.json()['activity']['id']}/object"
        assert [b.post(path, json={"version": 1, "reason": r}).status_code for r in ("no", "still no")] == [200, 200]
        refused = b.post(path, json={"version": 1, "reason": "no, a third time"})
        assert_problem(refused, 429, "hotline_messages_per_party_per_s", "hotline_message_burst")
        objected = [e for e in stream_once(service, "a-liaison") if e["kind"] == "activity.objected"]
        assert len(objected) == 2, objected
        clock.now_s += 4.0
        assert b.post(path, json={"version": 1, "reason": "no, later"}).status_code == 200
