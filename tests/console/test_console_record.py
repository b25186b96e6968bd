"""The console's Record panel in a real browser: incidents, accounts, need-to-know, the verifiable export."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from consolesupport import Service, received, shot, sign_in

from keepclear.domain import Party
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.ledger.verify import load_export, verify_document
from keepclear.store import incidents as store


def test_an_incident_and_an_account_reach_the_involved_parties_only(
    service: Service, pages: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    service.deployment.registry.add_party(Party("c", "Charlie"), [Contact("Charlie duty officer")])
    c_key = service.deployment.keys.create(Role.LIAISON, "c", "c liaison")[1]
    a, b = pages["a"], pages["b"]
    sign_in(a, service.url, service.keys["a-liaison"])
    sign_in(b, service.url, service.keys["b-liaison"])
    a.click("#tab-record")
    b.click("#tab-record")

    incident = service.runtime.incidents.report(
        "a", time_s=time.time() - 120, summary="ALPHA1 and BRAVO1 passed within 300 m", unit_ids=["ua"], parties=["b"]
    )
    row = f"#incidents-list li[data-incident='{incident.id}']"
    a.locator(row).wait_for(timeout=5_000)  # arrives live, from incident.opened
    a.click(f"{row} button")
    a.fill("#account-text", "ALPHA1 held FL250 on the agreed corridor.")
    a.click("#account-form button[type=submit]")
    a.locator("#accounts li[data-party='a']", has_text="held FL250").wait_for(timeout=5_000)

    b.locator(row).wait_for(timeout=5_000)
    b.click(f"{row} button")
    b.locator("#accounts li[data-party='a']", has_text="held FL250").wait_for(timeout=5_000)
    # Bravo may add its own account but cannot amend Alpha's: its form offers only a new account.
    assert b.locator("#account-amends option").count() == 1
    b.select_option("#review-status", "under-review")
    b.click("#review-set")
    a.locator(f"{row} .review-under-review").wait_for(timeout=5_000)
    shot(b, "10-record-other-party")

    with a.expect_download() as download:
        a.click("#record-download")
    saved = tmp_path / "record.json"
    download.value.save_as(saved)
    report = verify_document(load_export(saved))
    assert report.ok, report.summary()
    shot(a, "11-record")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        c = context.new_page()
        sign_in(c, service.url, c_key)
        c.click("#tab-record")
        c.locator("#record-empty").wait_for(timeout=5_000)
        assert incident.id not in str(received(c))
    finally:
        context.close()


def test_an_incidents_long_timeline_says_how_much_of_it_is_shown(service: Service, pages: dict[str, Any]) -> None:
    """``GET /v1/incidents/{id}`` carries the earliest ``incident_view_max_timeline_items`` (500) items
    of a timeline others made long: the detail says it shows the first 500 of how many."""
    a = pages["a"]
    sign_in(a, service.url, service.keys["a-liaison"])
    a.click("#tab-record")
    incident = service.runtime.incidents.report("a", time_s=time.time() - 120, summary="long encounter", parties=["b"])
    items: list[tuple[float, str, str | None, dict[str, Any]]] = [
        (time.time() - 100 + k / 100, "alert.updated", None, {"n": k}) for k in range(620)
    ]
    with service.deployment.db.write() as conn:
        store.append_timeline_items(conn, incident.id, items)
    row = f"#incidents-list li[data-incident='{incident.id}']"
    a.locator(row).wait_for(timeout=5_000)
    a.click(f"{row} button")
    summary = a.locator("#incident-detail details summary")
    summary.wait_for(timeout=5_000)
    assert summary.inner_text() == "Timeline (the first 500 of 620)"
    summary.click()
    assert a.locator("#incident-detail details li").count() == 500
