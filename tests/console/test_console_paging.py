"""The console reads the lists a page at a time (docs/api.md, "Lists come in pages"; docs/console.md,
"Long lists"), with pages of two items here: it shows the first page of activities, hotline threads
and incidents, in the API's order, having read that page only; "Load more" brings the next; and what
the stream tells of an item no loaded page holds (a message in a thread further on, a new activity or
incident) brings that item in at once."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from consolesupport import Service, running_service, sign_in

from keepclear.api.hotline_codec import draft_from_json
from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activities_from_documents

SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]
_numbers = itertools.count()


@pytest.fixture
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("paging") / "data", list_page_items=2) as svc:
        yield svc


def notify(service: Service, ids: list[str]) -> None:
    now_s = time.time()
    documents = [
        {
            "id": activity_id,
            "kind": "air-operation",
            "start": format_utc(now_s + (30 + i) * 3600),
            "end": format_utc(now_s + (31 + i) * 3600),
            "addressees": ["b"],
            "contact": "Alpha duty officer",
            "text": f"Paged {activity_id}",
            "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 9000}],
        }
        for i, activity_id in enumerate(ids)
    ]
    service.runtime.activities.notify_many(activities_from_documents(documents, party_id="a", max_problems_listed=50))


def post(service: Service, thread_id: str, body: str) -> None:
    draft = {"kind": "text", "body": body, "idempotency_key": f"paging-test-{next(_numbers)}"}
    service.runtime.hotline.post("a", "duty", draft_from_json(draft, thread_id))


def ids_of_api(service: Service, path: str) -> tuple[list[str], list[str]]:
    """b's first page of ``path`` (two items) and the whole list, as the API gives them."""
    with service.client("b-liaison") as client:
        first = client.get(path)
        assert first.status_code == 200 and len(first.json()) == 2 and "next" in first.links
        whole = client.get(path, params={"limit": 100}).json()
    return [i["id"] for i in first.json()], [i["id"] for i in whole]


def shown(page: Any, selector: str, attribute: str) -> list[str]:
    return page.eval_on_selector_all(selector, f"els => els.map(e => e.dataset.{attribute})")


def pages_past_the_first_read(page: Any, path: str) -> int:
    """How many pages after the first of the list at ``path`` the console has read."""
    return page.evaluate(
        "(path) => window.keepclear.received.filter(r => r.path.startsWith(path + '?') && r.path.includes('after=')).length",
        path,
    )


