"""``GET /v1/hotline/unread``: what a party has not read in all its threads, on SQLite and PostgreSQL
alike, through the real server.

The console's badge summed the unread counts of the threads it had loaded: a message in a thread
beyond its first page was not counted until the liaison loaded that page.
"""

from __future__ import annotations

from typing import Any

from apisupport import Service, bulk_threads, statements_of_requests

from keepclear.domain import Party
from keepclear.domain.hotline import MessageKind
from keepclear.domain.parties import Contact
from plansupport import query_plan

#: Threads of a and b stored in bulk: more than the first page of the list holds.
BULK = 150


def _post(client: Any, thread_id: str, key: str) -> None:
    answer = client.post(
        f"/v1/hotline/threads/{thread_id}/messages", json={"kind": "text", "body": "see", "idempotency_key": key}
    )
    assert answer.status_code == 201, answer.text


def _unread(client: Any) -> dict[str, int]:
    answer = client.get("/v1/hotline/unread")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_thread_beyond_the_first_page_counts_until_it_is_read(store_service: Service) -> None:
    far = bulk_threads(store_service, BULK)[-1]
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        assert _unread(b) == {"threads": 0, "messages": 0}
        _post(a, far, "far-key-0001")
        _post(a, far, "far-key-0002")
        store_service.runtime.hotline.post_system(far, MessageKind.ALERT, "far-system-1", body="closing")

        first = b.get("/v1/hotline/threads")
        assert first.status_code == 200 and 'rel="next"' in first.headers.get("link", ""), first.headers
        assert far not in {t["id"] for t in first.json()} and sum(t["unread"] for t in first.json()) == 0
        assert _unread(b) == {"threads": 1, "messages": 3}
        assert _unread(a) == {"threads": 1, "messages": 1}  # keepclear's message, not its own
        with store_service.client("b-observer") as observer:
            assert _unread(observer) == {"threads": 1, "messages": 3}

        assert b.post(f"/v1/hotline/threads/{far}/read", json={"through_seq": 1}).status_code == 200
        assert _unread(b) == {"threads": 1, "messages": 2}
        assert b.post(f"/v1/hotline/threads/{far}/read", json={"through_seq": 3}).status_code == 200
        assert _unread(b) == {"threads": 0, "messages": 0}
        assert _unread(a) == {"threads": 1, "messages": 1}  # b's reading is b's


def test_another_partys_threads_never_count(store_service: Service) -> None:
    rt = store_service.runtime
    store_service.deployment.registry.add_party(Party("c", "Charlie"), [Contact("Charlie duty officer")])
    apart = rt.hotline.create_thread("a", ["c"], "a and c")
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        _post(a, apart.id, "apart-key-0001")
        rt.hotline.post_system(apart.id, MessageKind.ALERT, "apart-system-1", body="closing")
        assert _unread(b) == {"threads": 0, "messages": 0}
        assert _unread(a) == {"threads": 1, "messages": 1}
        assert rt.hotline.unread_total("c") == (1, 2)
        # b names no party: what it reads is its own, and asking for another's is refused, not ignored
        refused = b.get("/v1/hotline/unread", params={"party_id": "c"})
        assert refused.status_code == 422 and "query.party_id: not a parameter" in refused.json()["detail"]
        assert b.get("/v1/hotline/unread").json() == {"threads": 0, "messages": 0}


def test_the_total_reads_only_the_threads_with_something_unread(store_service: Service) -> None:
    """Whatever threads others made the party a member of, the request reads the partial index of its
    member rows holding unread messages (six of 3,000 here) and no thread or message."""
    ids = bulk_threads(store_service, 3_000)
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        for n, thread_id in enumerate(ids[::500]):
            _post(a, thread_id, f"many-key-{n:04d}")
        b.get("/v1/whoami")  # the key judged once first
        with statements_of_requests(store_service.deployment.db.engine) as seen:
            assert _unread(b) == {"threads": 6, "messages": 6}
    hotline_reads = [s for s, _ in seen if "hotline_" in s]
    assert len(hotline_reads) == 1 and "FROM hotline_members" in hotline_reads[0], hotline_reads
    ((statement, parameters),) = [(s, p) for s, p in seen if "hotline_" in s]
    plan = query_plan(store_service.deployment.db, statement, parameters, "hotline_members")
    assert "ix_hotline_members_unread" in plan, plan
