"""What a notification's conflicts send on the live streams: one event to each party concerned, however
many the check found (docs/activities.md, "Conflicts").

On both stores, through the real server and its SSE stream: a notification overlapping 3 × N + 1 of
b's activities and 2 of c's (N = ``activity_event_max_conflicts``) sends one ``activity.conflict`` to
a (the notifier: the first N in full, and how many in all), one to b and one to c (each the overlaps
of its own activities only, never a's activity); every conflict is read once through the pages
(a's ``GET /v1/activities/a-1/conflicts``, b's and c's ``GET /v1/activities/{own}/overlaps``), and
the conflicts stored are as many as the check found.
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
