"""The lists that grow with what parties store come in pages (docs/api.md, "Lists come in pages").

``GET /v1/activities``, ``/v1/incidents`` and ``/v1/hotline/threads`` on both stores: following
``Link: <...>; rel="next"`` gives each item exactly once, in the list's order, while others are
stored between pages; a page costs the same number of SQL statements whatever it holds; a bad
``limit`` or cursor is refused naming it; another key's, another list's or an edited cursor is
refused exactly as a made-up one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from apisupport import Service, statements_of_requests

from keepclear.api.hotline_codec import draft_from_json
from keepclear.domain import Party
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activities_from_documents

SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]


def document(activity_id: str, unit: str, addressees: list[str] | str, start_h: float = 30.0) -> dict[str, Any]:
    now_s = time.time()
    return {
        "id": activity_id,
        "kind": "air-operation",
        "start": format_utc(now_s + start_h * 3600),
        "end": format_utc(now_s + (start_h + 4) * 3600),
        "addressees": addressees,
        "units": [unit],
        "contact": "duty officer",
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000}],
    }


def notify(service: Service, party: str, ids: list[str], addressees: list[str] | str = "all") -> None:
    """Notify activities ``ids`` of ``party`` (through the service: quicker than one request each)."""
    unit = {"a": "ua", "b": "ub"}[party]
    docs = [document(i, unit, addressees) for i in ids]
    service.runtime.activities.notify_many(activities_from_documents(docs, party_id=party, max_problems_listed=50))


def responses(
    client: httpx.Client, path: str, params: dict[str, Any], between: Callable[[int], None] = lambda _: None
) -> Iterator[httpx.Response]:
    """The answer of every page of ``path`` asked with ``params``, following ``rel="next"`` (each
    200); ``between(n)`` runs after page n."""
    response = client.get(path, params=params)
    count = 0
    while True:
        assert response.status_code == 200, response.text
        yield response
        count += 1
        between(count)
        following = response.links.get("next")
        if following is None:
            return
        response = client.get(following["url"])


def pages(
    client: httpx.Client, path: str, limit: int, between: Callable[[int], None] = lambda _: None
) -> Iterator[list[dict[str, Any]]]:
    """Every page of ``path`` by ``limit`` (``responses``), each a list of at most ``limit``."""
    for response in responses(client, path, {"limit": limit}, between):
        page = response.json()
        assert isinstance(page, list) and len(page) <= limit
        yield page


def listed(client: httpx.Client, path: str, limit: int = 1000) -> list[dict[str, Any]]:
    return [item for page in pages(client, path, limit) for item in page]


def test_paging_through_activities_gives_each_once_in_order_while_others_are_stored(store_service: Service):
    notify(store_service, "a", [f"a-m{i:03d}" for i in range(0, 40, 2)])  # a's, addressed to b
    notify(store_service, "a", ["a-private"], addressees=["b"])
    notify(store_service, "b", ["b-own-1", "b-own-2"])
    with store_service.client("b-liaison") as b, store_service.client("a-liaison") as a:
        before = [v["id"] for v in listed(b, "/v1/activities")]
        assert before == sorted(before) and len(before) == 23

        added: list[str] = []

        def store_more(page: int) -> None:
            if page <= 3:  # some sort before the cursor, some after
                new = [f"a-m{page * 10 + 1:03d}", f"a-z{page}"]
                notify(store_service, "a", new)
                added.extend(new)

        seen = [v["id"] for page in pages(b, "/v1/activities", 4, store_more) for v in page]
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen))
        assert set(before) <= set(seen) <= set(before) | set(added)
        assert {f"a-z{n}" for n in (1, 2, 3)} <= set(seen)  # stored after the cursor: reached
        # Pages are exactly the single list, as each party sees it.
        assert [v for page in pages(a, "/v1/activities", 3) for v in page] == listed(a, "/v1/activities")
        assert {v["id"] for v in listed(a, "/v1/activities") if not v["id"].startswith("a-")} == {"b-own-1", "b-own-2"}


def test_paging_through_incidents_and_threads_gives_each_once_in_order(store_service: Service):
    rt = store_service.runtime
    store_service.deployment.registry.add_party(Party("c", "Charlie"), [Contact("Charlie duty officer")])
    now_s = time.time()
    for i in range(9):
        rt.incidents.report("a", time_s=now_s - 600 + (i % 3), summary=f"incident {i}", parties=["b"] if i % 2 else [])
    for i in range(7):
        rt.hotline.create_thread("a", ["b"] if i % 2 else ["c"], f"thread {i}")
    by_time = [i.id for i in rt.incidents.list()]
    threads_of = {p: [t.id for t in rt.hotline.threads_of(p)] for p in ("a", "b")}
    for who, path, order in (
        ("b-observer", "/v1/incidents", by_time),
        ("a-liaison", "/v1/incidents", by_time),
        ("admin", "/v1/incidents", by_time),
        ("a-liaison", "/v1/hotline/threads", threads_of["a"]),
        ("b-liaison", "/v1/hotline/threads", threads_of["b"]),
    ):
        with store_service.client(who) as client:
            whole = client.get(path)  # no limit: the first page of list_page_items (100) is all
            assert whole.status_code == 200 and "Link" not in whole.headers, (who, path)
            paged = [item for page in pages(client, path, 2) for item in page]
        assert [i["id"] for i in paged] == [i["id"] for i in whole.json()], (who, path)  # evidence may freeze between
        assert [i["id"] for i in paged] == [i for i in order if i in {j["id"] for j in paged}], (who, path)
        assert len(paged) == len({i["id"] for i in paged}), (who, path)
    with store_service.client("b-observer") as b:
        assert len(listed(b, "/v1/incidents")) == 4  # only those involving b
    with store_service.client("b-liaison") as b:
        assert {t["title"] for t in listed(b, "/v1/hotline/threads")} >= {"thread 1", "thread 3", "thread 5"}
        assert not {t["title"] for t in listed(b, "/v1/hotline/threads")} & {"thread 0", "thread 2"}


def test_a_page_costs_the_same_statements_whatever_it_holds(store_service: Service):
    notify(store_service, "a", [f"a-q{i:03d}" for i in range(60)], addressees=["b"])
    notify(store_service, "b", ["b-overlaps-1", "b-overlaps-2"])  # conflicts: overlapped_by on a's
    rt = store_service.runtime
    for i in range(30):
        rt.incidents.report("a", time_s=time.time() - 60, summary=f"incident {i}", parties=["b"])
        rt.hotline.create_thread("a", ["b"], f"thread {i}")
    rt.activities.acknowledge("a-q001", 1, "b")
    engine = store_service.deployment.db.engine
    for who, path in (
        ("a-liaison", "/v1/activities"),
        ("b-liaison", "/v1/activities"),
        ("b-observer", "/v1/incidents"),
        ("b-liaison", "/v1/hotline/threads"),
    ):
        counts = {}
        with store_service.client(who) as client:
            client.get(path, params={"limit": 1})  # the key judged once: later requests alike
            for limit in (2, 30):
                with statements_of_requests(engine) as seen:
                    response = client.get(path, params={"limit": limit})
                assert response.status_code == 200 and len(response.json()) == limit, (who, path, response.text)
                counts[limit] = len(seen)
        # 10: a page of activities reads its overlaps in two (the first few of each, and their
        # counts), and its own activities' conflicts in two likewise.
        assert counts[2] == counts[30] <= 10, (who, path, counts)


def test_bad_limit_or_cursor_is_refused_naming_the_parameter(store_service: Service):
    notify(store_service, "a", [f"a-c{i}" for i in range(5)], addressees=["b"])
    with store_service.client("a-liaison") as a:
        for limit in ("0", "-1", "1001", "ten", "1.5"):
            refused = a.get("/v1/activities", params={"limit": limit})
            assert refused.status_code == 422, (limit, refused.text)
            assert refused.json()["errors"][0].startswith("limit"), refused.text
        for after in ("", "x", "c1.", "c1.AAAA", "c1." + "A" * 600):
            refused = a.get("/v1/activities", params={"after": after})
            assert refused.status_code == 422, (after, refused.text)
            assert "after" in refused.json()["errors"][0], refused.text


def test_another_keys_or_an_edited_cursor_shows_nothing_of_others(store_service: Service):
    notify(store_service, "a", [f"a-s{i}" for i in range(6)], addressees=["b"])
    notify(store_service, "b", [f"b-s{i}" for i in range(6)], addressees=["a"])
    rt = store_service.runtime
    for i in range(3):
        rt.incidents.report("a", time_s=time.time() - 60, summary=f"incident {i}")
    with (
        store_service.client("a-liaison") as a,
        store_service.client("a-observer") as a_observer,
        store_service.client("b-liaison") as b,
    ):
        first = a.get("/v1/activities", params={"limit": 2})
        cursor = httpx.URL(first.links["next"]["url"]).params["after"]
        assert "a-s" not in cursor and "b-s" not in cursor  # opaque: no id in it
        made_up = b.get("/v1/activities", params={"after": "c1." + "Q" * (len(cursor) - 3)})
        edited = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
        refusals = [
            b.get("/v1/activities", params={"after": cursor}),  # another party's
            a_observer.get("/v1/activities", params={"after": cursor}),  # another key of the same party
            a.get("/v1/incidents", params={"after": cursor}),  # another list's
            a.get("/v1/activities", params={"after": edited}),
        ]
        for refused in refusals:
            assert refused.status_code == 422
            assert refused.json()["errors"] == made_up.json()["errors"]
            assert refused.json()["detail"] == made_up.json()["detail"]
        # The cursor still serves its own key: the next page, nothing of b's beyond what a may see.
        following = a.get("/v1/activities", params={"after": cursor, "limit": 100})
        assert following.status_code == 200
        assert [v["id"] for v in following.json()] == [v["id"] for v in listed(a, "/v1/activities")][2:]


def test_a_thread_past_the_pages_read_is_read_alone_as_the_list_gives_it(store_service: Service):
    rt = store_service.runtime
    store_service.deployment.registry.add_party(Party("c", "Charlie"), [Contact("Charlie duty officer")])
    made = [rt.hotline.create_thread("a", ["b"], f"thread {i}").id for i in range(5)]
    rt.hotline.create_thread("a", ["c"], "not b's")
    foreign = rt.hotline.ensure_pair_thread("a", "c").id
    last = made[-1]
    for i in range(3):
        rt.hotline.post(
            "a", "duty", draft_from_json({"kind": "text", "body": f"m{i}", "idempotency_key": f"paged-key-{i}"}, last)
        )
    with store_service.client("b-liaison") as b:
        first = b.get("/v1/hotline/threads", params={"limit": 2})
        assert last not in {t["id"] for t in first.json()}  # not on the first page
        one = b.get(f"/v1/hotline/threads/{last}")
        assert one.status_code == 200, one.text
        assert one.json() == next(t for t in listed(b, "/v1/hotline/threads") if t["id"] == last)
        assert (one.json()["last_seq"], one.json()["unread"], one.json()["title"]) == (3, 3, "thread 4")
        not_a_member = b.get(f"/v1/hotline/threads/{foreign}")
        no_such = b.get("/v1/hotline/threads/th-no-such-thread")
        assert not_a_member.status_code == no_such.status_code == 404
        assert not_a_member.json()["detail"].replace(foreign, "X") == no_such.json()["detail"].replace(
            "th-no-such-thread", "X"
        )
