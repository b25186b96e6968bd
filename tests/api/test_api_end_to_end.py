"""End to end over a real server: A's feed and B's feed report converging aircraft; both liaisons get
the alert on their streams; A acknowledges; B sees the acknowledgement; nobody sees more than it may."""

from __future__ import annotations

import time

from apisupport import Service, SseReader

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


def test_converging_tracks_alert_both_sides_and_acknowledgement_is_shared(service: Service):
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
        # The alert posted itself into the standing A–B thread of the hotline.
        thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
        kinds_in_thread = [m.kind.value for m in service.runtime.hotline.messages("b", thread_id)]
        assert "alert" in kinds_in_thread
        # Both the alert and its acknowledgement are in the shared record.
        kinds = [e.statement.kind for e in service.runtime.ledger.entries(kinds_prefix=("alert.",))]
        assert kinds[:1] == ["alert.raised"] and "alert.acknowledged" in kinds
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
