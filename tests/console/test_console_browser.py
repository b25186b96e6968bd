"""The console in a real browser (Debian chromium via Playwright) against a real keepclear server.

Two parties, a and b, are signed in in two browser contexts. Screenshots of every step are kept
under test-artifacts/console/. Nothing is skipped: every route the console reads is on the server.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from consolesupport import (
    DroppingProxy,
    Service,
    colour_counts,
    feed,
    ids_in,
    received,
    shot,
    sign_in,
)

A_UNITS = {"ua", "ua-partner", "ALPHA1", "ALPHA2"}
B_UNITS = {"ub", "BRAVO1"}


def now_iso(offset_s: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_s))


def report(
    unit_id: str, lat_deg: float, lon_deg: float, alt_m: float, east_mps: float, north_mps: float = 0.0
) -> dict[str, Any]:
    return {
        "unit_id": unit_id, "time": now_iso(), "lat_deg": lat_deg, "lon_deg": lon_deg, "alt_m": alt_m,
        "vel_east_mps": east_mps, "vel_north_mps": north_mps, "vel_up_mps": 0.0,
    }  # fmt: skip


@contextmanager
def feeding(
    service: Service, stop_after_s: float = 60.0, *, converging: bool, parties: tuple[str, ...] = ("a", "b")
) -> Iterator[None]:
    """The parties' feeds report every 0.5 s. Converging: a's aircraft flies east toward b's flying west,
    co-altitude, 25 NM apart (a conflict); otherwise b's aircraft is some 500 km away over Iraq."""
    stop = threading.Event()
    b_lat, b_lon = (35.0, 38.45) if converging else (33.0, 44.0)

    def run() -> None:
        started = time.monotonic()
        while not stop.is_set() and time.monotonic() - started < stop_after_s:
            t = time.monotonic() - started
            shift_deg = 250.0 * t / (111_320 * math.cos(math.radians(35.0)))
            if "a" in parties:
                feed(
                    service,
                    "a",
                    [report("ua", 35.0, 38.0 + shift_deg, 6000.0, 250.0), report("ua-partner", 35.9, 39.0, 300.0, 0.0)],
                )
            if "b" in parties:
                feed(service, "b", [report("ub", b_lat, b_lon - shift_deg, 6000.0, -250.0)])
            stop.wait(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def watch_for(page: Any, selector: str) -> None:
    """Record in the page (window.firstSeen, epoch ms) when an element matching ``selector`` first appears."""
    page.evaluate(
        """(selector) => { window.firstSeen = null; new MutationObserver((_, observer) => {
             if (document.querySelector(selector)) { window.firstSeen = Date.now(); observer.disconnect(); }
           }).observe(document.body, {subtree: true, childList: true}); }""",
        selector,
    )


def add_unit(service: Service, unit_id: str, callsign: str, force_id: str = "fa") -> None:
    with service.client("admin") as client:
        response = client.post(
            "/v1/units",
            json={"id": unit_id, "callsign": callsign, "domain": "air", "kind": "uav", "force_id": force_id},
        )
    assert response.status_code == 201, response.text


def units_listed(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("#units-list li", "els => els.map(e => e.dataset.unit)"))


MAP_CLIP = (0, 50, 880, 700)  # the map area at 1280×800, left of the side bar


def test_basemap_and_zones_render_in_pixels(service: Service, pages: dict[str, Any]) -> None:
    page = pages["a"]
    sign_in(page, service.url, service.keys["a-liaison"])
    page.wait_for_function(
        "() => window.keepclear.app.map.map.loaded() && window.keepclear.app.map.map.areTilesLoaded()"
    )
    page.wait_for_timeout(800)  # let label placement settle
    png = shot(page, "01-basemap-and-zones")
    counts = colour_counts(
        page, png, MAP_CLIP,
        {
            "sea": "#0f2233", "land": "#1e2a22", "river": "#3b8fd0", "place-label": "#e8e6d9",
            "deconfliction-line": "#ffb000", "restricted-zone": "#e0409a", "protected-site": "#33d17a",
        },
    )  # fmt: skip
    assert counts["sea"] > 20_000, counts  # the Mediterranean
    assert counts["land"] > 100_000, counts
    assert counts["river"] > 500, counts  # the Euphrates and the Tigris
    assert counts["place-label"] > 300, counts  # place dots and their names drawn with the local font
    assert counts["deconfliction-line"] > 300, counts  # the Euphrates deconfliction line
    assert counts["restricted-zone"] > 20 and counts["protected-site"] > 20, counts
    names = page.evaluate(
        "() => window.keepclear.app.map.map.queryRenderedFeatures({layers: ['zones-label']}).map(f => f.properties.name)"
    )
    assert "Euphrates deconfliction line (illustrative)" in names  # zones are labelled with their names
    assert page.errors == []


def test_an_unchanged_picture_does_not_set_the_maps_sources_again(service: Service, pages: dict[str, Any]) -> None:
    """The picture comes after every probe tick (0.2 s here); while nothing moves the map is not given
    the same features again (each setting made it work the source out again: a busy machine never settled)."""
    page = pages["a"]
    sign_in(page, service.url, service.keys["a-liaison"])
    page.evaluate(
        """() => { window.sets = 0; for (const name of ["tracks", "leaders", "alerts"]) {
             const source = window.keepclear.app.map.source(name); const set = source.setData.bind(source);
             source.setData = (data) => { window.sets += 1; return set(data); }; } }"""
    )

    def pictures() -> int:
        return sum(1 for r in received(page) if r["path"] == "/v1/stream" and r["body"]["kind"] == "tracks.picture")

    before = pictures()
    page.wait_for_timeout(2_000)
    assert pictures() - before >= 3  # pictures came, the same each time
    assert page.evaluate("() => window.sets") == 0
    assert page.errors == []


def test_a_party_never_receives_the_other_partys_units(service: Service, pages: dict[str, Any]) -> None:
    with feeding(service, stop_after_s=8, converging=False):
        for party in ("a", "b"):
            sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
        time.sleep(4.5)  # several track polls and stream events
    shot(pages["a"], "02-need-to-know-a")
    shot(pages["b"], "02-need-to-know-b")
    seen_a = ids_in(received(pages["a"]))
    seen_b = ids_in(received(pages["b"]))
    assert {"ua", "ALPHA1", "ua-partner"} <= seen_a and not (B_UNITS & seen_a), seen_a
    assert {"ub", "BRAVO1"} <= seen_b and not (A_UNITS & seen_b), seen_b
    assert units_listed(pages["b"]) == {"ub"}
    for party, others in (("a", B_UNITS), ("b", A_UNITS)):
        on_map = pages[party].evaluate(
            "() => window.keepclear.app.map.map.querySourceFeatures('tracks').flatMap(f => [f.properties.unit_id, f.properties.callsign])"
        )
        assert not (others & set(on_map)), (party, on_map)


def test_live_stream_shows_a_new_unit_without_reload(service: Service, pages: dict[str, Any]) -> None:
    for party in ("a", "b"):
        sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
        pages[party].evaluate("() => { window.notReloaded = true; }")
    add_unit(service, "ua-live", "ALPHA-LIVE")
    pages["a"].click("#tab-units")
    pages["a"].wait_for_selector('#units-list li[data-unit="ua-live"]', timeout=5_000)
    shot(pages["a"], "03-live-update-a")
    assert pages["a"].evaluate("() => window.notReloaded") is True
    time.sleep(0.5)
    assert "ua-live" not in units_listed(pages["b"])
    assert "ua-live" not in ids_in(received(pages["b"]))
    _alerts_visible_with_every_tab(pages["b"], "06-layout-1280")  # the default viewport


def test_console_reconnects_and_catches_up_after_a_network_drop(service: Service, pages: dict[str, Any]) -> None:
    proxy = DroppingProxy(int(service.url.rsplit(":", 1)[1]))
    try:
        page = pages["a"]
        sign_in(page, proxy.url, service.keys["a-liaison"])
        page.click("#tab-units")
        proxy.refusing.set()
        proxy.drop()
        page.wait_for_selector("body[data-live=down]", timeout=10_000)
        add_unit(service, "ua-missed", "ALPHA-MISSED")  # happens while the console is cut off
        shot(page, "04-connection-lost")
        assert "ua-missed" not in units_listed(page)
        proxy.refusing.clear()
        page.wait_for_selector("body[data-live=live]", timeout=15_000)
        page.wait_for_selector('#units-list li[data-unit="ua-missed"]', timeout=5_000)
        shot(page, "05-reconnected")
    finally:
        proxy.close()


@pytest.mark.viewport(1920, 1080)
def test_alerts_stay_visible_over_other_panels_at_full_hd(service: Service, pages: dict[str, Any]) -> None:
    page = pages["a"]
    sign_in(page, service.url, service.keys["a-liaison"])
    _alerts_visible_with_every_tab(page, "06-layout-1920")
    # The time control: looking back 30 minutes shows that time.
    page.fill("#lookback", "-30")  # sets the value and fires one input event
    page.locator("#lookback-value", has_text=re.compile(r"\d\d:\d\d:\d\dZ \(-30 min\)")).wait_for(timeout=15_000)
    shot(page, "07-time-control")


def _alerts_visible_with_every_tab(page: Any, name: str) -> None:
    viewport = page.viewport_size
    for tab in ("activities", "hotline", "units", "record"):
        page.click(f"#tab-{tab}")
        box = page.locator("#alerts").bounding_box()
        assert box and box["height"] > 40 and box["y"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        top = page.evaluate(
            "() => { const r = document.getElementById('alerts').getBoundingClientRect(); const el = document.elementFromPoint(r.x + 20, r.y + 15); return el.closest('#alerts') !== null; }"
        )
        assert top, f"something covers the alerts with the {tab} tab open"
    # Keyboard: Tab reaches the panel tabs and arrows move between them.
    page.focus("#tab-activities")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.id") == "tab-hotline"
    assert page.get_attribute("#tab-hotline", "aria-selected") == "true"
    shot(page, name)


def test_a_feed_key_is_refused_at_sign_in(service: Service, pages: dict[str, Any]) -> None:
    page = pages["a"]
    page.goto(service.url + "/")
    page.fill("#key", service.keys["a-feed"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('cannot use the console')", timeout=5_000)
    page.fill("#key", "kc_nonsense_key")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('refused')", timeout=5_000)
    shot(page, "07-sign-in-refused")


def test_units_are_drawn_as_symbols_with_callsigns(service: Service, pages: dict[str, Any]) -> None:
    with feeding(service, stop_after_s=10, converging=False, parties=("a",)):
        page = pages["a"]
        sign_in(page, service.url, service.keys["a-liaison"])
        page.wait_for_function(
            "() => window.keepclear.app.map.map.querySourceFeatures('tracks').some(f => f.properties.callsign === 'ALPHA1')",
            timeout=10_000,
        )
        shown = page.evaluate(
            "() => window.keepclear.app.map.map.querySourceFeatures('tracks').map(f => [f.properties.callsign, f.properties.icon])"
        )
        shot(page, "08-unit-symbols")
    callsigns = {c for c, _ in shown}
    assert {"ALPHA1", "ALPHA2"} <= callsigns and "BRAVO1" not in callsigns
    assert all(icon and icon.startswith("sym-SF") for c, icon in shown if c.startswith("ALPHA"))


def test_a_conflict_alerts_both_consoles_and_acknowledgement_shows_on_the_other(
    service: Service, pages: dict[str, Any]
) -> None:
    for party in ("a", "b"):
        sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
    for party in ("a", "b"):
        watch_for(pages[party], "#alerts-body article.alert")
    with feeding(service, stop_after_s=30, converging=True):
        first_report_s = time.time()
        for party in ("a", "b"):
            pages[party].wait_for_selector("#alerts-body article.alert", timeout=15_000)
        shot(pages["a"], "09-alert-raised-a")
        shot(pages["b"], "09-alert-raised-b")
        pages["a"].click("#alerts-body article.alert button.ack")
        pages["b"].wait_for_selector("#alerts-body article.alert .acked-by:has-text('Alpha')", timeout=5_000)
        shot(pages["b"], "10-alert-acknowledged-seen-by-b")
        # While the alert lasts, a's picture gets b's unit (the tracks poll, every 2 s, lists it).
        deadline_s = time.monotonic() + 10.0
        while not (B_UNITS & ids_in(received(pages["a"]))) and time.monotonic() < deadline_s:
            time.sleep(0.2)
    for party in ("a", "b"):
        # When the page itself first showed it (Playwright's own polling is slow under software WebGL).
        shown_s = pages[party].evaluate("() => window.firstSeen") / 1000.0
        assert shown_s - first_report_s < 2.0, (
            f"{party}: alert shown {shown_s - first_report_s:.2f} s after the conflicting reports"
        )
    assert B_UNITS & ids_in(received(pages["a"])), "the alert gives a the other party's unit"


def test_a_hotline_phrase_reaches_the_other_party_in_its_language(service: Service, pages: dict[str, Any]) -> None:
    with service.client("a-liaison") as client:
        created = client.post("/v1/hotline/threads", json={"title": "Console test", "parties": ["b"]})
        assert created.status_code == 201, created.text
        thread_id = created.json()["id"]
        en = client.get("/v1/hotline/phrases", params={"language": "en"}).json()
    with service.client("b-liaison") as client:
        ru = {p["code"]: p["text"] for p in client.get("/v1/hotline/phrases", params={"language": "ru"}).json()}
        assert client.get("/v1/me").json()["party_id"] == "b"
    phrase = next(p for p in en if not p["parameters"])
    assert ru[phrase["code"]] != phrase["text"], "the test needs a phrase worded differently in Russian"
    for party in ("a", "b"):
        sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
        pages[party].click("#tab-hotline")
        pages[party].click(f'#threads-list li[data-thread="{thread_id}"] button')
    pages["a"].select_option("#hotline-phrase", phrase["code"])
    # The chosen phrase is spelt out in full under the list (an option is cut to the list's width).
    assert phrase["text"] in (pages["a"].text_content("#phrase-help") or "")
    pages["a"].check('#hotline-form input[name="needs_ack"]')
    pages["a"].click("#hotline-form button[type=submit]")
    pages["a"].wait_for_selector(f"#messages .msg.own .text:has-text({phrase['text']!r})", timeout=5_000)
    received_b = pages["b"].locator("#messages .msg.needs-ack .text", has_text=ru[phrase["code"]])
    received_b.wait_for(timeout=5_000)  # in b's language, outlined as needing acknowledgement
    # b reads Russian (its party's language): the deadline is worded so.
    assert pages["b"].locator("#messages .msg.needs-ack .deadline", has_text="подтвердить в течение").count() == 1
    # b has the thread open, so it has read the message: a sees the read receipt.
    pages["a"].wait_for_selector("#messages .msg.own .receipts:has-text('read by')", timeout=5_000)
    shot(pages["b"], "11-hotline-received-b")
    pages["b"].click("#messages .msg.needs-ack button.ack-msg")
    pages["b"].wait_for_selector("#messages .msg.needs-ack", state="detached", timeout=5_000)
    pages["a"].wait_for_selector("#messages .msg .meta:has-text('acknowledgement')", timeout=5_000)
    shot(pages["a"], "11-hotline-sent-a")
    assert pages["a"].errors == [] and pages["b"].errors == []


def test_an_activity_drawn_on_one_console_is_acknowledged_on_the_other(service: Service, pages: dict[str, Any]) -> None:
    a, b = pages["a"], pages["b"]
    for party in ("a", "b"):
        sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
        pages[party].click("#tab-activities")
    a.click("#notify-polygon")
    for point in ("35.20, 38.90", "35.20, 39.20", "35.40, 39.05"):  # typed vertices (keyboard entry)
        a.fill("#draft-point", point)
        a.press("#draft-point", "Enter")
    a.click("#draft-finish")
    a.fill('#activity-form input[name="contact"]', "Alpha duty officer, hotline")
    a.fill('#activity-form input[name="text"]', "Console test sortie")
    a.click("#activity-form button[type=submit]")
    a.wait_for_selector("#activities-list li", timeout=5_000)
    activity_id = a.get_attribute("#activities-list li", "data-activity")
    b.wait_for_selector(f'#activities-list li[data-activity="{activity_id}"]', timeout=5_000)  # live, no reload
    b.click(f'#activities-list li[data-activity="{activity_id}"] button')
    b.wait_for_selector("section.detail:has-text('Ваш ответ: ожидается')", timeout=10_000)  # b reads Russian
    b.click("section.detail button:has-text('Подтвердить')")
    b.wait_for_selector("section.detail:has-text('Ваш ответ: подтверждено')", timeout=5_000)
    a.wait_for_selector('section.detail tr[data-party="b"] td.status-acknowledged', timeout=10_000)
    shot(a, "12-activity-acknowledged-seen-by-a")
    drawn = a.evaluate("() => window.keepclear.app.map.map.querySourceFeatures('activities').map(f => f.properties.id)")
    assert activity_id in drawn
    with service.client("a-liaison") as client:
        stored = client.get(f"/v1/activities/{activity_id}").json()
    assert stored["volumes"][0]["geometry"]["coordinates"][0][0] == [38.9, 35.2]
    assert stored["contact"] == "Alpha duty officer, hotline" and stored["acknowledged"] == ["b"]
    assert a.errors == [] and b.errors == []


def test_console_files_are_served_with_their_types(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        index = client.get("/")
        assert index.status_code == 200 and "text/html" in index.headers["content-type"]
        assert "script-src 'self'" in index.headers["content-security-policy"]
        for path, kind in (
            ("/static/js/api.js", "text/javascript"),
            ("/static/vendor/maplibre-gl/maplibre-gl.mjs", "text/javascript"),
            ("/static/basemap/rivers.geojson", "application/geo+json"),
            ("/static/fonts/DejaVuSans.ttf", "font/ttf"),
        ):
            response = client.get(path)
            assert response.status_code == 200 and response.headers["content-type"].startswith(kind), path
        for bad in ("/static/../router.py", "/static/%2e%2e/router.py", "/static/js/nothing.js", "/static/index.html"):
            assert client.get(bad).status_code == 404, bad


def _recorded(service: Service, activity_id: str, target: tuple[str, str], count: int) -> None:
    """``count`` more conflicts found by ``activity_id`` (version 1) against ``target`` (party, id)."""
    from apisupport import bulk_conflicts

    found = [(target[1], time.time())] * count
    bulk_conflicts(service, found, recorder=activity_id, target_party_id=target[0])


def test_an_activity_overlapped_past_the_views_bound_says_how_many_in_all(
    service: Service, pages: dict[str, Any]
) -> None:
    """``overlapped_by`` holds the 100 most recently found (``activity_view_max_overlaps``): the
    detail says how many more there are, from ``overlapped_by_total``."""
    from test_list_paging import notify

    notify(service, "a", ["a-overlapped"])
    notify(service, "b", ["b-overlapping"])  # one overlap, found now
    _recorded(service, "b-overlapping", ("a", "a-overlapped"), 150)
    a = pages["a"]
    sign_in(a, service.url, service.keys["a-liaison"])
    a.click("#tab-activities")
    a.click('#activities-list li[data-activity="a-overlapped"] button')
    a.wait_for_selector("section.detail p.overlapped:has-text('and 51 more (151 in all)')", timeout=10_000)
    assert a.errors == []


def test_an_activity_whose_check_found_past_the_views_bound_says_how_many_in_all(
    service: Service, pages: dict[str, Any]
) -> None:
    """``conflicts`` holds the first 100 its check found (``activity_view_max_conflicts``): the
    detail says how many more there are, from ``conflicts_total``."""
    from test_list_paging import notify

    notify(service, "b", ["b-overlapped"])
    notify(service, "a", ["a-conflicting"])  # a conflict with each of b's activities (this module's), found now
    _recorded(service, "a-conflicting", ("b", "b-overlapped"), 150)
    a = pages["a"]
    sign_in(a, service.url, service.keys["a-liaison"])
    a.click("#tab-activities")
    with service.client("a-liaison") as client:
        total = client.get("/v1/activities/a-conflicting").json()["conflicts_total"]
    assert total > 150
    a.click('#activities-list li[data-activity="a-conflicting"] button')
    more = f"and {total - 100} more ({total} in all)"
    a.wait_for_selector(f"section.detail p.error:not(.overlapped):has-text('{more}')", timeout=10_000)
    assert a.errors == []


def test_an_overlap_told_on_the_stream_brings_in_ones_own_activity_past_the_loaded_page(
    service: Service, pages: dict[str, Any]
) -> None:
    """A conflict event (``activity.conflict`` version 2) names the overlapped activities of the party
    told in ``payload.conflicts``: b's console shows its own overlapped activity at once though it lies
    past the first page it loaded (100 items), without a reload."""
    from test_list_paging import document

    from keepclear.geo.activity_doc import activities_from_documents

    fillers = [document(f"b-fill-{i:03d}", "ub", ["a"], start_h=80.0) for i in range(110)]  # nothing overlaps them
    overlapped = document("b-zz-overlapped", "ub", ["a"], start_h=30.0)
    service.runtime.activities.notify_many(
        activities_from_documents([*fillers, overlapped], party_id="b", max_problems_listed=50)
    )
    b = pages["b"]
    sign_in(b, service.url, service.keys["b-liaison"])
    b.click("#tab-activities")
    b.wait_for_selector("#activities-list li", timeout=10_000)
    assert b.query_selector('#activities-list li[data-activity="b-zz-overlapped"]') is None  # past the page
    with service.client("a-liaison") as a:
        answer = a.post("/v1/activities", json=document("a-over-b", "ua", ["b"], start_h=30.0))
    assert answer.status_code == 201 and answer.json()["conflicts_total"] >= 1, answer.text
    b.wait_for_selector('#activities-list li[data-activity="b-zz-overlapped"]', timeout=10_000)
    assert b.errors == []
