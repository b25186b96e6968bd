"""A request reads what it names, not everything the other parties stored about the caller, on
SQLite and PostgreSQL alike, through the real server.

Others may each keep ``max_live_activities_per_party`` activities overlapping a party's, and open
``max_hotline_threads_per_party`` threads with it: the view of one activity read every conflict
recorded against every activity of the party (geometry and all) to show that one's
``overlapped_by``; an incident report read every thread of the reporter to judge the one or two
messages it names.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from apisupport import Service, bulk_conflicts, bulk_threads, statements_of_requests
from test_list_paging import document, notify

from keepclear.domain import Party
from keepclear.domain.hotline import Draft, MessageKind
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activities_from_documents
from plansupport import query_plan

#: Conflicts and threads others stored about party b (each within its own bounds).
MANY = 20_000
#: Conflicts others recorded against each of two of b's activities (in the view's test).
OVERLAPS = 5_000


def _reading(seen: list[tuple[str, Any]], table: str) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s]


def test_an_activity_view_reads_the_conflicts_against_that_activity_only(store_service: Service) -> None:
    notify(store_service, "b", ["b-1", "b-2"])
    notify(store_service, "a", ["a-1"])  # overlaps both: a conflict against each
    bulk_conflicts(store_service, [(f"b-other-{i:06d}", 1.0 + i) for i in range(MANY)])

    with store_service.client("b-liaison") as b, statements_of_requests(store_service.deployment.db.engine) as seen:
        response = b.get("/v1/activities/b-1")
    assert response.status_code == 200, response.text
    assert [o["your_activity_id"] for o in response.json()["overlapped_by"]] == ["b-1"]
    read = _reading(seen, "activity_conflicts")
    assert read and all("b-1" in str(parameters) for _, parameters in read), read


def _asked(service: Service, who: str, paths: list[str]) -> list[tuple[httpx.Response, list[tuple[str, Any]]]]:
    """Each of ``paths`` asked with ``who``'s key (judged once first: later requests alike), and the
    statements each request ran."""
    answered = []
    with service.client(who) as client:
        client.get("/v1/whoami")
        for path in paths:
            with statements_of_requests(service.deployment.db.engine) as seen:
                answered.append((client.get(path), seen))
    return answered


def _rows_read(service: Service, seen: list[tuple[str, Any]], table: str) -> int:
    """The rows the recorded reads of ``table`` returned: each statement run again, as recorded."""
    with service.deployment.db.engine.connect() as conn:
        return sum(len(conn.exec_driver_sql(s, p).fetchall()) for s, p in _reading(seen, table))


def test_a_page_of_activities_reads_a_bounded_number_of_overlaps(store_service: Service) -> None:
    notify(store_service, "b", ["b-1", "b-2", "b-3"])
    notify(store_service, "a", ["a-1"])  # overlaps each: a conflict against each (and a-1's own three)
    bulk_conflicts(store_service, [(target, 1.0 + i) for target in ("b-1", "b-2") for i in range(OVERLAPS)])
    most = store_service.runtime.config.activities.view_max_overlaps
    on_page = store_service.runtime.config.activities.page_max_overlaps

    # b is an addressee of a-1: never shown a-1's conflicts
    paths = ["/v1/activities", "/v1/activities/b-1", "/v1/activities/a-1"]
    (page, page_seen), (view, view_seen), (addressed, addressed_seen) = _asked(store_service, "b-liaison", paths)
    assert [r.status_code for r in (page, view, addressed)] == [200] * 3, (page.text, view.text, addressed.text)
    items = {v["id"]: v for v in page.json()}
    assert [(len(items[i]["overlapped_by"]), items[i]["overlapped_by_total"]) for i in ("b-1", "b-2", "b-3")] == [
        (on_page, OVERLAPS + 1),
        (on_page, OVERLAPS + 1),
        (1, 1),
    ]
    assert (len(view.json()["overlapped_by"]), view.json()["overlapped_by_total"]) == (most, OVERLAPS + 1)
    # A fixed number of statements, returning at most ``on_page`` overlaps an activity of b's (``most`` on its view) and its
    # count (b's own activities found none when notified), whatever others recorded; nothing of
    # a-1's conflicts (its check found one against each of b's, and the bulk ones): b never sees them.
    # b's own conflicts: the first few and the counts, none found (two statements, a count a row).
    assert len(_reading(page_seen, "activity_conflicts")) <= 4, _reading(page_seen, "activity_conflicts")
    assert _rows_read(store_service, page_seen, "activity_conflicts") <= (2 * on_page + 1) + 3 + 3
    assert _rows_read(store_service, view_seen, "activity_conflicts") <= most + 1 + 1  # and b-1's own count
    assert _rows_read(store_service, addressed_seen, "activity_conflicts") == 0


def test_the_conflicts_a_check_found_are_read_a_bounded_number_on_a_page_and_a_view(store_service: Service) -> None:
    notify(store_service, "b", ["b-1", "b-2"])
    notify(store_service, "a", ["a-1", "a-2"])  # each overlaps b's two: two conflicts each
    bulk_conflicts(store_service, [(f"b-many-{i:06d}", 1.0 + i) for i in range(OVERLAPS)])  # a-1's check found more
    config = store_service.runtime.config.activities
    most, on_page = config.view_max_conflicts, config.page_max_conflicts

    (page, page_seen), (view, view_seen) = _asked(store_service, "a-liaison", ["/v1/activities", "/v1/activities/a-1"])
    assert [r.status_code for r in (page, view)] == [200] * 2, (page.text, view.text)
    # A fixed number of statements returning the first few conflicts of each of a's (b's, addressed
    # to a, none) and their counts, and a's overlaps (none) and their counts, whatever a-1 found.
    assert len(_reading(page_seen, "activity_conflicts")) <= 4, _reading(page_seen, "activity_conflicts")
    assert _rows_read(store_service, page_seen, "activity_conflicts") <= (on_page + 2) + 2 + 2
    assert _rows_read(store_service, view_seen, "activity_conflicts") <= most + 1 + 1
    items = {v["id"]: v for v in page.json()}
    assert [(len(items[i]["conflicts"]), items[i]["conflicts_total"]) for i in ("a-1", "a-2")] == [
        (on_page, OVERLAPS + 2),
        (2, 2),
    ]
    assert (len(view.json()["conflicts"]), view.json()["conflicts_total"]) == (most, OVERLAPS + 2)


def test_totals_count_no_rows_and_overlaps_amended_away_lie_outside_the_range_read(store_service: Service) -> None:
    notify(store_service, "b", ["b-1"])
    notify(store_service, "a", ["a-1"])  # a conflict of its version 1 against b-1
    bulk_conflicts(store_service, [("b-1", 1.0 + i) for i in range(OVERLAPS)])  # and many more
    (moved,) = activities_from_documents([document("a-1", "ua", "all")], party_id="a", max_problems_listed=1)
    store_service.runtime.activities.amend(moved, 1)  # version 2, same place: one conflict against b-1

    ((view, seen),) = _asked(store_service, "b-liaison", ["/v1/activities/b-1"])
    assert view.status_code == 200, view.text
    assert (len(view.json()["overlapped_by"]), view.json()["overlapped_by_total"]) == (1, 1)
    read = _reading(seen, "activity_conflicts")
    assert [s for s, _ in read if "count(" in s.lower()] == []  # the totals are kept, not counted
    db = store_service.deployment.db
    (overlaps,) = [query_plan(db, s, p, "activity_conflicts") for s, p in read if "c.target_id =" in s]
    # the current overlaps of b-1 are one range of the index: version 1's, amended away, outside it
    assert "ix_activity_conflicts_current_overlaps" in overlaps and "superseded" in overlaps, overlaps
    assert "recorder" not in overlaps and "Filter" not in overlaps, overlaps


def test_an_incident_report_reads_the_threads_of_the_messages_it_names_only(store_service: Service) -> None:
    rt = store_service.runtime
    bulk_threads(store_service, MANY)
    named = rt.hotline.create_thread("a", ["b"], "the one named")
    rt.hotline.post("a", "Maj Alpha", Draft(named.id, MessageKind.TEXT, "named-key-1", body="we see it"))
    store_service.deployment.registry.add_party(Party("c", "Charlie"), [Contact("Charlie duty officer")])
    apart = rt.hotline.create_thread("a", ["c"], "a and c")
    rt.hotline.post("a", "Maj Alpha", Draft(apart.id, MessageKind.TEXT, "apart-key-1", body="b is no member"))
    body = {"time": format_utc(time.time() - 60), "summary": "close pass", "parties": ["a"]}

    with store_service.client("b-liaison") as b:
        with statements_of_requests(store_service.deployment.db.engine) as seen:
            reported = b.post("/v1/incidents", json=body | {"message_ids": [f"{named.id}#1"]})
        refused = b.post("/v1/incidents", json=body | {"message_ids": [f"{apart.id}#1", f"{named.id}#2"]})
    assert reported.status_code == 201, reported.text
    assert refused.status_code == 422, refused.text
    problems = refused.json()["errors"]
    assert len(problems) == 2 and all("message_ids" in p for p in problems), problems
    read = _reading(seen, "hotline_threads")
    assert read and all(named.id in str(parameters) for _, parameters in read), read
