"""What a notification's conflicts send on the live streams: one event to each party concerned, however
many the check found (docs/activities.md, "Conflicts").

On both stores, through the real server and its SSE stream: a notification overlapping 3 × N + 1 of
b's activities and 2 of c's (N = ``activity_event_max_conflicts``) sends one ``activity.conflict`` to
a (the notifier: the first N in full, and how many in all), one to b and one to c (each the overlaps
of its own activities only, never a's activity); every conflict is read once through the pages
(a's ``GET /v1/activities/a-1/conflicts``, b's and c's ``GET /v1/activities/{own}/overlaps``), and
the conflicts stored are as many as the check found.

A batch (``POST /v1/activities/batch``) of ``BATCH`` activities each overlapping 2 of b's and 2 of c's
sends one ``activity.conflict`` to each party told for the whole batch, not one per activity: the
first N across the batch (each of a's naming its activity, each of b's and c's naming their own),
the totals, and none of a's ids; the rest through the same pages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apisupport import Service, SseReader, running_service
from test_list_paging import document, notify, pages

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.event_payloads import ActivityConflicts
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.geo.activity_doc import activities_from_documents

#: The conflicts one event holds in these tests (default 20).
MOST = 3
B_MANY = 3 * MOST + 1


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    with running_service(tmp_path / "data", database_url, activity_event_max_conflicts=MOST) as service:
        reg = service.deployment.registry
        reg.add_party(Party("c", "Charlie"), [Contact("Charlie duty officer"), Contact("Charlie deputy")])
        reg.add_force(Force("fc", "Charlie air", "c"))
        reg.add_unit(Unit("uc", "CHARLIE1", Domain.AIR, "fighter", "fc"))
        service.keys["c-liaison"] = service.deployment.keys.create(Role.LIAISON, "c", "c liaison")[1]
        yield service


def conflict_events(reader: SseReader) -> list[dict[str, Any]]:
    """The ``activity.conflict`` events ``reader`` received, once the first has come and the rest had time to."""
    reader.wait_for(lambda e: e["kind"] == "activity.conflict")
    time.sleep(0.5)  # staged in one transaction, published in one batch: any more would be here by now
    return [e for e in reader.events if e["kind"] == "activity.conflict"]


def test_a_notification_with_many_conflicts_tells_each_party_once_and_the_rest_is_paged(service: Service) -> None:
    notify(service, "b", [f"b-{i:02d}" for i in range(B_MANY)])
    (c1, c2) = activities_from_documents(
        [document(f"c-{i}", "uc", "all", start_h=36.0) for i in range(2)], party_id="c", max_problems_listed=50
    )  # after b's (30 h to 34 h from now): neither overlaps the other
    service.runtime.activities.notify_many([c1, c2])
    spanning = document("a-1", "ua", "all", start_h=36.0)  # a-1 lasts from b's start to c's end
    readers = {party: SseReader(service, f"{party}-liaison") for party in ("a", "b", "c")}
    try:
        with service.client("a-liaison") as a:
            answer = a.post("/v1/activities", json=document("a-1", "ua", "all") | {"end": spanning["end"]})
        assert answer.status_code == 201, answer.text
        told = {party: conflict_events(reader) for party, reader in readers.items()}
    finally:
        for reader in readers.values():
            reader.close()
    total = B_MANY + 2
    assert answer.json()["conflicts_total"] == total
    assert {party: len(events) for party, events in told.items()} == {"a": 1, "b": 1, "c": 1}
    payloads = {party: ActivityConflicts.from_payload(events[0]["payload"]) for party, events in told.items()}
    assert all(events[0]["schema_version"] == 2 for events in told.values())

    mine = payloads["a"]
    assert (mine.activity_id, mine.version, mine.conflicts_total, len(mine.conflicts)) == ("a-1", 1, total, MOST)
    assert (mine.activities_total, payloads["b"].activities_total, payloads["c"].activities_total) == (1, B_MANY, 2)
    with service.client("a-liaison") as a:
        paged = [c for page in pages(a, "/v1/activities/a-1/conflicts", 4) for c in page]
    assert len(paged) == total and len({c["target_id"] for c in paged}) == total  # each once
    assert paged[:MOST] == mine.conflicts  # the event holds the first as found; the pages hold every one

    for party, own, count in (("b", {f"b-{i:02d}" for i in range(B_MANY)}, B_MANY), ("c", {"c-0", "c-1"}, 2)):
        theirs = payloads[party]
        assert (theirs.activity_id, theirs.version, theirs.conflicts_total) == (None, None, count)
        assert len(theirs.conflicts) == min(MOST, count)
        assert {c["your_activity_id"] for c in theirs.conflicts} <= own  # its own activities only
        assert "a-1" not in str(told[party])  # nothing of a's activity, not even its id
        with service.client(f"{party}-liaison") as client:
            paths = [f"/v1/activities/{activity_id}/overlaps" for activity_id in sorted(own)]
            overlaps = [o for path in paths for page in pages(client, path, 2) for o in page]
        assert sorted(o["your_activity_id"] for o in overlaps) == sorted(own)  # each once
        shown = [{k: v for k, v in o.items() if k != "found"} for o in overlaps]
        assert all(c in shown for c in theirs.conflicts)


#: The activities of a's batch (each overlapping b-0, b-1, c-0 and c-1): more than one event holds.
BATCH = 4 * MOST


def test_a_batch_tells_each_party_its_conflicts_once_for_the_whole_batch(service: Service) -> None:
    notify(service, "b", ["b-0", "b-1"])
    c_docs = [document(f"c-{i}", "uc", "all", start_h=36.0) for i in range(2)]
    service.runtime.activities.notify_many(activities_from_documents(c_docs, party_id="c", max_problems_listed=50))
    spanning = document("x", "ua", "all", start_h=36.0)  # from b's start (30 h from now) to c's end
    batch = [document(f"a-{i:02d}", "ua", "all") | {"end": spanning["end"]} for i in range(BATCH)]
    readers = {party: SseReader(service, f"{party}-liaison") for party in ("a", "b", "c")}
    try:
        with service.client("a-liaison") as a:
            answer = a.post("/v1/activities/batch", json={"activities": batch})
        assert answer.status_code == 201, answer.text
        told = {party: conflict_events(reader) for party, reader in readers.items()}
        notices = {
            party: [e for e in reader.events if e["kind"] == "activity.notified"] for party, reader in readers.items()
        }
    finally:
        for reader in readers.values():
            reader.close()
    a_ids = [f"a-{i:02d}" for i in range(BATCH)]
    assert [r["conflicts_total"] for r in answer.json()["activities"]] == [4] * BATCH
    assert {party: len(events) for party, events in told.items()} == {"a": 1, "b": 1, "c": 1}  # not one per activity
    assert all(events[0]["schema_version"] == 2 for events in told.values())
    assert all(len(notices[party]) >= BATCH for party in "bc")  # each addressee still learns each activity
    payloads = {party: ActivityConflicts.from_payload(events[0]["payload"]) for party, events in told.items()}

    mine = payloads["a"]
    assert (mine.activity_id, mine.version) == (None, None)  # a batch of several: each item names its own
    assert (mine.conflicts_total, mine.activities_total, len(mine.conflicts)) == (4 * BATCH, BATCH, MOST)
    with service.client("a-liaison") as a:
        paged = [c for ident in a_ids for page in pages(a, f"/v1/activities/{ident}/conflicts", 3) for c in page]
    assert len(paged) == 4 * BATCH
    assert mine.conflicts == paged[:MOST]  # the first across the batch, in its order, as found
    assert {(c["activity_id"], c["version"]) for c in mine.conflicts} == {("a-00", 1)}

    for party, own in (("b", ["b-0", "b-1"]), ("c", ["c-0", "c-1"])):
        theirs = payloads[party]
        assert (theirs.activity_id, theirs.version) == (None, None)
        assert (theirs.conflicts_total, theirs.activities_total, len(theirs.conflicts)) == (2 * BATCH, 2, MOST)
        assert {c["your_activity_id"] for c in theirs.conflicts} <= set(own)  # its own activities only
        assert not any(ident in str(told[party]) for ident in a_ids)  # nothing of a's activities
        with service.client(f"{party}-liaison") as client:
            overlaps = [
                o for ident in own for page in pages(client, f"/v1/activities/{ident}/overlaps", 3) for o in page
            ]
        assert len(overlaps) == 2 * BATCH  # every overlap, through the pages
        shown = [{k: v for k, v in o.items() if k != "found"} for o in overlaps]
        assert all(c in shown for c in theirs.conflicts)
