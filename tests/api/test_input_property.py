"""Issue 15: no stored object can make a later read fail.

Hypothesis puts hostile values (lone surrogates, NUL, huge and non-finite numbers, deep nesting, long
text, wrong types) into one field of a valid request on every write path, sends it through a real
server on SQLite and on PostgreSQL, and then reads everything back as every role: no answer may be a
5xx, every answer must be JSON, whatever was accepted before. The server lives across the examples,
so what one example stored is read by all the later ones.

``KEEPCLEAR_PROPERTY_EXAMPLES`` sets the examples per store (default 12).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from apisupport import Service
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_api_activities import air_operation

from keepclear.domain.timefmt import format_utc

EXAMPLES = int(os.environ.get("KEEPCLEAR_PROPERTY_EXAMPLES", "12"))
ROLES = ("admin", "a-liaison", "a-observer", "a-feed", "b-liaison", "b-observer")
JSON = {"Content-Type": "application/json"}

_scalar = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\udfff", "\ud800x", "a\x00b", "", " ", "x" * 20_000, "<script>", "%00", "../../etc"]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
_nested = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HOSTILE = st.one_of(_scalar, _nested, st.builds(lambda depth: _deep(depth), st.integers(50, 700)))


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _send(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    """The body as Python writes JSON: lone surrogates escaped, NaN and Infinity as literals."""
    return client.request(method, path, content=json.dumps(body).encode(), headers=JSON)


def _thread(client: httpx.Client) -> str:
    threads = client.get("/v1/hotline/threads").json()
    return next(t["id"] for t in threads if set(t["parties"]) == {"a", "b"})


def _track(**changes: Any) -> dict[str, Any]:
    report = {"unit_id": "ua", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": 40.0, "alt_m": 6000.0}
    return {"reports": [{**report, **changes}]}


#: Write paths: (who, method, path or a function of the client giving it, a valid body, fields to spoil).
WRITES: list[tuple[str, str, str | Callable[[httpx.Client], str], Callable[[], dict[str, Any]], tuple[str, ...]]] = [
    ("a-liaison", "POST", "/v1/activities", air_operation, ("text", "contact", "kind", "units", "addressees", "start", "volumes", "id")),
    ("a-liaison", "POST", lambda c: f"/v1/hotline/threads/{_thread(c)}/messages",
     lambda: {"kind": "text", "body": "hello", "data": {"n": 1}}, ("body", "data", "kind", "reply_to_seq")),
    ("a-liaison", "POST", "/v1/hotline/threads", lambda: {"parties": ["b"], "title": "Coordination"}, ("title", "parties")),
    ("a-liaison", "PUT", "/v1/hotline/availability", lambda: {"availability": "degraded", "reason": "drill"}, ("reason", "availability")),
    ("a-liaison", "POST", "/v1/incidents", lambda: {"time": format_utc(time.time() - 60), "summary": "near miss"},
     ("summary", "time", "unit_ids", "alert_ids")),
    ("a-feed", "POST", "/v1/tracks", _track, ("reports",)),
    ("admin", "POST", "/v1/parties", lambda: {"id": "c", "name": "Charlie"}, ("id", "name", "roster", "language")),
    ("admin", "POST", "/v1/zones",
     lambda: {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "z-prop",
              "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
              "properties": {"kind": "protected-site", "name": "Site", "radius_m": 500}}]},
     ("features",)),
]  # fmt: skip

#: Reads, each as every role (a route a role may not use answers 403, which is fine; a 5xx is not).
READS = (
    "/v1/me",
    "/v1/parties",
    "/v1/units",
    "/v1/zones",
    "/v1/tracks",
    "/v1/alerts?include_resolved=true",
    "/v1/activities",
    "/v1/hotline/threads",
    "/v1/incidents",
    "/v1/record/export",
    "/v1/metrics",
    "/v1/health",
)


def _read_everything(service: Service) -> list[str]:
    failures = []
    for role in ROLES:
        with service.client(role) as client:
            paths = list(READS)
            threads = client.get("/v1/hotline/threads")
            if threads.status_code == 200:
                paths += [f"/v1/hotline/threads/{t['id']}/messages?after_seq=0" for t in threads.json()]
            activities = client.get("/v1/activities")
            if activities.status_code == 200:
                for view in activities.json():
                    activity_id = view.get("id") or view.get("activity", {}).get("id")
                    if activity_id:
                        paths.append(f"/v1/activities/{activity_id}")
            incidents = client.get("/v1/incidents")
            if incidents.status_code == 200:
                paths += [f"/v1/incidents/{i['id']}" for i in incidents.json()]
            for path in paths:
                answer = client.get(path)
                if answer.status_code >= 500:
                    failures.append(f"{role} GET {path}: {answer.status_code} {answer.text[:200]}")
                    continue
                try:
                    answer.json()
                except ValueError:
                    failures.append(f"{role} GET {path}: not JSON: {answer.text[:200]}")
    return failures


@pytest.mark.parametrize("write", WRITES, ids=[w[2] if isinstance(w[2], str) else "messages" for w in WRITES])
def test_no_stored_value_breaks_a_later_read(store_service: Service, write: Any) -> None:
    who, method, where, valid, fields = write

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(field=st.sampled_from(fields), value=HOSTILE)
    def case(field: str, value: Any) -> None:
        body = valid()
        body[field] = value
        with store_service.client(who) as client:
            path = where if isinstance(where, str) else where(client)
            answer = _send(client, method, path, body)
        assert answer.status_code < 500, f"{method} {path} with {field}={value!r:.200}: {answer.text[:300]}"
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json"), answer.text[:300]
        assert _read_everything(store_service) == []

    case()
