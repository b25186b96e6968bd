"""The console end to end in Russian for party b (whose party language is ``ru``): an alert, a hotline
exchange and an incident, with keepclear's own notices worded in Russian too; a (English) meanwhile
reads English."""

from __future__ import annotations

import json
import time
from typing import Any

from consolesupport import Service, shot, sign_in
from test_console_browser import feeding

from keepclear.console.router import static_root
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.incidents import IncidentKind

I18N = static_root() / "i18n"
EN = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
RU = json.loads((I18N / "ru.json").read_text(encoding="utf-8"))


def english_left(text: str) -> list[str]:
    """The English interface phrases (two words or more, no parameters, worded otherwise in Russian) in ``text``."""
    return sorted(en for key, en in EN.items() if " " in en and "{" not in en and RU[key] != en and en in text)


def test_the_russian_party_reads_an_alert_a_hotline_exchange_and_an_incident_in_russian(
    service: Service, pages: dict[str, Any]
) -> None:
    a, b = pages["a"], pages["b"]
    for party in ("a", "b"):
        sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
    assert b.evaluate("() => document.documentElement.lang") == "ru"
    assert b.text_content("#tab-activities") == "Мероприятия" and a.text_content("#tab-activities") == "Activities"
    assert "мор. миль" in (b.text_content("#scalebar") or "") and " NM" in (a.text_content("#scalebar") or "")
    place_names = "() => JSON.stringify(window.keepclear.app.map.map.getLayoutProperty('place-labels', 'text-field'))"
    assert "Дамаск" in b.evaluate(place_names) and "Дамаск" not in a.evaluate(place_names)

    # An alert: level, countdown, buttons and who acknowledged, in Russian.
    with feeding(service, stop_after_s=30, converging=True):
        b.wait_for_selector("#alerts-body article.alert", timeout=15_000)
        level = b.text_content("#alerts-body article.alert .level")
        assert level in {RU["level.advisory"], RU["level.caution"], RU["level.warning"]}, level
        assert b.text_content("#alerts-body article.alert .ttl").startswith("Потеря разделения")
        b.click("#alerts-body article.alert button.ack")
        a.wait_for_selector("#alerts-body article.alert .acked-by:has-text('Acknowledged by Bravo')", timeout=5_000)
        b.wait_for_selector("#alerts-body article.alert .acked-by:has-text('Подтвердили: Bravo')", timeout=5_000)
        shot(b, "30-russian-alert")

    # The hotline: keepclear's notice of the alert, a's phrase, b's acknowledgement, all in Russian for b.
    with service.client("a-liaison") as client:
        thread = next(t for t in client.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"])
    for page in (a, b):
        page.click("#tab-hotline")
        page.click(f'#threads-list li[data-thread="{thread["id"]}"] button')
    notice = b.locator("#messages .msg .text", has_text="Выдано оповещение")
    notice.first.wait_for(timeout=10_000)
    assert "BRAVO1" in (notice.first.text_content() or "")  # b's own unit by its callsign
    a.locator("#messages .msg .text", has_text="alert").first.wait_for(timeout=5_000)  # a reads English
    with service.client("a-liaison") as client:
        phrase = next(
            p for p in client.get("/v1/hotline/phrases", params={"language": "en"}).json() if not p["parameters"]
        )
    with service.client("b-liaison") as client:
        ru_phrases = {p["code"]: p["text"] for p in client.get("/v1/hotline/phrases", params={"language": "ru"}).json()}
    a.select_option("#hotline-phrase", phrase["code"])
    a.check('#hotline-form input[name="needs_ack"]')
    a.click("#hotline-form button[type=submit]")
    b.locator("#messages .msg.needs-ack .text", has_text=ru_phrases[phrase["code"]]).wait_for(timeout=5_000)
    b.click("#messages .msg.needs-ack button.ack-msg")
    b.locator("#messages .msg.own .text", has_text="Подтверждаю.").wait_for(timeout=5_000)
    assert b.locator("#messages .msg.own [data-kind=acknowledgement]").first.text_content() == "подтверждение"
    a.locator("#messages .msg .text", has_text="Acknowledged.").first.wait_for(timeout=5_000)
    shot(b, "31-russian-hotline")

    # An incident: in the record and as keepclear's notice in the standing line.
    incident = service.runtime.incidents.report(
        "a", time_s=time.time() - 60, summary="ALPHA1 and BRAVO1 passed close", unit_ids=["ua"], parties=["b"]
    )
    b.locator("#messages .msg .text", has_text=f"Открыт инцидент {incident.id}").wait_for(timeout=10_000)
    b.click("#tab-record")
    row = b.locator(f"#incidents-list li[data-incident='{incident.id}']")
    row.wait_for(timeout=5_000)
    assert RU["incident_kind.reported"] in (row.text_content() or "") and RU["review.open"] in (
        row.text_content() or ""
    )
    row.locator("button").click()
    b.locator("#incident-detail", has_text="Описаний пока нет.").wait_for(timeout=5_000)
    shot(b, "32-russian-incident")

    # An incident keepclear opens itself (separation lost): its summary is worded for each reader.
    lost = Event(
        EventKind.ALERT_SEPARATION_LOST, time.time() - 30, None,
        {"los": True, "unit_ids": ["ua", "ub"], "parties": ["a", "b"]}, frozenset({"a", "b"}),
    )  # fmt: skip
    service.runtime.deployment.bus.emit(lost)
    auto = next(i for i in service.runtime.incidents.list() if i.kind == IncidentKind.SEPARATION_LOST)
    b.locator(
        f"#incidents-list li[data-incident='{auto.id}']", has_text=RU["record.auto.separation-lost"].split(":")[0]
    ).wait_for(timeout=10_000)
    assert "BRAVO1" in (b.locator(f"#incidents-list li[data-incident='{auto.id}']").text_content() or "")
    a.click("#tab-record")
    a.locator(f"#incidents-list li[data-incident='{auto.id}']", has_text="Separation lost").wait_for(timeout=10_000)

    for tab in ("activities", "hotline", "units", "record"):
        b.click(f"#tab-{tab}")
        shown = b.evaluate("() => document.body.innerText")
        assert english_left(shown) == [], (tab, english_left(shown))
    assert a.errors == [] and b.errors == []


def test_zones_are_named_in_each_readers_language(service: Service, pages: dict[str, Any]) -> None:
    from apisupport import EXAMPLE_ZONES

    original = json.loads(EXAMPLE_ZONES.read_text())
    named = json.loads(EXAMPLE_ZONES.read_text())
    line = next(f for f in named["features"] if f["properties"]["kind"] == "deconfliction-line")
    line["properties"]["names"] = {"ru": "Линия разграничения по Евфрату"}
    # The line alone: two other example zones permit parties this world does not register.
    named["features"] = [line]
    with service.client("admin") as admin:
        assert admin.post("/v1/zones", params={"replace": "true"}, json=named).status_code == 201
    try:
        labels = (
            "() => window.keepclear.app.map.map.queryRenderedFeatures({layers: ['zones-label']})"
            ".map(f => f.properties.label)"
        )
        # Wait for each reader's own label of the line to be placed (the map may keep rendering, so wait
        # for the label rather than for an idle map).
        expected = {"a": line["properties"]["name"], "b": "Линия разграничения по Евфрату"}
        for party in ("a", "b"):
            page = pages[party]
            sign_in(page, service.url, service.keys[f"{party}-liaison"])
            page.wait_for_function(f"() => ({labels})().includes({json.dumps(expected[party])})", timeout=60_000)
        b_labels, a_labels = pages["b"].evaluate(labels), pages["a"].evaluate(labels)
        assert "Линия разграничения по Евфрату" in b_labels, b_labels  # b reads Russian
        assert line["properties"]["name"] in a_labels and "Линия разграничения по Евфрату" not in a_labels
        # A zone without a Russian name keeps its name for b.
        assert any(name == f["properties"]["name"] for f in original["features"] for name in b_labels), b_labels
        assert pages["a"].errors == [] and pages["b"].errors == []
    finally:
        with service.client("admin") as admin:
            was = next(f for f in original["features"] if f["id"] == line["id"])
            admin.post("/v1/zones", params={"replace": "true"}, json={**original, "features": [was]})
