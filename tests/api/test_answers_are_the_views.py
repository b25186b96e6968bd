"""Issue 18: the response models describe the answers without changing them. The bytes a client gets
are the service's own view serialised as before (same fields, same order, an integer stays an
integer), for the answers whose models leave out what a view does not have."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from apisupport import Service

from keepclear.domain.timefmt import format_utc
from keepclear.services.activities.views import view_for

SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]


def _wire(value: Any) -> bytes:
    """``value`` as the API has always serialised a dict (Starlette's JSONResponse)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _operation(now_s: float, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "air-operation",
        "start": format_utc(now_s + 30 * 3600),
        "end": format_utc(now_s + 34 * 3600),
        "addressees": ["b"],
        "units": ["ua"],
        "contact": "Alpha duty officer",
        "volumes": [
            {"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000},
            {"circle": {"lat": 35.4, "lon": 40.0, "radius_m": 3000}, "lower_ft": 0, "upper_ft": 20000},
        ],
    }
    return body | changes


def test_activity_zone_and_message_answers_are_the_views_byte_for_byte(store_service: Service) -> None:
    service, rt, now_s = store_service, store_service.runtime, time.time()

    def call(who: str, path: str, method: str = "GET", body: object = None) -> bytes:
        with service.client(who) as client:
            response = client.request(method, path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.content

    def same(who: str, path: str, expected: Callable[[], Any]) -> None:
        """The answer is ``expected()`` serialised, read while the service's state stands still."""
        for _ in range(5):
            before = expected()
            answer = call(who, path)
            if expected() == before:
                assert answer == _wire(before)
                return
        raise AssertionError(f"{path}: the state kept changing")

    same("a-liaison", "/v1/zones", service.deployment.zones.export_document)
    for zone in service.deployment.zones.list():
        same("a-liaison", f"/v1/zones/{zone.id}", lambda zone_id=zone.id: service.deployment.zones.feature(zone_id))

    mine = json.loads(call("a-liaison", "/v1/activities", "POST", _operation(now_s)))["activity"]["id"]
    route = {
        "half_width_m": 2000,
        "lower_ft": 0,
        "upper_ft": 25000,
        "waypoints": [
            {"lat": 35.2, "lon": 39.8, "time": format_utc(now_s + 31 * 3600)},
            {"lat": 35.6, "lon": 40.3, "time": format_utc(now_s + 32 * 3600)},
        ],
    }
    theirs_body = _operation(now_s, addressees=["a"], units=["ub"], share_units=True, contact="Bravo", route=route)
    del theirs_body["volumes"]
    theirs = json.loads(call("b-liaison", "/v1/activities", "POST", theirs_body))["activity"]["id"]
    for who, party in (("a-liaison", "a"), ("b-liaison", "b"), ("a-observer", "a")):

        def view(activity_id: str, party: str = party) -> Any:
            return view_for(rt.activities.get(activity_id), party, rt.activities.overlaps_of(party, [activity_id]))

        def listed(party: str = party) -> list[dict[str, Any]]:
            views = [(a.id, view(a.id, party)) for a in rt.activities.activities()]
            return [{"id": activity_id, **v} for activity_id, v in views if v is not None]

        for activity_id in (mine, theirs):
            same(who, f"/v1/activities/{activity_id}", lambda activity_id=activity_id: view(activity_id))
        same(who, "/v1/activities", listed)

    thread = rt.hotline.ensure_pair_thread("a", "b").id
    post = {"body": "hello", "idempotency_key": "views-00001", "data": {"n": 1, "x": 2.5, "list": [1, "a", None]}}
    call("a-liaison", f"/v1/hotline/threads/{thread}/messages", "POST", post)
    language = rt.hotline.language_of("b")
    same(
        "b-liaison",
        f"/v1/hotline/threads/{thread}/messages",
        lambda: [rt.hotline.view(m, language, "b") for m in rt.hotline.messages("b", thread, 0, 500)],
    )