def count_is(page: Any, selector: str, n: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll({selector!r}).length === {n}", timeout=10_000)


LISTS = (
    ("activities", "/v1/activities", "#activities-list li", "activity", "#activities-more"),
    ("hotline", "/v1/hotline/threads", "#threads-list li", "thread", "#threads-more"),
    ("record", "/v1/incidents", "#incidents-list li", "incident", "#incidents-more"),
)


def test_the_console_shows_the_first_page_and_loads_more_on_request(service: Service, pages: dict[str, Any]) -> None:
    rt = service.runtime
    notify(service, [f"a-paged-{i}" for i in range(5)])
    now_s = time.time()
    for i in range(5):
        rt.incidents.report("a", time_s=now_s - 60 - i, summary=f"Paged incident {i}", parties=["b"])
    for i in range(4):
        rt.hotline.create_thread("a", ["b"], f"Paged thread {i}")
    b = pages["b"]
    sign_in(b, service.url, service.keys["b-liaison"])
    for tab, path, rows, attribute, more in LISTS:
        first, whole = ids_of_api(service, path)
        assert len(whole) >= 5
        b.click(f"#tab-{tab}")
        count_is(b, rows, 2)
        assert shown(b, rows, attribute) == first  # the first page, in the API's order
        assert pages_past_the_first_read(b, path) == 0, path  # and nothing past it read
        loaded = 2
        while loaded < len(whole):
            b.click(more)
            loaded = min(loaded + 2, len(whole))
            count_is(b, rows, loaded)
        assert shown(b, rows, attribute) == whole
        assert b.locator(more).count() == 0  # the last page: nothing more to load
    assert not b.errors


def test_the_stream_brings_in_items_no_loaded_page_holds(service: Service, pages: dict[str, Any]) -> None:
    rt = service.runtime
    threads = [rt.hotline.create_thread("a", ["b"], f"Old thread {i}").id for i in range(5)]
    notify(service, [f"a-old-{i}" for i in range(3)])
    now_s = time.time()
    for i in range(3):
        rt.incidents.report("a", time_s=now_s - 600 - i, summary=f"Old incident {i}", parties=["b"])
    first_threads, all_threads = ids_of_api(service, "/v1/hotline/threads")
    last = threads[-1]
    assert last not in first_threads and all_threads[-1] == last
    b = pages["b"]
    sign_in(b, service.url, service.keys["b-liaison"])
    b.click("#tab-hotline")
    count_is(b, "#threads-list li", 2)
    assert last not in shown(b, "#threads-list li", "thread")
    unread_before = int(b.inner_text("#unread") or 0)

    post(service, last, "Message in a thread not loaded")
    b.wait_for_selector(f'#threads-list li[data-thread="{last}"] .count', timeout=10_000)
    assert b.inner_text(f'#threads-list li[data-thread="{last}"] .count') == "1"
    assert b.inner_text("#unread") == str(unread_before + 1)  # the badge counts it
    assert shown(b, "#threads-list li", "thread")[0] == last  # on top: it came live
    b.click(f'#threads-list li[data-thread="{last}"] button')
    b.wait_for_selector("#messages .msg", timeout=10_000)
    assert "Message in a thread not loaded" in b.inner_text("#messages")

    new = rt.hotline.create_thread("a", ["b"], "A thread opened now").id  # the last of the list
    post(service, new, "First words in a new thread")
    b.wait_for_selector(f'#threads-list li[data-thread="{new}"]', timeout=10_000)
    # Loading every page shows each thread once: those that came live are not repeated.
    while b.locator("#threads-more").count():
        b.click("#threads-more")
        b.wait_for_timeout(200)
    count_is(b, "#threads-list li", len(all_threads) + 1)
    assert sorted(shown(b, "#threads-list li", "thread")) == sorted([*all_threads, new])

    b.click("#tab-activities")
    count_is(b, "#activities-list li", 2)
    notify(service, ["a-zz-notified-now"])  # sorts after every loaded page (the list is by id)
    b.wait_for_selector('#activities-list li[data-activity="a-zz-notified-now"]', timeout=10_000)
    count_is(b, "#activities-list li", 3)

    b.click("#tab-record")
    count_is(b, "#incidents-list li", 2)
    opened = rt.incidents.report("a", time_s=time.time() - 1, summary="Reported now", parties=["b"])
    b.wait_for_selector(f'#incidents-list li[data-incident="{opened.id}"]', timeout=10_000)
    count_is(b, "#incidents-list li", 3)
    assert not b.errors


def test_the_items_brought_in_live_are_bounded_the_latest_kept(service: Service, pages: dict[str, Any]) -> None:
    """Others posting into thousands of a party's threads brought each one in on top of its list, for
    the session: ``PagedList`` keeps the latest ``LIVE_ITEMS_MAX`` (pages.js, run in the browser)."""
    b = pages["b"]
    b.goto(service.url)
    held = b.evaluate(
        """async () => {
            const { PagedList, LIVE_ITEMS_MAX } = await import("/static/js/pages.js");
            const list = new PagedList(async () => ({ ok: true, data: [], next: null }),
                                       async (id) => ({ ok: true, status: 200, data: { name: id } }));
            await list.reload();
            for (let k = 0; k < LIVE_ITEMS_MAX + 50; k += 1) await list.bringIn([`t-${k}`]);
            return { max: LIVE_ITEMS_MAX, ids: list.items.map((i) => i.id) };
        }"""
    )
    assert len(held["ids"]) == held["max"] == 200
    assert held["ids"][:2] == ["t-249", "t-248"] and held["ids"][-1] == "t-50"  # the latest, latest first
    assert not b.errors


def badge_is(page: Any, text: str) -> None:
    page.wait_for_function(f"() => document.getElementById('unread').textContent === {text!r}", timeout=10_000)


def test_the_unread_badge_counts_threads_no_loaded_page_holds(service: Service, pages: dict[str, Any]) -> None:
    """The badge summed the threads the console held: unread messages in a thread beyond the loaded
    pages, posted before the liaison signed in, were not counted until it loaded that page. It shows
    the server's total (``GET /v1/hotline/unread``), kept current as messages come and are read."""
    rt = service.runtime
    threads = [rt.hotline.create_thread("a", ["b"], f"Far thread {i}").id for i in range(5)]
    first_threads, _ = ids_of_api(service, "/v1/hotline/threads")
    far = threads[-1]
    assert far not in first_threads
    post(service, far, "Unread beyond the first page")
    post(service, far, "And a second")
    b = pages["b"]
    sign_in(b, service.url, service.keys["b-liaison"])
    badge_is(b, "2")
    assert b.get_attribute("#unread", "aria-label") == "непрочитанных: 2, веток с ними: 1"  # b reads Russian
    b.click("#tab-hotline")
    count_is(b, "#threads-list li", 2)
    assert far not in shown(b, "#threads-list li", "thread")
    assert pages_past_the_first_read(b, "/v1/hotline/threads") == 0

    rt.hotline.mark_read("b", "Bravo duty officer", far, 1)  # another console of b's reads one
    badge_is(b, "1")
    rt.hotline.mark_read("b", "Bravo duty officer", far, 2)
    badge_is(b, "")
    post(service, threads[-2], "A message in another thread not loaded")
    badge_is(b, "1")
    assert not b.errors
