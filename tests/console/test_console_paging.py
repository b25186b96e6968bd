"""The console follows the pages of the lists (docs/api.md, "Lists come in pages"): with pages of two
items it still shows every activity, hotline thread and incident of the party."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from consolesupport import Service, running_service, sign_in

from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activities_from_documents

SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("paging") / "data", list_page_items=2) as svc:
        yield svc


def test_the_console_shows_every_item_of_lists_longer_than_a_page(service: Service, pages: dict[str, Any]) -> None:
    rt = service.runtime
    now_s = time.time()
    documents = [
        {
            "id": f"a-paged-{i}",
            "kind": "air-operation",
            "start": format_utc(now_s + (30 + i) * 3600),
            "end": format_utc(now_s + (31 + i) * 3600),
            "addressees": ["b"],
            "contact": "Alpha duty officer",
            "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 9000}],
        }
        for i in range(5)
    ]
    rt.activities.notify_many(activities_from_documents(documents, party_id="a", max_problems_listed=50))
    for i in range(5):
        rt.incidents.report("a", time_s=now_s - 60 - i, summary=f"Paged incident {i}", parties=["b"])
    for i in range(4):
        rt.hotline.create_thread("a", ["b"], f"Paged thread {i}")
    with service.client("b-liaison") as client:
        first = client.get("/v1/activities")
        assert len(first.json()) == 2 and "next" in first.links  # the server gives pages of two
        threads = len(client.get("/v1/hotline/threads", params={"limit": 100}).json())
    b = pages["b"]
    sign_in(b, service.url, service.keys["b-liaison"])
    b.click("#tab-activities")
    b.wait_for_function("() => document.querySelectorAll('#activities-list li').length === 5", timeout=10_000)
    b.click("#tab-hotline")
    b.wait_for_function(f"() => document.querySelectorAll('#threads-list li').length === {threads}", timeout=10_000)
    b.click("#tab-record")
    b.wait_for_function("() => document.querySelectorAll('#incidents-list li').length === 5", timeout=10_000)
    assert not b.errors
