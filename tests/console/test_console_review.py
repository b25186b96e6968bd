"""The console for a twelve-hour shift: zones as drawn on the agreed map (circles), resolved alerts kept
for review, one's own activities amended, started and completed, the open thread marked, and nothing
clipped at 1280×800."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from consolesupport import Service, shot, sign_in
from test_api_activities import air_operation  # tests/api is on the path (consolesupport)
from test_console_browser import feed, report


def test_a_point_and_radius_zone_is_drawn_as_its_circle(service: Service, pages: dict[str, Any]) -> None:
    page = pages["a"]
    sign_in(page, service.url, service.keys["a-liaison"])
    page.wait_for_function("() => window.keepclear.app.map.map.querySourceFeatures('zones').length > 0")
    circles = page.evaluate(
        """() => window.keepclear.app.map.map.querySourceFeatures('zones')
             .filter(f => f.properties.circle && f.geometry.type === 'Polygon').map(f => f.properties.name)"""
    )
    assert "al-Tanf 55 km zone" in circles
    # 55 km from the centre: the circle's edge, not a marker, is what the map shows.
    span_deg = page.evaluate(
        """() => { const f = window.keepclear.app.map.map.querySourceFeatures('zones')
             .find(f => f.properties.circle && f.properties.name.startsWith('al-Tanf'));
             const lats = f.geometry.coordinates[0].map(c => c[1]); return Math.max(...lats) - Math.min(...lats); }"""
    )
    assert 0.9 < span_deg < 1.1, span_deg  # 110 km of latitude
    with httpx.Client(base_url=service.url) as client:
        icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert page.get_attribute("link[rel=icon]", "href") == "/static/favicon.svg"
    assert "NM" in (page.text_content("#scalebar") or "") and "nm" not in (page.text_content("#scalebar") or "")


def test_a_resolved_alert_stays_listed_for_review_and_shows_on_the_map(service: Service, pages: dict[str, Any]) -> None:
    page = pages["a"]
    sign_in(page, service.url, service.keys["a-liaison"])
    stop = threading.Event()
    apart = threading.Event()

    def run() -> None:  # head-on, then b's aircraft is suddenly far away: the alert resolves
        started = time.monotonic()
        while not stop.is_set():
            shift = 250.0 * (time.monotonic() - started) / 91_000
            feed(service, "a", [report("ua", 35.0, 38.0 + shift, 6000.0, 250.0)])
            where = (33.0, 44.0) if apart.is_set() else (35.0, 38.45 - shift)
            feed(service, "b", [report("ub", *where, 6000.0, -250.0)])
            stop.wait(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        page.wait_for_selector("#alerts-body article.alert", timeout=15_000)
        alert_id = page.get_attribute("#alerts-body article.alert", "data-alert")
        # The alert's ring sits at the unit's latest position, moving with its track.
        page.wait_for_function(
            """async () => { const app = window.keepclear.app;
                 const data = await app.map.map.getSource('alerts').getData();
                 const rings = data.features.filter(f => f.properties.part === 'unit');
                 const track = app.tracks.find(s => s.unit_id === 'ua');
                 const raisedAt = app.alerts.alerts[0]?.positions?.ua;
                 return track && raisedAt && track.lon_deg !== raisedAt.lon_deg
                   && rings.some(r => r.geometry.coordinates[0] === track.lon_deg && r.geometry.coordinates[1] === track.lat_deg); }""",
            timeout=10_000,
        )
        apart.set()
        page.wait_for_selector(f"#resolved-alerts li[data-alert='{alert_id}']", state="attached", timeout=20_000)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert page.locator("#alerts-body article.alert").count() == 0
    page.click("#resolved-alerts summary")
    page.click(f"#resolved-alerts li[data-alert='{alert_id}'] button.review")
    page.wait_for_function(
        "(id) => window.keepclear.app.map.map.querySourceFeatures('alerts').some(f => f.properties.alert_id === id)",
        arg=alert_id,
        timeout=5_000,
    )
    shot(page, "40-resolved-alert-review")
    assert page.errors == []


def test_own_activity_is_amended_started_and_completed_from_the_console(
    service: Service, pages: dict[str, Any]
) -> None:
    with service.client("a-liaison") as client:
        notified = client.post("/v1/activities", json=air_operation(start_h=30.0, text="CAP north of Raqqa"))
    assert notified.status_code == 201, notified.text
    activity_id = notified.json()["activity"]["id"]
    a = pages["a"]
    sign_in(a, service.url, service.keys["a-liaison"])
    row = a.locator(f'#activities-list li[data-activity="{activity_id}"]')
    row.wait_for(timeout=5_000)
    assert row.text_content().startswith("air operation · CAP north of Raqqa")  # kind and label, not the id
    row.locator("button").click()
    a.click("#activity-amend")
    a.fill('#amend-form input[name="text"]', "CAP north of Raqqa, two ships")
    a.fill('#amend-form input[name="upper_ft"]', "25000")
    a.click("#amend-form button[type=submit]")
    a.locator("section.detail", has_text="version 2").wait_for(timeout=10_000)
    a.click("#activity-activate")
    a.locator("section.detail", has_text="version 2 · active").wait_for(timeout=10_000)
    a.click("#activity-complete")
    a.locator("section.detail", has_text="version 2 · completed").wait_for(timeout=10_000)
    with service.client("a-liaison") as client:
        stored = client.get(f"/v1/activities/{activity_id}").json()
    assert stored["version"] == 2 and stored["status"] == "completed"
    assert stored["text"] == "CAP north of Raqqa, two ships" and stored["volumes"][0]["upper_ft"] == 25000
    shot(a, "41-activity-completed")

    # The open hotline thread is marked, and nothing sticks out of the 1280×800 window.
    a.click("#tab-hotline")
    a.locator("#threads-list li button").first.click()
    a.wait_for_selector("#threads-list button[aria-current=true]", timeout=5_000)
    marked = a.evaluate(
        "() => getComputedStyle(document.querySelector('#threads-list button[aria-current=true]')).boxShadow"
    )
    assert marked and marked != "none"
    for tab in ("activities", "hotline", "units", "record"):
        a.click(f"#tab-{tab}")
        clipped = a.evaluate(
            """() => [document.documentElement, ...document.querySelectorAll('#topbar, #side, #side *')]
                 .filter(e => e.offsetParent !== null || e === document.documentElement)
                 .filter(e => getComputedStyle(e).overflowX !== 'auto' && e.scrollWidth > e.clientWidth + 1)
                 .map(e => e.id || e.className || e.tagName)"""
        )
        assert clipped == [], (tab, clipped)
    assert a.errors == []
