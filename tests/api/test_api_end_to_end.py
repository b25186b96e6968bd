"""End to end over a real server: A's feed and B's feed report converging aircraft; both liaisons get
the alert on their streams; A acknowledges; B sees the acknowledgement; nobody sees more than it may.

The converging flow runs against the embedded default and against the scale-out topology of
``scripts/cluster up`` (``end_to_end``): there the reports reach the detector workers through the
bus, the alert comes back through it to streams on either API process, and every check is made
through the API (the one address), as a client sees it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
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


def test_the_same_record_alarm_sent_at_once_to_every_api_process_is_raised_once(end_to_end: Service | Endpoint):
    """A witness that found the log inconsistent may send its alarm again and again, on new connections
    that land on any API process: the record holds it once and the other party is told once, however
    the copies are spread over the processes (the ledger's head is locked across them)."""
    with end_to_end.client("a-liaison") as a, end_to_end.client("b-liaison") as b:
        old = a.get("/v1/record/checkpoint")
        assert old.status_code == 200, old.text
        [thread] = [t for t in a.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"]]
        posted = a.post(
            f"/v1/hotline/threads/{thread['id']}/messages",
            json={"idempotency_key": f"alarm-e2e-{time.time_ns()}", "body": "a new head for the alarm"},
        )
        assert posted.status_code in (200, 201), posted.text
        new = wait_until(lambda: (n := a.get("/v1/record/checkpoint").text) != old.text and n)
        assert isinstance(new, str) and new, "the record's head did not move"
        alarm = {"seen_before": old.text, "served": new, "problem": "does not extend"}

        def send(_: int) -> httpx.Response:
            # A connection of its own each: with several API processes behind the address, they spread.
            with end_to_end.client("a-liaison") as once:
                return once.post("/v1/record/inconsistency", json=alarm, headers={"Connection": "close"})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, range(16)))
        assert [r.status_code for r in answers] == [201] * 16, [r.text for r in answers]
        assert sum(r.json()["created"] for r in answers) == 1
        [alert_id] = {r.json()["alert_id"] for r in answers}

        def told() -> list[object]:
            messages = b.get(f"/v1/hotline/threads/{thread['id']}/messages").json()
            return [m for m in messages if m["kind"] == "alert" and m["data"].get("ref") == alert_id]

        def recorded() -> list[object]:
            entries = b.get("/v1/record/export").json()["entries"]
            mine = [e for e in entries if alert_id in json.dumps(e)]  # (entries withheld from b have no statement)
            return [e for e in mine if e["statement"]["kind"] == "alert.record_inconsistent"]

        assert wait_until(told) and wait_until(recorded)
        time.sleep(1.0)  # anything raised twice would be there by now
        assert len(told()) == 1 and len(recorded()) == 1
