"""A stored zone row that cannot be read as a zone at all (an unknown kind, broken geometry JSON, an
altitude stored as text, names that are no JSON object: written straight into the table, or by an
older or newer version) made every read of the zone table raise, so every later notification and
``GET /v1/zones`` answered 500. Now each reader leaves such a row out, logs it once and counts it
with the zones that cannot be drawn (``zones_undrawable``), and ``keepclear zones check`` lists it
with why. On both stores, through a real server and the real command line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
import sqlalchemy as sa
from apisupport import Service
from shapely.geometry import Polygon
from test_api_activities import air_operation

from keepclear.domain.zones import Zone, ZoneKind, ZoneRules
from keepclear.store.zones import _values

SQUARE = [(39.9, 35.3), (40.2, 35.3), (40.2, 35.5), (39.9, 35.5), (39.9, 35.3)]  # air_operation's volume


def _insert_rows(service: Service, rows: dict[str, dict[str, object]]) -> None:
    """Write ``rows`` (zone id -> columns changed from a good zone's) straight into the zone table
    with SQL, past every rule, then store a good zone the usual way so every reader reads again."""
    dep = service.deployment
    good = Zone("kept-roz", "kept", ZoneKind.RESTRICTED_OPERATING_ZONE, Polygon(SQUARE), rules=ZoneRules(frozenset()))
    with dep.db.write() as conn:
        for zone_id, changed in rows.items():
            values = {**_values(good), "id": zone_id, **changed}
            columns = ", ".join(values)
            conn.execute(
                sa.text(f"INSERT INTO zones ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values
            )
        imported = dep.zones.store_in(conn, [good], replace=True, party_id=None)
    dep.bus.emit(imported)


def _unreadable(database_url: str) -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {
        "odd-kind": {"kind": "no-such-kind"},
        "broken-json": {"geometry": '{"type": "Polygon", "coordinates": [[['},
        "not-a-shape": {"geometry": json.dumps({"type": "Polygon", "coordinates": "here"})},
        "list-geometry": {"geometry": "[1, 2]"},
        "odd-names": {"names": "[1, 2]"},
        "odd-permitted": {"permitted_parties": '{"a": 1}'},
    }
    if database_url.startswith("sqlite"):  # PostgreSQL refuses text in a double column itself
        rows["text-altitude"] = {"lower_ft": "very low"}
    return rows


def test_unreadable_zone_rows_are_left_out_and_every_reader_goes_on(
    store_service: Service, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _unreadable(database_url)
    caplog.set_level(logging.WARNING, logger="keepclear.services.zones.undrawable")
    _insert_rows(store_service, rows)
    with store_service.client("b-liaison") as b, store_service.client("admin") as admin:
        for _ in range(2):  # every notification, not only the first
            notified = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], contact="Bravo"))
            assert notified.status_code == 201, notified.text
            assert "kept-roz" in {c["target_id"] for c in notified.json()["conflicts"]}, notified.text
        for reader in (admin, b):
            listed = reader.get("/v1/zones")
            assert listed.status_code == 200, listed.text
            ids = {f["id"] for f in listed.json()["features"]}
            assert "kept-roz" in ids and not ids & set(rows)
        one = b.get("/v1/zones/odd-kind")
        assert one.status_code == 404 and "cannot be read" in one.text, one.text
        assert b.get("/v1/zones/kept-roz").status_code == 200
        counters = admin.get("/v1/metrics").json()["counters"]
        assert counters["zones_undrawable"] == len(rows), counters
    assert store_service.runtime.tick_errors == 0
    logged = [r.getMessage() for r in caplog.records if "cannot be drawn" in r.getMessage()]
    assert sorted(m.split()[1] for m in logged) == sorted(rows), logged  # once each, not once a request

    _, refused = store_service.deployment.zones.check()
    assert set(rows) <= set(refused)
    assert "kind 'no-such-kind' is not a zone kind" in refused["odd-kind"][0]
    assert "geometry is not JSON" in refused["broken-json"][0]


def test_zones_check_lists_an_unreadable_row_with_why(store_service: Service, database_url: str) -> None:
    _insert_rows(store_service, _unreadable(database_url))
    data_dir = store_service.deployment.settings.data_dir
    cli = [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(data_dir), "--database-url", database_url]
    result = subprocess.run(
        [*cli, "zones", "check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "odd-kind\tstored row cannot be read: kind 'no-such-kind' is not a zone kind" in result.stdout
    assert "broken-json\tstored row cannot be read: geometry is not JSON" in result.stdout
    listed = subprocess.run(
        [*cli, "zones", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0 and "kept-roz" in listed.stdout, listed.stderr
