"""Tracks pushed over the stream instead of a poll: each probe tick sends the party its picture
(``tracks.picture``), alert rings sit at the units they belong to, and need-to-know holds (a party
receives another party's unit only while an alert involving its own gives it)."""

from __future__ import annotations

import time
from typing import Any

from consolesupport import Service, received, shot, sign_in
from test_console_browser import A_UNITS, B_UNITS, feeding

RINGS_AND_UNITS = """() => {
  const drawn = window.keepclear.app.map.drawn;
  const rings = (drawn.alerts || []).filter(f => f.properties.part === 'unit')
    .map(f => [f.properties.unit_id, f.geometry.coordinates]);
  const units = (drawn.tracks || []).map(f => [f.properties.unit_id, f.geometry.coordinates]);
  return {rings, units};
}"""


def pictures(page: Any) -> list[dict[str, Any]]:
    return [
        r["body"]["payload"]
        for r in received(page)
        if r["path"] == "/v1/stream" and r["body"].get("kind") == "tracks.picture"
    ]


def test_tracks_come_over_the_stream_and_alert_rings_sit_at_their_units(
    service: Service, pages: dict[str, Any]
) -> None:
    a, b = pages["a"], pages["b"]
    with feeding(service, stop_after_s=40, converging=True):
        for party in ("a", "b"):
            sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
        b.wait_for_selector("#alerts-body article.alert", timeout=15_000)
        loaded = {name: len(pictures(page)) for name, page in pages.items()}
        time.sleep(3.0)
        for name, page in pages.items():
            # Pictures keep coming (after each tick that changed them: the feeds report every 0.5 s), and the
            # console no longer polls GET /v1/tracks.
            assert len(pictures(page)) >= loaded[name] + 3, name
            assert sum(1 for r in received(page) if r["path"] == "/v1/tracks") <= 1, name
        # Need to know: b sees a's aircraft only because an alert involves it with b's own; never a's partner.
        seen_by_b = {s["unit_id"] for p in pictures(b) for s in p["states"]}
        assert {"ub", "ua"} <= seen_by_b and "ua-partner" not in seen_by_b, seen_by_b
        seen_by_a = {s["unit_id"] for p in pictures(a) for s in p["states"]}
        assert "ub" in seen_by_a and {"ua", "ua-partner"} <= seen_by_a
        assert all(s["party_id"] == "b" or s["unit_id"] == "ua" for p in pictures(b) for s in p["states"])
        # The rings are drawn where the units are drawn, from the same picture.
        for page in (a, b):
            page.wait_for_timeout(400)
            drawn = page.evaluate(RINGS_AND_UNITS)
            units = dict((unit_id, xy) for unit_id, xy in drawn["units"])
            assert {unit_id for unit_id, _ in drawn["rings"]} == {"ua", "ub"}, drawn["rings"]
            for unit_id, (lon, lat) in drawn["rings"]:
                ulon, ulat = units[unit_id]
                assert (lon, lat) == (ulon, ulat), (unit_id, (lon, lat), (ulon, ulat))
        shot(b, "40-stream-tracks-rings")
    assert a.errors == [] and b.errors == []


def test_a_party_with_no_alert_never_receives_the_other_partys_units_in_a_picture(
    service: Service, pages: dict[str, Any]
) -> None:
    with feeding(service, stop_after_s=6, converging=False):
        for party in ("a", "b"):
            sign_in(pages[party], service.url, service.keys[f"{party}-liaison"])
        time.sleep(3.0)
    for party, others in (("a", B_UNITS), ("b", A_UNITS)):
        shown = {s["unit_id"] for p in pictures(pages[party]) for s in p["states"]}
        assert shown and not (shown & others), (party, shown)
