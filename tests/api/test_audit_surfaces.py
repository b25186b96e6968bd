"""A second black-box audit's findings (helper h72), acting as a hostile party against a real server
(``store_service``: SQLite and PostgreSQL, where the store matters): the hotline socket, the
streams, track ingest, the record and zone geometry. Each test shows a request that was answered
500, stored what later failed, or broke its caller's socket, and is now answered as the rules say:
a problem naming the field, nothing stored, the socket open."""

from __future__ import annotations

import json
import time
from typing import Any

from apisupport import Service
from test_api_activities import air_operation
from test_api_hotline_ws import frames_until, socket
from test_input_hardening import assert_problem, standing_thread

from keepclear.domain.timefmt import format_utc


def _square(*extra: float) -> list[list[list[float]]]:
    """A closed ring near 40 E 35 N, each position ending with ``extra`` (an altitude, or more)."""
    corners = [(40.0, 35.0), (40.1, 35.0), (40.1, 35.1), (40.0, 35.1), (40.0, 35.0)]
    return [[[lon, lat, *extra] for lon, lat in corners]]


def _zones(geometry: dict[str, Any]) -> dict[str, Any]:
    properties = {"kind": "special-caution-area", "name": "audit", "lower_ft": 0, "upper_ft": 1000}
    feature = {"type": "Feature", "id": "audit-zone", "geometry": geometry, "properties": properties}
    return {"type": "FeatureCollection", "features": [feature]}


def test_a_binary_frame_is_answered_and_the_socket_stays_open(service: Service) -> None:
    """The reader took every frame with ``receive_text``, which raised ``KeyError`` on a binary
    frame: the session failed, the socket dropped without a close frame and the server logged a
    stack trace. A binary frame is now answered with an ``invalid`` error frame, and the socket
    goes on: it answers a ping and delivers the party's post to the other party."""
    with service.client("a-liaison") as a:
        thread = standing_thread(a)
    with socket(service, "a-liaison") as ws_a, socket(service, "b-liaison") as ws_b:
        frames_until(ws_a, lambda f: f["type"] == "resumed")
        frames_until(ws_b, lambda f: f["type"] == "resumed")
        for frame in (b"\x00\xff", json.dumps({"type": "ping"}).encode()):
            ws_a.send(frame)
            refused = frames_until(ws_a, lambda f: f["type"] == "error")[-1]
            assert refused["status"] == "invalid" and refused["problems"][0].startswith("frame: a binary"), refused
        ws_a.send(json.dumps({"type": "ping"}))
        assert frames_until(ws_a, lambda f: f["type"] == "pong")[-1] == {"type": "pong"}
        post = {"type": "post", "ref": "p1", "thread_id": thread, "idempotency_key": "audit-bin-0001", "body": "hi"}
        ws_a.send(json.dumps(post))
        assert frames_until(ws_a, lambda f: f.get("ref") == "p1")[-1]["type"] == "accepted"
        got = frames_until(ws_b, lambda f: f["type"] == "message")[-1]
        assert got["message"]["body"] == "hi", got


def test_positions_of_four_numbers_or_of_mixed_dimensions_are_refused_wherever_geometry_is_taken(
    store_service: Service,
) -> None:
    """A position was checked for at least [longitude, latitude]: one of four numbers, or a ring
    mixing [lon, lat] with [lon, lat, alt], passed. Shapely cannot build either: the admin's zone
    import was answered 500, and a party's zone proposal was stored (201) and answered 500 when the
    admin accepted it (a stored row no later action could take). Each is now refused naming the
    position or the geometry, nothing stored; altitude on every position is taken as before."""
    mixed = _square()
    mixed[0][1] = [*mixed[0][1], 100.0]
    shapes = {"four numbers": _square(1.0, 2.0), "mixed": mixed}
    with (
        store_service.client("admin") as admin,
        store_service.client("a-feed") as feed,
        store_service.client("a-liaison") as a,
    ):
        zones_before = admin.get("/v1/zones").json()
        proposals_before = admin.get("/v1/zone-proposals").json()
        for label, rings in shapes.items():
            polygon = {"type": "Polygon", "coordinates": rings}
            where = "geometry ring 0 position 0" if label == "four numbers" else "geometry"
            assert_problem(admin.post("/v1/zones", json=_zones(polygon)), 422, f"feature 0 {where}")
            proposal = {"source": f"cot-{label}", "name": "audit", "geometry": polygon}
            assert_problem(feed.post("/v1/zone-proposals", json=proposal), 422, where)
            volume = {"geometry": polygon, "lower_ft": 15000, "upper_ft": 30000}
            assert_problem(a.post("/v1/activities", json=air_operation(volumes=[volume])), 422, "volumes[0]")
        line = {"type": "LineString", "coordinates": [[40.0, 35.0], [40.1, 35.0, 5.0]]}
        assert_problem(feed.post("/v1/zone-proposals", json={"source": "l", "name": "l", "geometry": line}), 422)
        assert admin.get("/v1/zones").json() == zones_before
        assert admin.get("/v1/zone-proposals").json() == proposals_before
        with_altitude = {"type": "Polygon", "coordinates": _square(100.0)}
        assert admin.post("/v1/zones", json=_zones(with_altitude)).status_code == 201


