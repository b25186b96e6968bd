"""Activities over HTTP: notify with conflicts, deliver views, acknowledge, stale versions refused."""

from __future__ import annotations

import time
from typing import Any

from apisupport import Service, SseReader

from keepclear.domain import Party
from keepclear.domain.timefmt import format_utc

SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]


def air_operation(start_h: float = 30.0, **changes: Any) -> dict[str, Any]:
    now = time.time()
    body: dict[str, Any] = {
        "kind": "air-operation",
        "start": format_utc(now + start_h * 3600),
        "end": format_utc(now + (start_h + 4) * 3600),
        "addressees": ["b"],
        "units": ["ua"],
        "share_units": False,
        "contact": "Alpha duty officer",
        "text": "Strike package",
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000}],
    }
    body.update(changes)
    return body


def test_notify_deliver_acknowledge_and_stale_version(service: Service):
    b_stream = SseReader(service, "b-liaison")
    try:
        with service.client("a-liaison") as a, service.client("b-liaison") as b:
            notified = a.post("/v1/activities", json=air_operation())
            assert notified.status_code == 201, notified.text
            activity_id = notified.json()["activity"]["id"]
            assert notified.json()["addressees"] == ["b"]
            # B's own overlapping operation conflicts with A's: both sides are told.
            second = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], contact="Bravo duty"))
            assert second.status_code == 201, second.text
            assert [c["target_id"] for c in second.json()["conflicts"]] == [activity_id]
            delivered = b_stream.wait_for(lambda e: e["kind"] == "activity.notified" and e["party_id"] == "a")
            assert "units" not in delivered["payload"]["activity"]
            seen_by_b = b.get(f"/v1/activities/{activity_id}").json()
            assert "units" not in seen_by_b and "addressees" not in seen_by_b
            stale = b.post(f"/v1/activities/{activity_id}/acknowledge", json={"version": 2})
            assert stale.status_code == 409
            assert stale.json()["current"]["version"] == 1
            assert b.post(f"/v1/activities/{activity_id}/acknowledge", json={"version": 1}).status_code == 200
            mine = a.get(f"/v1/activities/{activity_id}").json()
            assert mine["units"] == ["ua"]
            assert {ack["party"]: ack["state"] for ack in mine["acknowledgements"]} == {"b": "acknowledged"}
            assert mine["acknowledged"] == ["b"] and mine["not_acknowledged"] == []
    finally:
        b_stream.close()


def test_bad_activity_is_refused_naming_the_field_and_nothing_is_stored(service: Service):
    with service.client("a-liaison") as a:
        before = a.get("/v1/activities").json()
        bad = a.post("/v1/activities", json=air_operation(addressees=["nobody"], end=format_utc(time.time() - 60)))
        assert bad.status_code == 422
        detail = bad.json()["detail"]
        assert "addressees" in detail and "end" in detail
        assert a.get("/v1/activities").json() == before


def test_party_not_addressed_sees_nothing(service: Service):
    service.deployment.registry.add_party(Party("c", "Charlie"))
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        notified = a.post("/v1/activities", json=air_operation(addressees=["c"], start_h=50.0))
        assert notified.status_code == 201, notified.text
        activity_id = notified.json()["activity"]["id"]
        assert b.get(f"/v1/activities/{activity_id}").status_code == 404
        assert all(v["id"] != activity_id for v in b.get("/v1/activities").json())
