"""GET /v1/hotline/threads gives each thread's last sequence number and the caller's unread count."""

from __future__ import annotations

from apisupport import Service


def heads(service: Service, who: str, thread_id: str) -> tuple[int, int]:
    with service.client(who) as client:
        response = client.get("/v1/hotline/threads")
    assert response.status_code == 200, response.text
    (thread,) = [t for t in response.json() if t["id"] == thread_id]
    return thread["last_seq"], thread["unread"]


def post(service: Service, who: str, thread_id: str, key: str) -> int:
    with service.client(who) as client:
        response = client.post(
            f"/v1/hotline/threads/{thread_id}/messages", json={"kind": "text", "body": key, "idempotency_key": key}
        )
    assert response.status_code == 201, response.text
    return int(response.json()["message"]["seq"])


def test_unread_counts_follow_posts_and_reads_and_never_count_own_messages(service: Service):
    with service.client("a-liaison") as client:
        created = client.post("/v1/hotline/threads", json={"parties": ["b"], "title": "Unread counts"})
    assert created.status_code == 201, created.text
    thread_id = created.json()["id"]
    assert heads(service, "a-liaison", thread_id) == (0, 0)
    post(service, "a-liaison", thread_id, "unread-0001")
    post(service, "a-liaison", thread_id, "unread-0002")
    assert heads(service, "a-liaison", thread_id) == (2, 0)  # one's own messages are never unread
    assert heads(service, "b-liaison", thread_id) == (2, 2)
    assert heads(service, "b-observer", thread_id) == (2, 2)  # the party's count, whoever reads it
    with service.client("b-liaison") as client:
        assert client.post(f"/v1/hotline/threads/{thread_id}/read", json={"through_seq": 1}).status_code == 200
    assert heads(service, "b-liaison", thread_id) == (2, 1)
    third = post(service, "b-liaison", thread_id, "unread-0003")
    assert heads(service, "b-liaison", thread_id) == (3, 1)
    assert heads(service, "a-liaison", thread_id) == (3, 1)
    with service.client("a-liaison") as client:
        assert client.post(f"/v1/hotline/threads/{thread_id}/read", json={"through_seq": third}).status_code == 200
    assert heads(service, "a-liaison", thread_id) == (3, 0)


def test_a_refused_reply_carries_the_code_of_each_problem(service: Service):
    with service.client("a-liaison") as client:
        thread_id = client.post("/v1/hotline/threads", json={"parties": ["b"], "title": "Codes"}).json()["id"]
        answer = client.post(
            f"/v1/hotline/threads/{thread_id}/messages",
            json={"kind": "reply", "body": "yes", "idempotency_key": "short", "ack_within_s": -1},
        )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert len(body["codes"]) == len(body["errors"]) == 3
    by_field = {error.split(":")[0]: code for error, code in zip(body["errors"], body["codes"], strict=True)}
    assert by_field == {"idempotency_key": "invalid", "reply_to_seq": "reply_to_required", "ack_within_s": "invalid"}