def test_a_feeds_number_given_as_text_or_true_is_refused_naming_its_place(store_service: Service) -> None:
    """Track reports were read laxly: ``"lat_deg": "35"`` was taken as 35.0 and ``true`` as 1.0 (a
    unit placed on the equator), in both shapes, where every other wrong type refuses the batch.
    Each is now refused (422 naming the report and field), nothing kept; integers are numbers."""
    now = format_utc(time.time())
    report = {"unit_id": "ua", "time": now, "lat_deg": 35, "lon_deg": 40.0}
    with store_service.client("a-feed") as feed, store_service.client("a-liaison") as a:
        for field, value in (("lat_deg", "35"), ("lon_deg", True), ("alt_m", "100"), ("vel_up_mps", False)):
            rows = {"reports": [report, report | {field: value}]}
            assert_problem(feed.post("/v1/tracks", json=rows), 422, f"reports.1.{field}")
            columns = {"unit_id": ["ua"], "time": [now], "lat_deg": [35], "lon_deg": [40.0], field: [value]}
            assert_problem(feed.post("/v1/tracks", json={"columns": columns}), 422, f"columns.{field}.0")
        time.sleep(0.5)  # a probe tick: anything queued would be seen now
        assert a.get("/v1/tracks").json() == []
        kept = feed.post("/v1/tracks", json={"reports": [report]})
        assert kept.status_code == 202 and kept.json()["accepted"] == 1, kept.text


def test_a_misspelt_field_of_the_record_is_refused_not_left_out(service: Service) -> None:
    """The record's bodies ignored fields they do not know: an account meant to amend another
    (``"amend": 1``, for ``amends``) was appended as a new account, and an incident naming its units
    as ``unit_id`` was reported naming none, both for good in the signed record. Each is now refused
    naming the field (422), nothing recorded, as every other body of the API does."""
    reported = {"time": format_utc(time.time() - 60), "summary": "near miss", "parties": ["b"]}
    with service.client("a-liaison") as a:
        incident = a.post("/v1/incidents", json=reported)
        assert incident.status_code == 201, incident.text
        incident_id = incident.json()["id"]
        assert a.post(f"/v1/incidents/{incident_id}/accounts", json={"text": "first"}).status_code == 201
        before = a.get(f"/v1/incidents/{incident_id}").json()
        listed = a.get("/v1/incidents").json()
        refused = {
            f"/v1/incidents/{incident_id}/accounts": {"text": "corrected", "amend": 1},
            f"/v1/incidents/{incident_id}/review": {"status": "under-review", "notes": "why"},
            "/v1/incidents": reported | {"unit_id": ["ua"]},
            "/v1/record/witness": {"tree_size": 1, "size": 1},
        }
        for path, body in refused.items():
            extra = next(iter(set(body) - {"text", "status", "time", "summary", "parties", "tree_size"}))
            assert_problem(a.post(path, json=body), 422, extra)
        assert a.get(f"/v1/incidents/{incident_id}").json() == before
        assert a.get("/v1/incidents").json() == listed


def test_a_negative_delivered_receipt_is_refused_as_a_negative_read_one_is(service: Service) -> None:
    """``{"type": "read", "through_seq": -5}`` was refused naming ``through_seq``, but the same
    ``delivered`` frame was coalesced to 0 and taken without a word. Both are now refused alike."""
    with service.client("a-liaison") as a:
        thread = standing_thread(a)
    with socket(service, "a-liaison") as ws:
        frames_until(ws, lambda f: f["type"] == "resumed")
        for kind in ("read", "delivered"):
            ws.send(json.dumps({"type": kind, "thread_id": thread, "through_seq": -5}))
            refused = frames_until(ws, lambda f: f["type"] == "error")[-1]
            assert refused["status"] == "invalid" and refused["problems"][0].startswith("through_seq: -5"), refused


def test_a_proposed_shape_no_zone_could_take_is_refused_when_proposed(store_service: Service) -> None:
    """A zone proposal's geometry was checked position by position only: a self-intersecting ring,
    a hole outside its shell, a ring of one repeated point or a line of zero length was stored as
    pending (201), and refused only when the admin tried to accept it, the proposer never told. Each
    is now refused when proposed (422 naming the geometry), nothing stored, as the zone import does."""
    square = _square()[0]
    apart = [[41.0, 36.0], [41.1, 36.0], [41.1, 36.1], [41.0, 36.1], [41.0, 36.0]]
    shapes = {
        "bowtie": {"type": "Polygon", "coordinates": [[[40, 35], [40.1, 35.1], [40.1, 35], [40, 35.1], [40, 35]]]},
        "hole outside": {"type": "Polygon", "coordinates": [square, apart]},
        "one point": {"type": "Polygon", "coordinates": [[[40, 35]] * 5]},
        "zero length": {"type": "LineString", "coordinates": [[40, 35], [40, 35]]},
    }
    with store_service.client("admin") as admin, store_service.client("a-feed") as feed:
        before = admin.get("/v1/zone-proposals").json()
        for label, geometry in shapes.items():
            proposed = feed.post(
                "/v1/zone-proposals", json={"source": f"cot-{label}", "name": "p", "geometry": geometry}
            )
            assert_problem(proposed, 422, "geometry: ")
        assert admin.get("/v1/zone-proposals").json() == before
        good = {"type": "Polygon", "coordinates": [square]}
        kept = feed.post("/v1/zone-proposals", json={"source": "cot-good", "name": "p", "geometry": good})
        assert kept.status_code == 201, kept.text


def test_an_incident_in_the_future_is_refused_naming_the_field_sent(service: Service) -> None:
    """An incident reported for a time still to come was refused naming ``time_s``, a field no
    request has (the body's is ``time``), so a client could not tell which of its fields was wrong."""
    with service.client("a-liaison") as a:
        future = a.post("/v1/incidents", json={"time": "2999-01-01T00:00:00Z", "summary": "later"})
        body = assert_problem(future, 422, "time: an incident cannot be reported before it happened")
        assert all(not e.startswith("time_s") for e in body["errors"]), body
