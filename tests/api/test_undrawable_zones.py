"""A zone stored before the buffer bounds (radius 1e300 m or 1e-300 m, a line's buffer 1e300 m:
written by an older version or straight into the table) cannot be drawn. Each strategic check draws
the stored zones, so once one was stored every later party's notification answered 500. Now every
reader that draws zones leaves such a zone out, logs it once and counts it (``zones_undrawable``):
notifications, the zone watch and the listings go on with the other zones. On both stores."""

from __future__ import annotations

import logging
import time

import pytest
from apisupport import Service
from nksupport import report, stream_once
from shapely.geometry import LineString, Point, Polygon
from test_api_activities import air_operation

from keepclear.domain.zones import Zone, ZoneKind, ZoneRules

SQUARE = [(39.9, 35.3), (40.2, 35.3), (40.2, 35.5), (39.9, 35.5), (39.9, 35.3)]  # air_operation's volume
BAD = ("huge-site", "tiny-site", "huge-line")


def _store_raw(service: Service, zones: list[Zone]) -> None:
    """Store ``zones`` as they are, past every import rule (as an older version did), and tell the
    readers the zones changed."""
    dep = service.deployment
    with dep.db.write() as conn:
        imported = dep.zones.store_in(conn, zones, replace=True, party_id=None)
    dep.bus.emit(imported)


def test_a_stored_zone_that_cannot_be_drawn_is_left_out_and_the_others_still_work(
    store_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    site, line = Point(40.05, 35.4), LineString([(40.0, 35.3), (40.1, 35.5)])
    kept = Zone("kept-roz", "kept", ZoneKind.RESTRICTED_OPERATING_ZONE, Polygon(SQUARE), rules=ZoneRules(frozenset()))
    bad = [
        Zone("huge-site", "huge", ZoneKind.PROTECTED_SITE, site, buffer_m=1e300),
        Zone("tiny-site", "tiny", ZoneKind.PROTECTED_SITE, site, buffer_m=1e-300),
        Zone("huge-line", "wide", ZoneKind.DECONFLICTION_LINE, line, buffer_m=1e300),
    ]
    caplog.set_level(logging.WARNING, logger="keepclear.services.zones.undrawable")
    _store_raw(store_service, [kept, *bad])
    with store_service.client("b-liaison") as b, store_service.client("admin") as admin:
        for _ in range(2):  # every notification, not only the first
            notified = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], contact="Bravo"))
            assert notified.status_code == 201, notified.text
            targets = {c["target_id"] for c in notified.json()["conflicts"]}
            assert "kept-roz" in targets and not targets & set(BAD), notified.text
        listed = admin.get("/v1/zones")
        assert listed.status_code == 200, listed.text
        ids = {f["id"] for f in listed.json()["features"]}
        assert "kept-roz" in ids and not ids & set(BAD)
        assert b.get("/v1/zones/kept-roz").status_code == 200
        assert b.get("/v1/zones/huge-site").status_code == 404
        counters = admin.get("/v1/metrics").json()["counters"]
        assert counters["zones_undrawable"] == 3, counters
    # the zone watch runs on with the zone it can draw: b's aircraft inside kept-roz is seen entering
    report(store_service, [("ub", 35.4, 40.05, 0.0, 0.0)])
    deadline = time.monotonic() + 10
    entered: list[str] = []
    while not entered and time.monotonic() < deadline:
        entered = [
            e["payload"]["zone_id"] for e in stream_once(store_service, "b-liaison") if e["kind"] == "zone.entered"
        ]
        time.sleep(0.1)
    assert entered == ["kept-roz"]
    assert store_service.runtime.tick_errors == 0
    logged = [r.getMessage() for r in caplog.records if "cannot be drawn" in r.getMessage()]
    assert sorted(m.split()[1] for m in logged) == sorted(BAD), logged  # once each, not once a request


def test_a_zone_corrected_and_imported_again_is_drawn_and_no_longer_counted(store_service: Service) -> None:
    _store_raw(store_service, [Zone("site", "site", ZoneKind.PROTECTED_SITE, Point(40.05, 35.4), buffer_m=1e300)])
    with store_service.client("b-liaison") as b, store_service.client("admin") as admin:
        assert b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"])).status_code == 201
        assert admin.get("/v1/metrics").json()["counters"]["zones_undrawable"] == 1
        _store_raw(store_service, [Zone("site", "site", ZoneKind.PROTECTED_SITE, Point(40.05, 35.4), buffer_m=500.0)])
        notified = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], start_h=40.0))
        assert notified.status_code == 201, notified.text
        assert "site" in {c["target_id"] for c in notified.json()["conflicts"]}
        assert "site" in {f["id"] for f in admin.get("/v1/zones").json()["features"]}
        assert admin.get("/v1/metrics").json()["counters"]["zones_undrawable"] == 0
