"""The API takes and serves zone names in other languages, on both stores, to every reader."""

from __future__ import annotations

import json

from apisupport import EXAMPLE_ZONES, Service


def test_zone_names_in_other_languages_are_imported_and_served(store_service: Service) -> None:
    doc = json.loads(EXAMPLE_ZONES.read_text())
    doc["features"][0]["properties"]["names"] = {"ru": "Восточная Гута"}
    doc["features"] = doc["features"][:1]  # the others permit parties this world (a, b) does not register
    with store_service.client("admin") as admin:
        r = admin.post("/v1/zones", params={"replace": "true"}, json=doc)
        assert r.status_code == 201, r.text
        bad = json.loads(json.dumps(doc))
        bad["features"][0]["properties"]["names"] = {"Russian": ""}
        r = admin.post("/v1/zones", params={"replace": "true"}, json=bad)
        assert r.status_code == 422
        assert "properties.names" in r.text
    zone_id = doc["features"][0]["id"]
    for who in ("a-liaison", "b-observer"):
        with store_service.client(who) as client:
            one = client.get(f"/v1/zones/{zone_id}").json()
            assert one["properties"]["names"] == {"ru": "Восточная Гута"}
            listed = {f["id"]: f for f in client.get("/v1/zones").json()["features"]}
            assert listed[zone_id]["properties"]["names"] == {"ru": "Восточная Гута"}
            assert all("names" not in f["properties"] for k, f in listed.items() if k != zone_id)
