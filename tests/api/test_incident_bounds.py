"""What one party can make the others read of an incident they share, on SQLite and PostgreSQL.

Through the real server: a party adds at most ``max_incident_accounts_per_party`` accounts and
amendments to one incident (past it 409 naming the setting, nothing stored; each party's own, each
incident's own); ``GET /v1/incidents/{id}`` shows the earliest ``incident_view_max_timeline_items``
timeline items with ``timeline_total`` counting them all; ``GET /v1/incidents/{id}/timeline`` pages
through every one exactly once, in the view's order; a party not involved is answered as for an
unknown id; a bad ``limit`` or ``after`` is refused naming it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import Service, problem_without, running_service
from test_input_hardening import assert_problem
from test_list_paging import pages

from keepclear.domain.timefmt import format_utc
from keepclear.store import incidents as store

#: The bounds in these tests (defaults 50 and 500): small, so that a few rows pass them.
ACCOUNTS = 3
VIEW_ITEMS = 5


@pytest.fixture
def bounded(tmp_path: Path, database_url: str) -> Iterator[Service]:
    with running_service(
        tmp_path / "data",
        database_url,
        max_incident_accounts_per_party=ACCOUNTS,
        incident_view_max_timeline_items=VIEW_ITEMS,
    ) as service:
        yield service


def shared_incident(service: Service, parties: tuple[str, ...] = ("b",)) -> str:
    """An incident a reports, involving ``parties`` too, with an empty timeline."""
    incident = service.runtime.incidents.report(
        "a", time_s=time.time() - 60, summary="ALPHA1 and BRAVO1 passed close", unit_ids=["ua"], parties=parties
    )
    return incident.id


def timeline_items(service: Service, incident_id: str, times_s: list[float]) -> None:
    """Items at ``times_s`` appended to the incident's timeline in that order (as alert changes
    merged over a long encounter are), each numbered in its payload by the order appended."""
    items: list[tuple[float, str, str | None, dict[str, Any]]] = [
        (t, "alert.updated", None, {"alert_id": "al-1", "n": k}) for k, t in enumerate(times_s)
    ]
    with service.deployment.db.write() as conn:
        store.get_incident(conn, incident_id, lock=True)
        store.append_timeline_items(conn, incident_id, items)


def account(client: httpx.Client, incident_id: str, text: str, amends: int | None = None) -> httpx.Response:
    return client.post(f"/v1/incidents/{incident_id}/accounts", json={"text": text, "amends": amends})


def test_a_party_adds_a_bounded_number_of_accounts_to_one_incident(bounded: Service) -> None:
    first, second = shared_incident(bounded), shared_incident(bounded)
    with bounded.client("a-liaison") as a, bounded.client("b-liaison") as b, bounded.client("admin") as admin:
        assert account(a, first, "we held course").status_code == 201
        assert account(a, first, "we climbed", amends=1).status_code == 201  # amendments count too
        assert account(a, first, "and turned").status_code == 201
        before = a.get(f"/v1/incidents/{first}").json()
        assert_problem(account(a, first, "one more"), 409, "max_incident_accounts_per_party", str(ACCOUNTS))
        assert_problem(account(a, first, "amended again", amends=3), 409, "max_incident_accounts_per_party")
        after = b.get(f"/v1/incidents/{first}").json()
        assert after["accounts"] == before["accounts"] and len(after["accounts"]) == ACCOUNTS  # nothing stored
        assert (after["timeline"], after["timeline_total"]) == (before["timeline"], before["timeline_total"])
        # Each party's own bound, in each incident.
        for k in range(ACCOUNTS):
            assert account(b, first, f"b's account {k}").status_code == 201
        assert account(b, first, "b's one more").status_code == 409
        assert account(a, second, "the other incident").status_code == 201
        assert admin.get("/v1/metrics").json()["counters"]["incident_accounts_refused_limit_total"] == 3
    assert [x.party_id for x in bounded.runtime.incidents.accounts(first)] == ["a"] * ACCOUNTS + ["b"] * ACCOUNTS


def test_the_view_and_report_show_the_earliest_timeline_items_and_count_them_all(bounded: Service) -> None:
    incident_id = shared_incident(bounded)
    start_s = time.time() - 3_600
    times_s = [start_s + 10 * k for k in range(12)]
    timeline_items(bounded, incident_id, [*reversed(times_s[4:]), *times_s[:4]])  # arrival is not the order
    with bounded.client("b-liaison") as b, bounded.client("a-liaison") as a:
        assert account(a, incident_id, "we held course").status_code == 201  # one more item, now
        view = b.get(f"/v1/incidents/{incident_id}").json()
        report = b.get(f"/v1/incidents/{incident_id}/report", params={"lang": "en"}).text
    assert [item["time_s"] for item in view["timeline"]] == [format_utc(t) for t in times_s[:VIEW_ITEMS]]
    assert view["timeline_total"] == 13
    assert len(view["accounts"]) == 1
    assert f"The first {VIEW_ITEMS} of 13 items" in report
    with bounded.client("b-liaison") as b:
        small = shared_incident(bounded)
        timeline_items(bounded, small, times_s[:2])
        whole = b.get(f"/v1/incidents/{small}").json()
        assert (len(whole["timeline"]), whole["timeline_total"]) == (2, 2)
        assert "The first" not in b.get(f"/v1/incidents/{small}/report", params={"lang": "en"}).text


@pytest.mark.parametrize("count", [12, 13])  # a last page full, and one with one item
def test_paging_through_the_timeline_gives_each_item_once_in_the_views_order(bounded: Service, count: int) -> None:
    incident_id = shared_incident(bounded)
    start_s = time.time() - 3_600
    times_s = [start_s + 10 * (k // 3) for k in range(count)]  # three at each time: ties cross page edges
    timeline_items(bounded, incident_id, times_s)
    path = f"/v1/incidents/{incident_id}/timeline"
    with bounded.client("b-observer") as b:
        whole = b.get(path, params={"limit": 1000})
        assert whole.status_code == 200 and "Link" not in whole.headers, whole.text
        view = b.get(f"/v1/incidents/{incident_id}").json()

        def more_stored(page: int) -> None:  # earlier than the cursor: not given to this reader
            timeline_items(bounded, incident_id, [start_s - 100 - page])

        paged = list(pages(b, path, 4, more_stored))
    assert all(paged) and [len(p) for p in paged[:-1]] == [4] * (len(paged) - 1)
    seen = [item for page in paged for item in page]
    assert seen == whole.json() and len(seen) == count
    assert [item["payload"]["n"] for item in seen] == list(range(count))  # by time, then as appended
    assert view["timeline"] == seen[:VIEW_ITEMS] and view["timeline_total"] == count


def test_a_party_not_involved_is_answered_as_for_an_unknown_incident(bounded: Service) -> None:
    own = shared_incident(bounded, parties=())  # a's alone
    timeline_items(bounded, own, [time.time() - 100])
    with bounded.client("a-liaison") as a, bounded.client("b-liaison") as b:
        unknown = problem_without(b.get("/v1/incidents/inc-made-up/timeline"), "inc-made-up")
        assert unknown[0] == 404
        assert problem_without(b.get(f"/v1/incidents/{own}/timeline"), own) == unknown
        assert problem_without(b.get(f"/v1/incidents/{own}/timeline", params={"limit": 1}), own) == unknown
        assert problem_without(b.get(f"/v1/incidents/{own}"), own) == unknown
        assert len(a.get(f"/v1/incidents/{own}/timeline").json()) == 1


def test_bad_limit_or_after_on_the_timeline_is_refused_naming_it(bounded: Service) -> None:
    incident_id = shared_incident(bounded)
    other = shared_incident(bounded)
    timeline_items(bounded, incident_id, [time.time() - 100 + k for k in range(4)])
    timeline_items(bounded, other, [time.time() - 100 + k for k in range(4)])
    path = f"/v1/incidents/{incident_id}/timeline"
    with bounded.client("b-liaison") as b, bounded.client("a-liaison") as a:
        assert b.get(path).status_code == 200
        for limit in ("0", "-1", "1001", "ten", "1.5"):
            refused = b.get(path, params={"limit": limit})
            assert refused.status_code == 422, (limit, refused.text)
            assert refused.json()["errors"][0].startswith("limit"), refused.text
        incidents_cursor = httpx.URL(b.get("/v1/incidents", params={"limit": 1}).links["next"]["url"])
        a_cursor = httpx.URL(a.get(path, params={"limit": 1}).links["next"]["url"])
        others = (incidents_cursor.params["after"], a_cursor.params["after"])  # another list's, another key's
        for after in ("", "x", "c1.AAAA", "c1." + "A" * 600, *others):
            refused = b.get(path, params={"after": after})
            assert refused.status_code == 422, (after, refused.text)
            assert "after" in refused.json()["errors"][0], refused.text
