"""Input holes of an audit (helper h76), against a real server on both stores (``store_service``):
zone altitude bands were unbounded, a zone could permit a party nobody registered, an incident could
be dated to the year 1. Each is now refused with a problem naming the field and where, nothing stored."""

from __future__ import annotations

import time
from typing import Any

from apisupport import Service
from test_api_activities import air_operation
from test_input_hardening import assert_problem

from keepclear.domain.timefmt import format_utc

SQUARE = [[[40.0, 35.0], [40.1, 35.0], [40.1, 35.1], [40.0, 35.1], [40.0, 35.0]]]


def _zones(*properties: dict[str, Any]) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "id": f"bounds-{index}",
            "geometry": {"type": "Polygon", "coordinates": SQUARE},
            "properties": {"kind": "special-caution-area", "name": f"bounds {index}", **extra},
        }
        for index, extra in enumerate(properties)
    ]
    return {"type": "FeatureCollection", "features": features}


def test_a_zone_band_past_the_altitude_bounds_is_refused_naming_the_feature(store_service: Service) -> None:
    """``lower_ft``/``upper_ft`` took any finite number (1e300, -1e12): stored, then drawn and probed
    as a band reaching past the atmosphere. Now a band lies within [-1500, 99999] ft, as activities'."""
    with store_service.client("admin") as admin:
        before = admin.get("/v1/zones").json()
        refused = admin.post(
            "/v1/zones",
            json=_zones({"lower_ft": 0, "upper_ft": 1000}, {"lower_ft": -1e12, "upper_ft": 1e300}),
        )
        assert_problem(
            refused,
            422,
            "feature 1 properties.lower_ft: -1e+12 is outside [-1500, 99999] ft",
            "feature 1 properties.upper_ft: 1e+300 is outside [-1500, 99999] ft",
        )
        assert admin.get("/v1/zones").json() == before, "nothing stored, not even the good feature 0"
        edges = admin.post("/v1/zones", json=_zones({"lower_ft": -1500, "upper_ft": 99999}))
        assert edges.status_code == 201, edges.text


def test_a_zone_permitting_an_unregistered_party_is_refused_naming_its_place(store_service: Service) -> None:
    with store_service.client("admin") as admin:
        before = admin.get("/v1/zones").json()
        refused = admin.post(
            "/v1/zones",
            json=_zones({"permitted_parties": ["a"]}, {"permitted_parties": ["a", "rusia"]}),
        )
        body = assert_problem(refused, 422, "feature 1 properties.permitted_parties[1]: no party 'rusia' is registered")
        assert not any("feature 0" in e for e in body["errors"]), body
        assert admin.get("/v1/zones").json() == before
        kept = admin.post("/v1/zones", json=_zones({"permitted_parties": ["a", "b"]}, {"permitted_parties": "*"}))
        assert kept.status_code == 201, kept.text


def test_accepting_a_proposal_applies_the_same_bounds_and_parties(store_service: Service) -> None:
    """A proposal becomes a zone with the admin's properties: judged as an import, so a band past the
    bounds or an unregistered party is refused, the proposal left pending and no zone stored."""
    with store_service.client("a-feed") as feed, store_service.client("admin") as admin:
        proposed = feed.post(
            "/v1/zone-proposals",
            json={"source": "cot-1", "name": "p", "geometry": {"type": "Polygon", "coordinates": SQUARE}},
        )
        assert proposed.status_code == 201, proposed.text
        proposal_id = proposed.json()["id"]
        before = admin.get("/v1/zones").json()
        for properties, mention in (
            ({"upper_ft": 1e300}, "feature 0 properties.upper_ft: 1e+300 is outside [-1500, 99999] ft"),
            ({"permitted_parties": ["rusia"]}, "feature 0 properties.permitted_parties[0]: no party 'rusia'"),
        ):
            accepted = admin.post(
                f"/v1/zone-proposals/{proposal_id}/accept",
                json={"zone_id": "proposed", "kind": "special-caution-area", "properties": properties},
            )
            assert_problem(accepted, 422, mention)
        assert admin.get("/v1/zones").json() == before
        assert admin.get(f"/v1/zone-proposals/{proposal_id}").json()["state"] == "pending"


