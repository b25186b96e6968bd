"""Issue 15 item 7: retries can be told from clashes. Every POST that creates something takes an
``Idempotency-Key``; a retry is answered as the original, another request under the same key is
refused naming it, and keys belong to one party. Through a real server on both stores.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from apisupport import Service
from test_api_activities import air_operation
from test_input_hardening import assert_problem, standing_thread

from keepclear.api.request_keys import fingerprint
from keepclear.domain.timefmt import format_utc
from keepclear.store import request_keys as store


def keyed(client: httpx.Client, path: str, body: Any, key: str) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers.get("idempotent-replayed") == "true"
    assert first.headers.get("idempotent-replayed") is None


def test_item7_retried_notification_is_answered_as_the_original_not_409(store_service: Service):
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        body = air_operation(id="a-op-retry")
        first = keyed(a, "/v1/activities", body, "notify-0001")
        assert first.status_code == 201, first.text
        # The retry after a lost answer: same key, same content (spacing and key order do not count).
        again = a.post(
            "/v1/activities",
            content=httpx.Request("POST", "/", json=dict(reversed(body.items()))).content,
            headers={"Idempotency-Key": "notify-0001", "Content-Type": "application/json"},
        )
        same_answer(first, again)
        # Without a key the same notification is the clash it always was.
        assert_problem(a.post("/v1/activities", json=body), 409, "already exists")
        # The same key for other content is refused, naming the key; nothing is stored.
        other = keyed(a, "/v1/activities", air_operation(id="a-op-other"), "notify-0001")
        assert_problem(other, 409, "notify-0001", "another request")
        assert [x["id"] for x in a.get("/v1/activities").json()] == ["a-op-retry"]
        # Keys are per party: b's request under the same key is b's own and creates b's activity.
        b_first = keyed(b, "/v1/activities", air_operation(id="b-op", addressees=["a"], units=["ub"]), "notify-0001")
        assert b_first.status_code == 201, b_first.text
        assert b_first.json()["activity"]["id"] == "b-op"  # b's own answer, never a's

        # Acknowledgement and amendment: the retry gets the answer of the time, not today's view.
        ack = keyed(b, "/v1/activities/a-op-retry/acknowledge", {"version": 1}, "ack-a-op-retry-1")
        assert ack.status_code == 200, ack.text
        amend_body = {"version": 1, "activity": air_operation(id="a-op-retry", text="Strike package, later")}
        amended = keyed(a, "/v1/activities/a-op-retry/amend", amend_body, "amend-a-op-retry-1")
        assert amended.status_code == 200, amended.text
        same_answer(amended, keyed(a, "/v1/activities/a-op-retry/amend", amend_body, "amend-a-op-retry-1"))
        same_answer(ack, keyed(b, "/v1/activities/a-op-retry/acknowledge", {"version": 1}, "ack-a-op-retry-1"))
        versions = a.get("/v1/activities/a-op-retry").json()
        assert versions["version"] == 2, versions


def test_item7_hotline_header_and_body_key_are_one_mechanism(store_service: Service):
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        path = f"/v1/hotline/threads/{thread}/messages"
        first = keyed(a, path, {"kind": "text", "body": "header keyed"}, "hotline-hdr-0001")
        assert first.status_code == 201, first.text
        assert first.json()["message"]["idempotency_key"] == "hotline-hdr-0001"
        # The body's field is an alias: the same key there is the same request, answered as the first.
        alias = a.post(path, json={"kind": "text", "body": "header keyed", "idempotency_key": "hotline-hdr-0001"})
        assert alias.status_code == 201 and alias.json() == first.json()
        body_first = a.post(path, json={"kind": "text", "body": "body keyed", "idempotency_key": "hotline-body-0001"})
        same_answer(body_first, keyed(a, path, {"kind": "text", "body": "body keyed"}, "hotline-body-0001"))
        clash = a.post(path, json={"kind": "text", "body": "other", "idempotency_key": "hotline-body-0001"})
        assert_problem(clash, 409, "hotline-body-0001")
        both = a.post(
            path,
            json={"kind": "text", "body": "x", "idempotency_key": "hotline-body-0002"},
            headers={"Idempotency-Key": "hotline-body-0003"},
        )
        assert_problem(both, 422, "hotline-body-0002", "hotline-body-0003")
        assert_problem(a.post(path, json={"kind": "text", "body": "no key"}), 422, "idempotency_key")
        # A refused request stores nothing and keeps no key: the corrected request may use it.
        assert_problem(keyed(a, "/v1/hotline/threads/t-nosuchthread/messages", {"body": "x"}, "fixed-0001"), 404)
        assert keyed(a, path, {"kind": "text", "body": "fixed"}, "fixed-0001").status_code == 201
        assert_problem(keyed(a, path, {"kind": "text", "body": "x"}, "bad key!"), 422, "Idempotency-Key")
        listed = a.get(path, params={"after_seq": 0}).json()
        keys = [m["idempotency_key"] for m in listed if m["sender_party"] == "a"]
        assert keys.count("hotline-hdr-0001") == 1 and keys.count("hotline-body-0001") == 1


def test_item7_incidents_and_accounts_take_keys(store_service: Service):
    with store_service.client("a-liaison") as a, store_service.client("admin") as admin:
        report = {"time": format_utc(time.time() - 3600), "summary": "Near miss", "unit_ids": ["ua"]}
        first = keyed(a, "/v1/incidents", report, "incident-0001")
        assert first.status_code == 201, first.text
        same_answer(first, keyed(a, "/v1/incidents", report, "incident-0001"))
        incident = first.json()["id"]
        account = {"text": "Our account"}
        written = keyed(a, f"/v1/incidents/{incident}/accounts", account, "account-0001")
        assert written.status_code == 201, written.text
        same_answer(written, keyed(a, f"/v1/incidents/{incident}/accounts", account, "account-0001"))
        assert len(a.get(f"/v1/incidents/{incident}").json()["accounts"]) == 1
        assert len([i for i in a.get("/v1/incidents").json() if i["summary"] == "Near miss"]) == 1
        # An API key (an account of the deployment) is created once: the retry shows the same secret.
        made = keyed(admin, "/v1/keys", {"role": "observer", "party_id": "a", "label": "retry"}, "key-create-01")
        assert made.status_code == 201, made.text
        same_answer(
            made, keyed(admin, "/v1/keys", {"role": "observer", "party_id": "a", "label": "retry"}, "key-create-01")
        )
        assert len([k for k in admin.get("/v1/keys").json() if k["label"] == "retry"]) == 1


def test_item7_concurrent_requests_with_one_key_store_one_object(store_service: Service):
    answers: list[httpx.Response] = []
    body = air_operation(id="a-op-race", start_h=60.0)

    def send() -> None:
        with store_service.client("a-liaison") as a:
            answers.append(keyed(a, "/v1/activities", body, "race-key-0001"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {(r.status_code, r.content) for r in answers} == {(answers[0].status_code, answers[0].content)}
    assert answers[0].status_code == 201, answers[0].text
    assert sum(r.headers.get("idempotent-replayed") is None for r in answers) == 1
    with store_service.client("a-liaison") as a:
        assert [x["id"] for x in a.get("/v1/activities").json()] == ["a-op-race"]


def claim_elsewhere(service: Service, key: str, body: Any, age_s: float) -> store.Claim:
    """What another API process on the same store writes when it takes ``key`` for party a's
    notification ``body``, ``age_s`` seconds ago: the claim, without an answer yet."""
    path = "/v1/activities"
    claim = store.Claim(
        "a/liaison",  # the scope of party a's liaison keys
        key,
        fingerprint("POST", path, json.dumps(body).encode()),
        "POST",
        path,
        time.time() - age_s,
        "elsewhere",
    )
    with store.claiming(claim), service.deployment.db.write():
        pass  # the transaction takes the claim
    return claim


def test_a_key_another_api_process_is_answering_is_waited_for_not_called_cut_off(service: Service):
    """Several API processes share the store: a retry reaching one while another still runs the
    first request waits for that answer (it was answered 409 'the server stopped' at once)."""
    body = air_operation(id="a-op-elsewhere")
    claim = claim_elsewhere(service, "elsewhere-0001", body, age_s=0.0)

    def answer_there() -> None:
        time.sleep(0.5)
        with service.deployment.db.write() as conn:
            store.save_answer(conn, claim, 201, "application/json", b'{"answered": "elsewhere"}')

    threading.Thread(target=answer_there).start()
    with service.client("a-liaison") as a:
        again = keyed(a, "/v1/activities", body, "elsewhere-0001")
        assert (again.status_code, again.content) == (201, b'{"answered": "elsewhere"}')
        assert again.headers.get("idempotent-replayed") == "true"
        # A claim of another process older than the wait is one whose process stopped before answering.
        claim_elsewhere(service, "elsewhere-0002", body, age_s=60.0)
        t0 = time.monotonic()
        assert_problem(keyed(a, "/v1/activities", body, "elsewhere-0002"), 409, "stopped before answering")
        assert time.monotonic() - t0 < 5.0
