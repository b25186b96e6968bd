"""A whole number in a request body is a JSON integer and a number is a JSON number: pydantic's lax
mode read ``"5"``, ``5.0`` and ``true`` as 5 (or 1) for an activity's version, an account's
``amends``, a witnessed ``tree_size`` and a read's ``through_seq``. Each such value is now refused
422 naming the field, nothing stored, on every endpoint that takes a number (the hand-written readers
of activities, zones, proposals, tracks and socket frames already refused them: this holds them to it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from apisupport import Service
from test_api_activities import air_operation
from test_api_hotline_ws import frames_until, socket
from test_api_tracks import report
from test_input_hardening import assert_problem, messages, standing_thread
from websockets.sync.client import connect

from keepclear.domain.timefmt import format_utc

#: What no whole-number field takes: text, a fraction, a whole float, a boolean.
NOT_WHOLE: tuple[Any, ...] = ("5", 5.5, 5.0, True, False)
#: What no number field takes: text, booleans.
NOT_NUMBERS: tuple[Any, ...] = ("12.5", True, False)
RING = [[35.0, 36.0], [35.2, 36.0], [35.2, 36.2], [35.0, 36.2], [35.0, 36.0]]


def _zone(**properties: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "strict-zone", "kind": "special-caution-area", "name": "Box", **properties},
                "geometry": {"type": "Polygon", "coordinates": [RING]},
            }
        ],
    }


def _body_models() -> Iterator[tuple[str, type[Any]]]:
    """Every request body model of the API, with the operation taking it."""
    import tempfile
    from pathlib import Path

    from fastapi.routing import APIRoute

    from keepclear.api import create_app
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.settings import Settings

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory))
        deployment = Deployment.open(settings, create=True)
        try:
            app = create_app(settings, deployment=deployment)

            def walk(routes: Any) -> Iterator[tuple[str, type[Any]]]:
                for route in routes:
                    if isinstance(route, APIRoute) and route.body_field is not None:
                        yield f"{sorted(route.methods)} {route.path}", route.body_field.field_info.annotation
                    elif hasattr(route, "original_router"):
                        yield from walk(route.original_router.routes)

            yield from walk(app.routes)
        finally:
            deployment.close()


def _lax_numbers(schema: Any, path: str = "") -> Iterator[str]:
    """The places in a pydantic core schema where an ``int`` or ``float`` is validated laxly."""
    if isinstance(schema, dict):
        if schema.get("type") in ("int", "float") and not schema.get("strict"):
            yield f"{path} ({schema['type']})"
        for key, value in schema.items():
            yield from _lax_numbers(value, f"{path}.{key}" if key in ("fields", "schema") or path else key)
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _lax_numbers(item, f"{path}[{index}]")


def test_no_request_body_model_reads_a_number_laxly() -> None:
    """Every ``int`` and ``float`` of every body model is strict: a new field laxly typed fails here."""
    lax = {
        operation: found
        for operation, model in _body_models()
        if (found := list(_lax_numbers(model.__pydantic_core_schema__)))
    }
    assert lax == {}


def test_text_fractions_and_booleans_are_no_whole_numbers_nor_numbers_over_http(store_service: Service) -> None:
    with (
        store_service.client("a-liaison") as a,
        store_service.client("b-liaison") as b,
        store_service.client("admin") as admin,
    ):
        # Activity notification: numbers of a volume; then the version of a change.
        listed = b.get("/v1/activities").json()
        for value in NOT_NUMBERS:
            volume = {"geometry": {"type": "Polygon", "coordinates": [RING]}, "lower_ft": value, "upper_ft": 30000}
            assert_problem(a.post("/v1/activities", json=air_operation(volumes=[volume])), 422, "lower_ft")
            circle = {"circle": {"center": [35.1, 36.1], "radius_m": value}, "lower_ft": 0, "upper_ft": 30000}
            assert_problem(a.post("/v1/activities", json=air_operation(volumes=[circle])), 422, "radius_m")
        assert b.get("/v1/activities").json() == listed
        notified = a.post("/v1/activities", json=air_operation())
        assert notified.status_code == 201, notified.text
        activity = notified.json()["activity"]["id"]
        for value in NOT_WHOLE:
            for action, extra in (("acknowledge", {}), ("object", {"reason": "no"})):
                answer = b.post(f"/v1/activities/{activity}/{action}", json={"version": value, **extra})
                assert_problem(answer, 422, "version")
            answer = a.post(f"/v1/activities/{activity}/cancel", json={"version": value})
            assert_problem(answer, 422, "version")
        unchanged = b.get(f"/v1/activities/{activity}").json()
        assert (unchanged["version"], unchanged["status"]) == (1, notified.json()["activity"]["status"]), unchanged
        assert b.post(f"/v1/activities/{activity}/acknowledge", json={"version": 1}).status_code == 200

        # Hotline: a post's reply_to_seq and ack_within_s, a read's through_seq.
        thread = standing_thread(a)
        posted = a.post(
            f"/v1/hotline/threads/{thread}/messages", json={"body": "one", "idempotency_key": "strict-0000"}
        )
        assert posted.status_code == 201, posted.text
        before = messages(a, thread)
        for index, value in enumerate(NOT_WHOLE):
            answer = a.post(
                f"/v1/hotline/threads/{thread}/messages",
                json={"body": "x", "reply_to_seq": value, "idempotency_key": f"strict-reply-{index}"},
            )
            assert_problem(answer, 422, "reply_to_seq")
        for index, value in enumerate(NOT_NUMBERS):
            answer = a.post(
                f"/v1/hotline/threads/{thread}/messages",
                json={"body": "x", "ack_within_s": value, "idempotency_key": f"strict-ack-{index}"},
            )
            assert_problem(answer, 422, "ack_within_s")
        assert messages(a, thread) == before
        unread = b.get("/v1/hotline/unread").json()
        for value in NOT_WHOLE:
            assert_problem(
                b.post(f"/v1/hotline/threads/{thread}/read", json={"through_seq": value}), 422, "through_seq"
            )
        assert b.get("/v1/hotline/unread").json() == unread
        asked = a.post(
            f"/v1/hotline/threads/{thread}/messages",
            json={"body": "ack please", "ack_within_s": 600, "reply_to_seq": 1, "idempotency_key": "strict-good"},
        )
        assert asked.status_code == 201, asked.text
        assert b.post(f"/v1/hotline/threads/{thread}/read", json={"through_seq": 1}).status_code == 200

        # Incidents: an account's amends.
        incident = a.post("/v1/incidents", json={"time": format_utc(time.time() - 3600), "summary": "near miss"})
        assert incident.status_code == 201, incident.text
        accounts = f"/v1/incidents/{incident.json()['id']}/accounts"
        first = a.post(accounts, json={"text": "first"})
        assert first.status_code == 201, first.text
        position = first.json()["position"]
        timeline = a.get(f"/v1/incidents/{incident.json()['id']}/timeline").json()
        for value in (str(position), float(position), position + 0.5, False, True):
            assert_problem(a.post(accounts, json={"text": "again", "amends": value}), 422, "amends")
        assert a.get(f"/v1/incidents/{incident.json()['id']}/timeline").json() == timeline
        assert a.post(accounts, json={"text": "again", "amends": position}).status_code == 201

        # The record: the size of the head a witness cosigns.
        cosignatures = a.get("/v1/record/cosignatures").json()
        for value in ("1", 1.0, 1.5, True):
            assert_problem(a.post("/v1/record/witness", json={"tree_size": value}), 422, "tree_size")
        assert a.get("/v1/record/cosignatures").json() == cosignatures

        # Zones and proposals: altitudes, notice, radius.
        zones = admin.get("/v1/zones").json()
        for value in NOT_NUMBERS:
            for name in ("lower_ft", "min_notice_h", "buffer_m"):
                assert_problem(admin.post("/v1/zones", json=_zone(**{name: value})), 422, name)
        assert admin.get("/v1/zones").json() == zones
        proposals = admin.get("/v1/zone-proposals").json()
        for value in NOT_NUMBERS:
            circle = {"type": "Point", "coordinates": [35.1, 36.1], "radius_m": value}
            answer = a.post("/v1/zone-proposals", json={"source": "uid-1", "name": "Ring", "geometry": circle})
            assert_problem(answer, 422, "radius_m")
        assert admin.get("/v1/zone-proposals").json() == proposals
        box = {"type": "Polygon", "coordinates": [RING]}
        proposed = a.post("/v1/zone-proposals", json={"source": "uid-2", "name": "Box", "geometry": box})
        assert proposed.status_code == 201, proposed.text
        accept = f"/v1/zone-proposals/{proposed.json()['id']}/accept"
        for value in NOT_NUMBERS:
            body = {"zone_id": "strict-accepted", "kind": "special-caution-area", "properties": {"upper_ft": value}}
            assert_problem(admin.post(accept, json=body), 422, "upper_ft")
        assert admin.get("/v1/zones").json() == zones
        body = {"zone_id": "strict-accepted", "kind": "special-caution-area", "properties": {"upper_ft": 5000}}
        assert admin.post(accept, json=body).status_code == 200
        assert admin.post("/v1/zones", json=_zone(lower_ft=0, min_notice_h=2, buffer_m=12.5)).status_code in (200, 201)


def test_text_and_booleans_are_no_track_numbers(service: Service) -> None:
    """A track report's numbers: text or a boolean refuses the batch 422, naming each report and
    field (a JSON number is the reports' shape, not a value to judge report by report), nothing kept;
    as columns, naming the column."""
    with service.client("a-feed") as feed:
        before = service.runtime.ingest.accepted_total
        batch = [report("ua", lat_deg="35.5"), report("ua", alt_m=True), report("ua", vel_up_mps=False), report("ua")]
        answer = assert_problem(feed.post("/v1/tracks", json={"reports": batch}), 422)
        assert [e.split(":")[0] for e in answer["errors"]] == [
            "reports.0.lat_deg",
            "reports.1.alt_m",
            "reports.2.vel_up_mps",
        ], answer
        now = batch[3]["time"]
        for value in NOT_NUMBERS:
            columns = {"unit_id": ["ua"], "time": [now], "lat_deg": [value], "lon_deg": [38]}
            assert_problem(feed.post("/v1/tracks", json={"columns": columns}), 422, "lat_deg")
        assert service.runtime.ingest.accepted_total == before
        whole = feed.post("/v1/tracks", json={"reports": [report("ua", lat_deg=35, lon_deg=38, alt_m=6000)]})
        assert whole.status_code == 202 and whole.json()["accepted_indices"] == [0], whole.text


def test_text_fractions_and_booleans_are_no_sequence_numbers_on_the_socket(service: Service) -> None:
    """A socket's ``read`` frame, a post's ``reply_to_seq`` and a resume's cursors take whole numbers
    only, a post's ``ack_within_s`` numbers only: each wrong one is answered with an error frame naming
    it (the cursors: the socket refuses the resume), nothing recorded, and the socket reads on."""
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        thread = standing_thread(a)
        for key in ("strict-ws-0001", "strict-ws-0002"):
            posted = a.post(f"/v1/hotline/threads/{thread}/messages", json={"body": "x", "idempotency_key": key})
            assert posted.status_code == 201, posted.text
        unread = b.get("/v1/hotline/unread").json()
        with socket(service, "b-liaison") as ws:
            frames_until(ws, lambda f: f["type"] == "resumed")
            for value in NOT_WHOLE:
                ws.send(json.dumps({"type": "read", "thread_id": thread, "through_seq": value}))
                ws.send(json.dumps({"type": "ping"}))
                seen = frames_until(ws, lambda f: f["type"] == "pong")
                errors = [f for f in seen if f["type"] == "error"]
                assert errors and "through_seq" in " ".join(errors[-1]["problems"]), seen
            before = messages(b, thread)
            posts = [("reply_to_seq", value) for value in NOT_WHOLE] + [("ack_within_s", v) for v in NOT_NUMBERS]
            for index, (field, value) in enumerate(posts):
                ref = f"p{index}"
                post = {"type": "post", "ref": ref, "thread_id": thread, "body": "x", field: value}
                ws.send(json.dumps({**post, "idempotency_key": f"strict-ws-post-{index}"}))
                refused = frames_until(ws, lambda f, ref=ref: f.get("ref") == ref)[-1]
                assert refused["type"] == "error" and refused["status"] == "invalid", refused
                assert any(p.startswith(field) for p in refused["problems"]), refused
            assert messages(b, thread) == before
        assert b.get("/v1/hotline/unread").json() == unread
        uri = service.url.replace("http", "ws") + f"/v1/hotline/ws?key={service.keys['b-liaison']}&person=duty"
        for value in NOT_WHOLE:
            with connect(uri, open_timeout=60) as ws:
                ws.send(json.dumps({"type": "resume", "cursors": {thread: value}}))
                frame = json.loads(ws.recv(timeout=10))
                assert frame["type"] == "error" and "cursors" in " ".join(frame["problems"]), frame
