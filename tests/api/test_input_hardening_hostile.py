"""Input hardening, found by acting as a hostile or careless party: each test shows a request that once
broke a rule (a 500, or a stored value that made a later read fail) and now is refused as a problem
naming the field, on SQLite and on PostgreSQL (``store_service``)."""

from __future__ import annotations

from apisupport import Service
from test_api_activities import air_operation
from test_input_hardening import assert_problem, raw

#: Written in a zone whose UTC instant is in year 0 or year 10000: parseable, never writable back.
OUT_OF_YEARS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


def test_times_outside_the_years_1_to_9999_in_utc_are_refused(store_service: Service) -> None:
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        for text in OUT_OF_YEARS:
            incident = raw(a, "POST", "/v1/incidents", {"time": text, "summary": "poison", "parties": ["b"]})
            assert_problem(incident, 422, "time", "9999")
            activity = raw(a, "POST", "/v1/activities", air_operation(end=text))
            assert_problem(activity, 422, "end", "9999")
            history = a.get("/v1/tracks/history", params={"since": "2020-01-01T00:00:00Z", "until": text})
            assert_problem(history, 422, "until")
        for client in (a, b):
            listed = client.get("/v1/incidents")
            assert listed.status_code == 200 and listed.json() == [], listed.text
        # The edges themselves are kept and read back.
        edge = raw(a, "POST", "/v1/incidents", {"time": "0001-01-01T00:00:00Z", "summary": "edge", "parties": ["b"]})
        assert edge.status_code == 201, edge.text
        assert [i["time"] for i in b.get("/v1/incidents").json()] == ["0001-01-01T00:00:00Z"]
    with store_service.client("admin") as admin:
        before = admin.get("/v1/zones").json()
        zone = {
            "type": "Feature",
            "id": "z-far",
            "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
            "properties": {"kind": "protected-site", "name": "Site", "radius_m": 500, "valid_until": OUT_OF_YEARS[1]},
        }
        imported = raw(admin, "POST", "/v1/zones", {"type": "FeatureCollection", "features": [zone]})
        assert_problem(imported, 422, "valid_until")
        assert admin.get("/v1/zones").json() == before