def test_an_activity_band_past_the_altitude_bounds_is_refused(store_service: Service) -> None:
    """Activity volumes keep the same bounds as zones (one check: ``altitude_band_problems``)."""
    volume = {"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 1e300}
    with store_service.client("a-liaison") as a:
        before = a.get("/v1/activities").json()
        refused = a.post("/v1/activities", json=air_operation(volumes=[volume]))
        assert_problem(refused, 422, "volumes[0].altitude.upper_ft: 1e+300 is outside [-1500, 99999] ft")
        assert a.get("/v1/activities").json() == before


def test_an_incident_dated_too_far_back_is_refused_naming_time(store_service: Service) -> None:
    """Only a future time was refused: an incident of the year 1 was stored, sorted first in every
    list, its evidence window read from tracks that cannot exist."""
    with store_service.client("a-liaison") as a:
        before = a.get("/v1/incidents").json()
        for when in ("0001-01-01T00:00:00Z", format_utc(time.time() - 367 * 86400)):
            refused = a.post("/v1/incidents", json={"time": when, "summary": "long ago"})
            assert_problem(refused, 422, "time: more than 366 days in the past")
        assert a.get("/v1/incidents").json() == before
        recent = a.post("/v1/incidents", json={"time": format_utc(time.time() - 365 * 86400), "summary": "last year"})
        assert recent.status_code == 201, recent.text


def test_a_zone_buffer_or_radius_past_its_bounds_is_refused_so_notifications_still_check(
    store_service: Service,
) -> None:
    """A circle's ``radius_m`` and a line's ``buffer_m`` took any finite number > 0. A zone of radius
    1e300 m (its drawn area overflows) or 1e-300 m (its bounds NaN), once stored, made every later
    notification of every party answer 500: each check reads the zones first. A party could reach it
    too, by proposing a circle of 1e-300 m for an admin to accept. Now a buffer lies within
    [1, 1000000] m, refused naming the feature and the field, nothing stored."""
    site = {"type": "Point", "coordinates": [40.05, 35.05]}
    line = {"type": "LineString", "coordinates": [[40.0, 35.0], [40.1, 35.1]]}
    with store_service.client("admin") as admin, store_service.client("b-liaison") as b:
        before = admin.get("/v1/zones").json()
        for geometry, properties, mention in (
            (site, {"kind": "protected-site", "radius_m": 1e300}, "feature 0 radius_m: 1e+300 m is outside"),
            (site, {"kind": "protected-site", "radius_m": 1e-300}, "feature 0 radius_m: 1e-300 m is outside"),
            (line, {"kind": "deconfliction-line", "buffer_m": 1e300}, "feature 0 buffer_m: 1e+300 m is outside"),
        ):
            feature = {
                "type": "Feature",
                "id": "far",
                "geometry": geometry,
                "properties": {"name": "far", **properties},
            }
            refused = admin.post("/v1/zones", json={"type": "FeatureCollection", "features": [feature]})
            assert_problem(refused, 422, mention, "[1, 1e+06] m")
        assert admin.get("/v1/zones").json() == before
        notified = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], contact="Bravo"))
        assert notified.status_code == 201, notified.text
        edges = [
            {"type": "Feature", "id": f"edge-{i}", "geometry": site, "properties": {"kind": "protected-site",
             "name": f"edge {i}", "radius_m": radius_m}}
            for i, radius_m in enumerate((1.0, 1_000_000.0))
        ]  # fmt: skip
        assert admin.post("/v1/zones", json={"type": "FeatureCollection", "features": edges}).status_code == 201
    with store_service.client("a-feed") as feed:
        proposed = feed.post(
            "/v1/zone-proposals",
            json={"source": "cot-2", "name": "dot", "geometry": {**site, "radius_m": 1e-300}},
        )
        assert_problem(proposed, 422, "geometry.radius_m: a circle's radius in metres, at least 1 and at most 1000000")
