"""What an activity's own check found: the first few on its view, the rest in pages (docs/api.md).

On both stores, through the real server: ``conflicts`` (on ``GET /v1/activities/{id}``, on the
answers to notify and amend, and on each item of a page of ``GET /v1/activities``) holds the first
``activity_view_max_conflicts`` the check of its current version found, as found
(``activity_page_max_conflicts`` on a page item), ``conflicts_total`` counts them all;
``GET /v1/activities/{id}/conflicts`` pages through every one exactly once, as found; another party
naming the activity is answered as for an unknown one; a bad ``limit`` or ``after`` is refused naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apisupport import Service, bulk_conflicts, problem_without, running_service
from test_activity_overlaps import refuses_bad_limit_and_after
from test_list_paging import document, notify, pages

from keepclear.geo.activity_doc import activities_from_documents

#: The view's cap in these tests (default 100), and a page item's (default 10): small, so that a few rows pass them.
CAP = 3
PAGE_CAP = 2


@pytest.fixture
def capped(tmp_path: Path, database_url: str) -> Iterator[Service]:
    with running_service(
        tmp_path / "data", database_url, activity_view_max_conflicts=CAP, activity_page_max_conflicts=PAGE_CAP
    ) as service:
        yield service


def recorded(service: Service, count: int, version: int = 1, prefix: str = "b-bulk") -> None:
    """``count`` more conflicts found by a's ``a-1`` at ``version``, against ``<prefix>-000``, ``-001``..."""
    bulk_conflicts(service, [(f"{prefix}-{i:03d}", 1.0 + i) for i in range(count)], version)


def targets(conflicts: list[dict[str, Any]]) -> list[str]:
    return [c["target_id"] for c in conflicts]


def test_a_view_a_page_item_and_the_answers_show_the_first_conflicts_found_and_count_them_all(
    capped: Service,
) -> None:
    notify(capped, "b", [f"b-{i}" for i in range(1, 6)])  # a-1 overlaps each: five conflicts
    with capped.client("a-liaison") as a:
        notified = a.post("/v1/activities", json=document("a-1", "ua", "all"))
        assert notified.status_code == 201, notified.text
        recorded(capped, 10)  # found later by the same version: after the five
        recorded(capped, 7, version=9, prefix="b-gone")  # of a version of a-1 not current: none
        view = a.get("/v1/activities/a-1").json()
        items = {v["id"]: v for v in a.get("/v1/activities").json()}
        answered = a.post("/v1/activities/a-1/activate", json={"version": 1}).json()
        amended = a.post("/v1/activities/a-1/amend", json={"version": 1, "activity": document("a-1", "ua", "all")})
        assert amended.status_code == 200, amended.text
        after_amendment = a.get("/v1/activities/a-1").json()
    first = [f"b-{i}" for i in range(1, 6)]
    answer = notified.json()
    assert (targets(answer["conflicts"]), answer["conflicts_total"]) == (first[:CAP], 5)
    assert (answer["activity"]["conflicts"], answer["activity"]["conflicts_total"]) == (answer["conflicts"], 5)
    assert (targets(view["conflicts"]), view["conflicts_total"]) == (first[:CAP], 15)
    assert (items["a-1"]["conflicts"], items["a-1"]["conflicts_total"]) == (view["conflicts"][:PAGE_CAP], 15)
    assert (answered["conflicts"], answered["conflicts_total"]) == (view["conflicts"], 15)
    amended_answer = amended.json()  # version 2 found the five again; version 1's are no longer its
    assert (targets(amended_answer["conflicts"]), amended_answer["conflicts_total"]) == (first[:CAP], 5)
    assert {c["version"] for c in amended_answer["conflicts"]} == {2}
    assert amended_answer["activity"]["conflicts_total"] == 5
    assert (after_amendment["conflicts"], after_amendment["conflicts_total"]) == (amended_answer["conflicts"], 5)
    assert all("conflicts_total" not in v for i, v in items.items() if i.startswith("b-"))  # b's: addressed to a


@pytest.mark.parametrize("count", [12, 13])  # a last page full, and one with one conflict
def test_paging_through_conflicts_gives_each_once_as_found(capped: Service, count: int) -> None:
    notify(capped, "b", ["b-1"])
    notify(capped, "a", ["a-1"])  # found first: its conflict with b-1
    recorded(capped, count - 1)
    with capped.client("a-observer") as a:
        whole = a.get("/v1/activities/a-1/conflicts", params={"limit": 1000})
        assert whole.status_code == 200 and "Link" not in whole.headers, whole.text
        paged = list(pages(a, "/v1/activities/a-1/conflicts", 4))
        view = a.get("/v1/activities/a-1").json()
    assert all(paged) and [len(p) for p in paged[:-1]] == [4] * (len(paged) - 1)
    seen = [c for page in paged for c in page]
    assert seen == whole.json()
    assert targets(seen) == ["b-1"] + [f"b-bulk-{i:03d}" for i in range(count - 1)]
    assert seen[:CAP] == view["conflicts"] and view["conflicts_total"] == count
    assert {(c["activity_id"], c["version"]) for c in seen} == {("a-1", 1)}


def test_another_party_naming_the_activity_is_answered_as_for_an_unknown_one(capped: Service) -> None:
    notify(capped, "a", ["a-all"])  # addressed to b: b sees it, not what its check found
    (draft,) = activities_from_documents([document("a-draft", "ua", ["b"])], party_id="a", max_problems_listed=50)
    capped.runtime.activities.draft(draft)  # b sees nothing of it
    notify(capped, "b", ["b-1"])
    with capped.client("b-liaison") as b, capped.client("a-liaison") as a, capped.client("admin") as admin:
        unknown = problem_without(b.get("/v1/activities/a-nothing/conflicts"), "a-nothing")
        assert unknown[0] == 404
        assert b.get("/v1/activities/a-all").status_code == 200
        assert "conflicts" not in b.get("/v1/activities/a-all").json()
        for activity_id in ("a-all", "a-draft"):
            assert problem_without(b.get(f"/v1/activities/{activity_id}/conflicts"), activity_id) == unknown
            assert a.get(f"/v1/activities/{activity_id}/conflicts").status_code == 200
        assert admin.get("/v1/activities/a-all/conflicts").status_code == 403  # no activity reads at all


def test_bad_limit_or_after_on_conflicts_is_refused_naming_it(capped: Service) -> None:
    notify(capped, "a", ["a-1"])
    notify(capped, "b", ["b-1", "b-2"])  # each overlaps a-1: two in a-1's overlaps, none in its conflicts
    recorded(capped, 4)
    with capped.client("a-liaison") as a:
        refuses_bad_limit_and_after(
            a, "/v1/activities/a-1/conflicts", ["/v1/activities", "/v1/activities/a-1/overlaps"]
        )
