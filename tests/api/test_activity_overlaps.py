"""What overlaps a party's activity: the first few on its view, the rest in pages (docs/api.md).

On both stores, through the real server: ``overlapped_by`` (on ``GET /v1/activities/{id}`` and on each
item of a page of ``GET /v1/activities``) holds the ``activity_view_max_overlaps`` most recently found
(``activity_page_max_overlaps`` on a page item),
``overlapped_by_total`` counts them all; ``GET /v1/activities/{id}/overlaps`` pages through every one
exactly once, most recently found first; another party naming the activity is answered as for an
unknown one; a bad ``limit`` or ``after`` is refused naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import Service, bulk_conflicts, problem_without, running_service
from test_list_paging import document, notify, pages

from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activities_from_documents

#: The view's cap in these tests (default 100), and a page item's (default 10): small, so that a few rows pass them.
CAP = 3
PAGE_CAP = 2


@pytest.fixture
def capped(tmp_path: Path, database_url: str) -> Iterator[Service]:
    with running_service(
        tmp_path / "data", database_url, activity_view_max_overlaps=CAP, activity_page_max_overlaps=PAGE_CAP
    ) as service:
        yield service


def recorded(service: Service, target_id: str, count: int, first_s: float, version: int = 1) -> None:
    """``count`` conflicts of a's a-1 (at ``version``) against b's ``target_id``, found at
    ``first_s``, ``first_s + 1``...; each told apart by when it was found."""
    bulk_conflicts(service, [(target_id, first_s + i) for i in range(count)], version)


def found(overlaps: list[dict[str, Any]]) -> list[str]:
    return [o["found"] for o in overlaps]


def times(first_s: float, count: int) -> list[str]:
    """When ``recorded`` says its rows were found, most recent first."""
    return [format_utc(first_s + i) for i in reversed(range(count))]


def test_a_view_and_a_page_item_show_the_latest_overlaps_and_count_them_all(capped: Service) -> None:
    notify(capped, "b", ["b-1", "b-2", "b-3"])
    notify(capped, "a", ["a-1"])  # overlaps each: one conflict against each, found now
    recorded(capped, "b-1", 10, first_s=4_000_000_000.0)  # found later than the real one
    recorded(capped, "b-1", 7, first_s=4_100_000_000.0, version=9)  # of a version of a-1 not current: none
    recorded(capped, "b-2", 1, first_s=4_000_000_000.0)
    with capped.client("b-liaison") as b:
        view = b.get("/v1/activities/b-1").json()
        items = {v["id"]: v for v in b.get("/v1/activities").json()}
        answered = b.post("/v1/activities/b-1/cancel", json={"version": 1, "reason": "x"}).json()
    assert found(view["overlapped_by"]) == times(4_000_000_000.0, 10)[:CAP]
    assert view["overlapped_by_total"] == 11
    assert items["b-1"]["overlapped_by"] == view["overlapped_by"][:PAGE_CAP]  # a page item holds fewer
    assert items["b-1"]["overlapped_by_total"] == 11
    assert [len(items[i]["overlapped_by"]) for i in ("b-2", "b-3")] == [2, 1]
    assert [items[i]["overlapped_by_total"] for i in ("b-2", "b-3")] == [2, 1]
    assert found(items["b-2"]["overlapped_by"])[0] == format_utc(4_000_000_000.0)
    assert (answered["overlapped_by"], answered["overlapped_by_total"]) == (view["overlapped_by"], 11)
    assert not [v for i, v in items.items() if not i.startswith("b-") and "overlapped_by_total" in v]


def test_the_answer_to_a_notification_or_an_amendment_is_what_a_read_right_after_shows(capped: Service) -> None:
    """The answer shows what was recorded against the activity's id, as its view does: for an
    amendment, what others' activities recorded against its earlier versions (their count too); for
    a new activity, nothing (no other check judged it before), its own check's conflicts apart."""
    notify(capped, "a", ["a-1"])  # b-1's check finds it
    with capped.client("b-liaison") as b:
        notified = b.post("/v1/activities", json=document("b-1", "ub", "all"))
        after_notified = b.get("/v1/activities/b-1").json()
        notify(capped, "a", ["a-2"])  # its check records a conflict against b-1
        recorded(capped, "b-1", 4, first_s=4_000_000_000.0)  # and more than the view shows
        amended = b.post("/v1/activities/b-1/amend", json={"version": 1, "activity": document("b-1", "ub", "all")})
        after_amended = b.get("/v1/activities/b-1").json()
        batch = b.post("/v1/activities/batch", json={"activities": [document("b-2", "ub", "all")]})
        after_batch = b.get("/v1/activities/b-2").json()
    assert [r.status_code for r in (notified, amended, batch)] == [201, 200, 201], (notified.text, amended.text)
    assert notified.json()["activity"] == after_notified
    assert (after_notified["conflicts_total"], after_notified["overlapped_by_total"]) == (1, 0)
    assert amended.json()["activity"] == after_amended
    assert (len(after_amended["overlapped_by"]), after_amended["overlapped_by_total"]) == (CAP, 5)
    assert batch.json()["activities"][0]["activity"] == after_batch


