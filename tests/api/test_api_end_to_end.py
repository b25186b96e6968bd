"""End to end over a real server: A's feed and B's feed report converging aircraft; both liaisons get
the alert on their streams; A acknowledges; B sees the acknowledgement; nobody sees more than it may.

The converging flow runs against the embedded default and against the scale-out topology of
``scripts/cluster up`` (``end_to_end``): there the reports reach the detector workers through the
bus, the alert comes back through it to streams on either API process, and every check is made
through the API (the one address), as a client sees it."""

from __future__ import annotations

import json
import time

from apisupport import Endpoint, Service, SseReader

from keepclear.domain.timefmt import format_utc

SPEED_MPS = 220.0


def converging(unit_id: str, lon_deg: float, east_mps: float) -> dict[str, object]:
    return {
        "unit_id": unit_id,
        "time": format_utc(time.time()),
        "lat_deg": 35.0,
        "lon_deg": lon_deg,
        "alt_m": 7000.0,
        "vel_east_mps": east_mps,
        "vel_north_mps": 0.0,
    }


def wait_until(read: object, timeout_s: float = 15.0) -> object:
    """``read()`` once it is truthy, trying every 0.1 s for ``timeout_s`` (the last answer otherwise)."""
    deadline = time.monotonic() + timeout_s
    while not (answer := read()) and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)
    return answer


def test_converging_tracks_alert_both_sides_and_acknowledgement_is_shared(end_to_end: Service | Endpoint):
    service = end_to_end
    a_stream = SseReader(service, "a-liaison")
    b_stream = SseReader(service, "b-liaison")
    try:
        # Head on at 440 m/s closure, 40 km apart: loss of separation (5 NM) in about 70 s.
        with service.client("a-feed") as a_feed, service.client("b-feed") as b_feed:
            assert (
                a_feed.post("/v1/tracks", json={"reports": [converging("ua", 38.0, SPEED_MPS)]}).json()["accepted"] == 1
            )
            assert (
                b_feed.post("/v1/tracks", json={"reports": [converging("ub", 38.44, -SPEED_MPS)]}).json()["accepted"]
                == 1
            )
        raised_a = a_stream.wait_for(lambda e: e["kind"] == "alert.raised", timeout_s=15)
        raised_b = b_stream.wait_for(lambda e: e["kind"] == "alert.raised", timeout_s=15)
        alert_id = raised_a["payload"]["alert_id"]
        assert raised_b["payload"]["alert_id"] == alert_id
        assert {raised_a["payload"]["unit_a"], raised_a["payload"]["unit_b"]} == {"ua", "ub"}
        assert raised_a["payload"]["cpa"]["dcpa_m"] < 1000

        with service.client("a-liaison") as a_liaison, service.client("b-liaison") as b_liaison:
            alerts = a_liaison.get("/v1/alerts").json()
            assert [a["alert_id"] for a in alerts] == [alert_id]
            assert alerts[0]["time_to_los_s"] is not None and alerts[0]["time_to_los_s"] < 90
            # Inside the alert, A sees B's unit; outside it never would.
            assert {t["unit_id"] for t in a_liaison.get("/v1/tracks").json()} == {"ua", "ub"}
            acked = a_liaison.post(f"/v1/alerts/{alert_id}/acknowledge")
            assert acked.status_code == 200
            assert acked.json()["acknowledged_by"] == ["a"]
            seen_by_b = b_stream.wait_for(lambda e: e["kind"] == "alert.acknowledged", timeout_s=10)
            assert seen_by_b["payload"]["acknowledged_by"] == ["a"]
            assert b_liaison.get("/v1/alerts").json()[0]["acknowledged_by"] == ["a"]
            # B's observer cannot acknowledge; a feed cannot even read alerts.
        with service.client("b-observer") as b_observer, service.client("a-feed") as a_feed:
            assert b_observer.post(f"/v1/alerts/{alert_id}/acknowledge").status_code == 403
            assert a_feed.get("/v1/alerts").status_code == 403
        with service.client("b-liaison") as b_liaison:
            # The alert posted itself into the standing A–B thread of the hotline.
            [thread] = [t for t in b_liaison.get("/v1/hotline/threads").json() if t["standing"] and "a" in t["parties"]]

            def kinds_in_thread() -> list[str]:
                messages = b_liaison.get(f"/v1/hotline/threads/{thread['id']}/messages").json()
                return [m["kind"] for m in messages if m["kind"] == "alert"]

            assert wait_until(kinds_in_thread), b_liaison.get(f"/v1/hotline/threads/{thread['id']}/messages").text

            # Both the alert and its acknowledgement are in the shared record.
            def kinds() -> list[str]:
                entries = b_liaison.get("/v1/record/export").json()["entries"]
                found = [e["statement"]["kind"] for e in entries if alert_id in json.dumps(e)]
                return found if "alert.acknowledged" in found else []

            recorded = wait_until(kinds)
            assert isinstance(recorded, list) and recorded[:1] == ["alert.raised"], recorded
    finally:
        a_stream.close()
        b_stream.close()


def test_other_partys_units_are_invisible_without_an_alert(service: Service):
    with service.client("a-feed") as a_feed, service.client("b-feed") as b_feed:
        a_feed.post("/v1/tracks", json={"reports": [converging("ua", 38.0, 0.0)]})
        b_feed.post("/v1/tracks", json={"reports": [converging("ub", 40.0, 0.0)]})
    deadline = time.monotonic() + 10
    with service.client("a-liaison") as a_liaison:
        while time.monotonic() < deadline:
            seen = {t["unit_id"] for t in a_liaison.get("/v1/tracks").json()}
            if seen:
                break
            time.sleep(0.1)
        assert seen == {"ua"}
        assert a_liaison.get("/v1/alerts").json() == []
