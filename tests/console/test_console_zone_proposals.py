"""The console's zone proposals in a real browser against a real server: a party sees its own (pending
and decided, paged) and never another party's; the admin accepts one and refuses one; a hostile name
is shown as text."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from consolesupport import Service, received, running_service, shot, sign_in

#: Two proposals a page, so three of one party's make a second page.
PAGE_ITEMS = 2
_sources = itertools.count(1)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("proposals") / "data", list_page_items=PAGE_ITEMS) as svc:
        yield svc


def square(lon: float, lat: float, size_deg: float = 0.2) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size_deg, lat], [lon + size_deg, lat + size_deg], [lon, lat + size_deg], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def propose(service: Service, party: str, name: str, geometry: dict[str, Any] | None = None, remarks: str = "") -> str:
    """``party``'s liaison proposes ``name`` (a small square by default); the proposal's id."""
    body = {
        "source": f"drawing-{next(_sources)}",
        "name": name,
        "geometry": geometry or square(38.0, 35.0),
        "remarks": remarks,
    }
    with service.client(f"{party}-liaison") as client:
        response = client.post("/v1/zone-proposals", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def admin_post(service: Service, path: str, body: dict[str, Any]) -> None:
    with service.client("admin") as admin:
        response = admin.post(path, json=body)
    assert response.status_code == 200, response.text


def proposal(service: Service, proposal_id: str) -> dict[str, Any]:
    with service.client("admin") as admin:
        response = admin.get(f"/v1/zone-proposals/{proposal_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def sign_in_admin(page: Any, url: str, key: str) -> None:
    """Sign in with the admin key: the console loads without a live stream (the admin's key has none)."""
    page.goto(url + "/")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", timeout=30_000)


def row(proposal_id: str) -> str:
    return f"#proposals-list li[data-proposal='{proposal_id}']"


def reach(page: Any, proposal_id: str) -> None:
    """Wait for the proposal's row, reading the next page ("Load more") while it is not on those loaded."""
    for _ in range(20):
        try:
            page.locator(row(proposal_id)).wait_for(timeout=1_000)
            return
        except Exception:
            if page.locator("#proposals-more").count():
                page.click("#proposals-more")
    page.locator(row(proposal_id)).wait_for(timeout=5_000)


def test_a_party_sees_its_own_proposals_with_their_decisions_and_never_another_partys(
    service: Service, pages: dict[str, Any]
) -> None:
    secret = "Bravo hidden corridor 7"
    others = propose(service, "b", secret, remarks="bravo remarks")
    refused = propose(service, "a", "Alpha strip north", square(38.2, 35.4))
    admin_post(service, f"/v1/zone-proposals/{refused}/refuse", {"reason": "overlaps the river crossing"})
    pending = propose(service, "a", "Alpha strip south", square(38.2, 34.8))
    third = propose(service, "a", "Alpha valley")

    a = pages["a"]
    sign_in(a, service.url, service.keys["a-liaison"])
    a.click("#tab-proposals")
    # Oldest first, a page at a time: the first page, then "Load more" reads the next.
    a.locator(row(refused)).wait_for(timeout=5_000)
    assert a.locator(row(third)).count() == 0
    a.click("#proposals-more")
    a.locator(row(third)).wait_for(timeout=5_000)
    assert a.locator("#proposals-more").count() == 0
    assert a.locator(f"{row(pending)} .proposal-state").inner_text() == "pending"
    assert "overlaps the river crossing" in a.locator(row(refused)).inner_text()
    assert "refused" in a.locator(f"{row(refused)} .proposal-state").inner_text()

    # Need to know: another party's proposal is nowhere in the page or in what it received.
    assert secret not in a.content()
    assert others not in str(received(a))
    assert secret not in str(received(a))

    # A decision reaches the proposing party live (proposal.accepted on its stream).
    admin_post(
        service,
        f"/v1/zone-proposals/{pending}/accept",
        {"zone_id": "alpha-strip-south", "kind": "special-caution-area"},
    )
    a.locator(f"{row(pending)}[data-state='accepted']", has_text="alpha-strip-south").wait_for(timeout=10_000)

    # Selected, its shape is drawn on the map, its bounds and positions said.
    a.click(f"{row(refused)} button")
    a.locator("#proposal-detail").wait_for(timeout=5_000)
    assert "5 positions" in a.locator("#proposal-shape").inner_text()
    assert "35.400, 38.200" in a.locator("#proposal-bounds").inner_text()
    drawn = a.evaluate("() => window.keepclear.app.map.drawn.proposal.map(f => f.geometry.type)")
    assert drawn == ["Polygon"]
    assert a.locator("#proposal-accept").count() == 0  # deciding is the admin's
    shot(a, "20-zone-proposals-party")

    # The other party's view holds its own proposal only.
    b = pages["b"]
    sign_in(b, service.url, service.keys["b-liaison"])
    b.click("#tab-proposals")
    b.locator(row(others)).wait_for(timeout=5_000)
    assert "Alpha strip" not in b.content()
    assert refused not in str(received(b))
    assert not a.errors and not b.errors


def test_the_admin_accepts_one_refuses_one_and_sees_a_refusal_from_the_api(
    service: Service, pages: dict[str, Any]
) -> None:
    circle = propose(service, "a", "Alpha circle", {"type": "Point", "coordinates": [38.5, 35.1], "radius_m": 8000})
    line = propose(service, "b", "Eastern line", {"type": "LineString", "coordinates": [[37.0, 34.0], [37.5, 34.2]]})
    page = pages["a"]
    sign_in_admin(page, service.url, service.keys["admin"])
    # The admin's console: the proposals, no alerts or party panels (its key reads none of them).
    assert page.is_hidden("#alerts") and page.is_hidden("#tab-activities")
    assert page.get_attribute("#tab-proposals", "aria-selected") == "true"
    assert page.input_value("#proposals-filter") == "pending"
    reach(page, circle)
    reach(page, line)
    assert "Bravo" in page.locator(row(line)).inner_text()  # every party's, named by party

    page.click(f"{row(circle)} button")
    assert "circle" in page.locator("#proposal-shape").inner_text()
    drawn = page.evaluate("() => window.keepclear.app.map.drawn.proposal.map(f => f.geometry.type)")
    assert drawn == ["Polygon", "Point"]  # the circle as its 64-gon, and its centre
    page.fill("#proposal-zone-id", "alpha-circle")
    page.select_option("#proposal-kind", "protected-site")
    page.click("#proposal-accept")
    page.locator("#proposals-message", has_text="alpha-circle").wait_for(timeout=5_000)
    page.locator(row(circle)).wait_for(state="detached", timeout=5_000)  # no longer pending
    zone_read = "r => r.path === '/v1/zones' && r.body.features.some(f => f.id === 'alpha-circle')"
    page.wait_for_function(f"() => window.keepclear.received.some({zone_read})", timeout=5_000)  # the map's zones
    # The new zone is named on the map by its name, as incidents of its violation are worded.
    page.wait_for_function("() => window.keepclear.app.map.zoneLabel('alpha-circle') === 'Alpha circle'", timeout=5_000)
    assert proposal(service, circle)["state"] == "accepted"

    page.click(f"{row(line)} button")
    assert page.locator("#proposal-kind option").all_inner_texts() == ["deconfliction line"]
    page.fill("#proposal-reason", "crosses the agreed corridor")
    page.click("#proposal-refuse")
    page.locator(row(line)).wait_for(state="detached", timeout=5_000)
    decided = proposal(service, line)
    assert (decided["state"], decided["reason"]) == ("refused", "crosses the agreed corridor")

    page.select_option("#proposals-filter", "all")
    reach(page, circle)
    reach(page, line)
    page.locator(f"{row(circle)}[data-state='accepted']").wait_for(timeout=5_000)
    page.locator(f"{row(line)}[data-state='refused']", has_text="crosses the agreed corridor").wait_for(timeout=5_000)
    shot(page, "21-zone-proposals-admin")

    # Decided elsewhere (another admin, the CLI) while shown here: the API's 409 is shown, not swallowed.
    late = propose(service, "b", "Bravo late")
    page.select_option("#proposals-filter", "pending")
    reach(page, late)
    page.click(f"{row(late)} button")
    admin_post(service, f"/v1/zone-proposals/{late}/refuse", {"reason": "decided by the CLI"})
    page.click("#proposal-accept")
    error = page.locator("#proposals-error")
    error.wait_for(timeout=5_000)
    assert "409" in error.inner_text() and "already refused" in error.inner_text()
    page.locator(row(late)).wait_for(state="detached", timeout=5_000)

    # A zone id the import refuses: the 422 and its reason are shown, nothing decided.
    bad = propose(service, "a", "Alpha bad id")
    page.click("#proposals-reload")
    reach(page, bad)
    page.click(f"{row(bad)} button")
    page.fill("#proposal-zone-id", "alpha-circle")  # taken by the zone accepted above
    page.click("#proposal-accept")
    page.locator("#proposals-error", has_text="alpha-circle").wait_for(timeout=5_000)
    assert proposal(service, bad)["state"] == "pending"
    assert not page.errors


def test_a_hostile_proposal_name_is_shown_as_text(service: Service, pages: dict[str, Any], tmp_path: Path) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    remarks = "<script>alert(2)</script>"
    found = propose(service, "b", hostile, remarks=remarks)
    dialogs: list[str] = []

    def dismissed(dialog: Any) -> None:  # an alert() the name ran, if it ever ran
        dialogs.append(dialog.message)
        dialog.dismiss()

    for name, key in (("a", "admin"), ("b", "b-liaison")):
        page = pages[name]
        page.on("dialog", dismissed)
        if key == "admin":
            sign_in_admin(page, service.url, service.keys[key])
        else:
            sign_in(page, service.url, service.keys[key])
            page.click("#tab-proposals")
        reach(page, found)
        assert page.locator(f"{row(found)} .proposal-name").inner_text() == hostile
        page.click(f"{row(found)} button")
        assert remarks in page.locator("#proposal-detail").inner_text()
        assert page.locator("#panel-proposals img, #panel-proposals script").count() == 0
        assert not page.errors
    assert dialogs == []


def test_the_admins_list_shows_a_new_proposal_by_itself_and_keeps_a_decision_being_typed(
    service: Service, pages: dict[str, Any]
) -> None:
    """The admin's console has no live stream: it reads the pending proposals again every
    ``ADMIN_PROPOSALS_MS`` (10 s) by itself, but not while a proposal is open, where drawing the panel
    again would drop the reason being typed."""
    page = pages["a"]
    sign_in_admin(page, service.url, service.keys["admin"])
    first = propose(service, "a", "Alpha waiting")
    reach(page, first)  # its own reading, no Reload clicked
    page.click(f"{row(first)} button")
    page.fill("#proposal-reason", "half typed")
    second = propose(service, "b", "Bravo waiting")
    page.wait_for_timeout(12_000)  # past a reading that would have drawn the panel again
    assert page.input_value("#proposal-reason") == "half typed"
    assert page.locator(row(second)).count() == 0  # not read while the admin decides
    page.click(f"{row(first)} button")  # closed: the readings go on
    page.locator(row(second)).wait_for(timeout=15_000)
    assert not page.errors