@pytest.mark.parametrize("count", [12, 13])  # a last page full, and one with one overlap
def test_paging_through_overlaps_gives_each_once_most_recent_first(capped: Service, count: int) -> None:
    notify(capped, "b", ["b-1"])
    notify(capped, "a", ["a-1"])
    recorded(capped, "b-1", count - 1, first_s=4_000_000_000.0)
    with capped.client("b-observer") as b:
        whole = b.get("/v1/activities/b-1/overlaps", params={"limit": 1000})
        assert whole.status_code == 200 and "Link" not in whole.headers, whole.text

        def more_found(page: int) -> None:  # found after paging began: before the cursor, not given
            recorded(capped, "b-1", 1, first_s=4_200_000_000.0 + page)

        paged = list(pages(b, "/v1/activities/b-1/overlaps", 4, more_found))
    assert all(paged) and [len(p) for p in paged[:-1]] == [4] * (len(paged) - 1)
    seen = [o for page in paged for o in page]
    assert seen == whole.json()
    assert found(seen)[:-1] == times(4_000_000_000.0, count - 1)  # the last: a-1's, found when notified
    assert {o["your_activity_id"] for o in seen} == {"b-1"} and len(seen) == count


def test_another_party_naming_the_activity_is_answered_as_for_an_unknown_one(capped: Service) -> None:
    notify(capped, "b", ["b-all"])  # addressed to a: a sees it, not what overlaps it
    (draft,) = activities_from_documents([document("b-draft", "ub", ["a"])], party_id="b", max_problems_listed=50)
    capped.runtime.activities.draft(draft)  # a sees nothing of it
    notify(capped, "a", ["a-1"])
    with capped.client("a-liaison") as a, capped.client("b-liaison") as b, capped.client("admin") as admin:
        unknown = problem_without(a.get("/v1/activities/b-nothing/overlaps"), "b-nothing")
        assert unknown[0] == 404
        assert a.get("/v1/activities/b-all").status_code == 200
        assert problem_without(a.get("/v1/activities/b-draft"), "b-draft") == unknown
        for activity_id in ("b-all", "b-draft"):
            assert problem_without(a.get(f"/v1/activities/{activity_id}/overlaps"), activity_id) == unknown
            assert b.get(f"/v1/activities/{activity_id}/overlaps").status_code == 200
        assert admin.get("/v1/activities/b-all/overlaps").status_code == 403  # no activity reads at all


def test_bad_limit_or_after_on_overlaps_is_refused_naming_it(capped: Service) -> None:
    notify(capped, "b", ["b-1"])
    notify(capped, "a", ["a-1"])
    recorded(capped, "b-1", 4, first_s=4_000_000_000.0)
    with capped.client("b-liaison") as b:
        refuses_bad_limit_and_after(b, "/v1/activities/b-1/overlaps", ["/v1/activities"])


def refuses_bad_limit_and_after(client: httpx.Client, path: str, others: list[str]) -> None:
    """``path`` answers, and refuses a bad ``limit`` and a bad ``after`` (made up, or the cursor of
    each list of ``others``) with 422 naming it."""
    assert client.get(path).status_code == 200
    for limit in ("0", "-1", "1001", "ten", "1.5"):
        refused = client.get(path, params={"limit": limit})
        assert refused.status_code == 422, (limit, refused.text)
        assert refused.json()["errors"][0].startswith("limit"), refused.text
    cursors = [httpx.URL(client.get(o, params={"limit": 1}).links["next"]["url"]).params["after"] for o in others]
    for after in ("", "x", "c1.AAAA", "c1." + "A" * 600, *cursors):
        refused = client.get(path, params={"after": after})
        assert refused.status_code == 422, (after, refused.text)
        assert "after" in refused.json()["errors"][0], refused.text
