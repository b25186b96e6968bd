"""The authorisation matrix: every endpoint × role × own/other party, and exactly what comes back.

Adding an endpoint without a row here fails ``test_every_endpoint_has_a_row``.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from apisupport import Service, api_routes
from test_api_activities import air_operation

from keepclear.api import create_app
from keepclear.api.hotline_codec import draft_from_json
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activity_from_document
from keepclear.ledger.note import cosign
from keepclear.ledger.witnessing import witness_name
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.settings import Settings

ROLES = ("admin", "a-liaison", "a-feed", "a-observer", None)  # None: no key at all


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def ids(body: Any) -> set[str]:
    return {item["id"] for item in body}


def zone_ids(body: Any) -> set[str]:
    return {f["id"] for f in body["features"]}


Check = Callable[[httpx.Response], None]


def status(code: int, check: Callable[[Any], bool] | None = None) -> Check:
    def verify(response: httpx.Response) -> None:
        assert response.status_code == code, response.text
        if check is not None:
            assert check(response.json()), response.text
        if code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")

    return verify


DENIED = status(403)
NO_KEY = status(401)


def request(service: Service, who: str | None, method: str, path: str, body: Any = None) -> httpx.Response:
    with service.client(who) as client:
        if path == "/v1/stream":
            with client.stream(method, path) as response:
                response.read() if response.status_code != 200 else None
                return response
        return client.request(method, path, json=body)


counter = iter(range(10_000))


def fresh(prefix: str) -> str:
    return f"{prefix}{next(counter)}"


def track(unit_id: str) -> dict[str, Any]:
    return {"reports": [{"unit_id": unit_id, "time": now_iso(), "lat_deg": 35.0, "lon_deg": 38.0, "alt_m": 5000.0}]}


# (method, path) -> role -> list of (variant label, path/body maker, expected)
Case = tuple[str, Callable[[Service], tuple[str, Any]], Check]


def same(path: str, body: Any = None) -> Callable[[Service], tuple[str, Any]]:
    return lambda service: (path, body() if callable(body) else body)


def for_roles(allowed: dict[str | None, Check], default: Check = DENIED) -> dict[str | None, Check]:
    out = {role: allowed.get(role, default) for role in ROLES}
    if None not in allowed:
        out[None] = NO_KEY
    return out


PROPOSED = {"type": "Polygon", "coordinates": [[[38.0, 35.0], [38.1, 35.0], [38.1, 35.1], [38.0, 35.0]]]}


def proposal(service: Service, party: str = "a") -> str:
    """A fresh pending zone proposal of ``party``."""
    return service.deployment.zone_proposals.propose(party, fresh("d"), "P", PROPOSED)[0]


def new_key_id(service: Service) -> tuple[str, Any]:
    info, _ = service.deployment.keys.create(Role.FEED, "a")
    return f"/v1/keys/{info.key_id}", None


EXAMPLE_ZONE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [37.0, 35.0]},
            "properties": {"kind": "protected-site", "name": "Site", "radius_m": 500},
        }
    ],
}


def unique_zone() -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE_ZONE)
    doc["features"][0]["id"] = fresh("site-")
    return doc


def with_alert(service: Service) -> str:
    """An active alert between A's ua and B's ub (converging head on), made through the ingest path."""
    active = service.runtime.tactical.book.active()
    if active:
        return active[0].id
    now = time.time()
    batch = ReportColumns(
        ["ua", "ub"],
        np.array([[now, 35.0, 38.0, 7000.0, 220.0, 0.0, 0.0], [now, 35.0, 38.3, 7000.0, -220.0, 0.0, 0.0]]),
    )
    assert service.runtime.ingest.submit(batch, None).accepted_indices == [0, 1]
    # The running service's pump moves the batch into the track table on its own thread; the probe
    # raises the alert within a few of its ticks.
    deadline = time.monotonic() + 30
    while not (active := service.runtime.tactical.book.active()):
        assert time.monotonic() < deadline, "no alert from two converging aircraft"
        service.runtime.tick()
        time.sleep(0.05)
    return active[0].id


def alert_path(suffix: str) -> Callable[[Service], tuple[str, Any]]:
    return lambda service: (f"/v1/alerts/{with_alert(service)}{suffix}", None)


def alert_then(path: str) -> Callable[[Service], tuple[str, Any]]:
    def make(service: Service) -> tuple[str, Any]:
        with_alert(service)
        return path, None

    return make


def incident_of(service: Service, party: str) -> str:
    """An incident only ``party`` is involved in, reported by that party."""
    incident = service.runtime.incidents.report(party, time_s=time.time() - 60, summary=f"reported by {party}")
    return incident.id


def own_incident(suffix: str) -> Callable[[Service], tuple[str, Any]]:
    return lambda service: (f"/v1/incidents/{incident_of(service, 'a')}{suffix}", None)


def others_incident(suffix: str) -> Callable[[Service], tuple[str, Any]]:
    return lambda service: (f"/v1/incidents/{incident_of(service, 'b')}{suffix}", None)


def with_body(make: Callable[[Service], tuple[str, Any]], body: Any) -> Callable[[Service], tuple[str, Any]]:
    return lambda service: (make(service)[0], body)


def activity_of(service: Service, party: str, addressees: list[str]) -> tuple[str, int]:
    """A fresh activity notified by ``party`` to ``addressees``: (id, version)."""
    body = air_operation(addressees=addressees, units=[], contact=f"{party} duty", start_h=40.0 + next(counter))
    result = service.runtime.activities.notify(activity_from_document(body, party_id=party))
    return result.activity.id, result.activity.version


def activity_route(party: str, addressees: list[str], suffix: str, body: dict[str, Any] | None = None):
    def make(service: Service) -> tuple[str, Any]:
        activity_id, version = activity_of(service, party, addressees)
        payload = None if body is None else {"version": version, **body}
        return f"/v1/activities/{activity_id}{suffix}", payload

    return make


def active_then(suffix: str):
    def make(service: Service) -> tuple[str, Any]:
        activity_id, version = activity_of(service, "a", ["b"])
        service.runtime.activities.activate(activity_id, version, "a")
        return f"/v1/activities/{activity_id}{suffix}", {"version": version}

    return make


def amend_body(service: Service) -> tuple[str, Any]:
    activity_id, version = activity_of(service, "a", ["b"])
    return f"/v1/activities/{activity_id}/amend", {
        "version": version,
        "activity": air_operation(units=[], start_h=60.0),
    }


def amend_others(service: Service) -> tuple[str, Any]:
    activity_id, version = activity_of(service, "b", ["a"])
    return f"/v1/activities/{activity_id}/amend", {
        "version": version,
        "activity": air_operation(units=[], start_h=60.0),
    }


def pair_thread(service: Service) -> str:
    return service.runtime.hotline.ensure_pair_thread("a", "b").id


def foreign_thread(service: Service) -> str:
    """A thread between b and c, which a is not a member of."""
    from keepclear.domain import Party

    if not any(p.id == "c" for p in service.deployment.registry.parties()):
        service.deployment.registry.add_party(Party("c", "Charlie"))
    return service.runtime.hotline.ensure_pair_thread("b", "c").id


def message(text: str = "hello") -> dict[str, Any]:
    return {"kind": "text", "body": text, "idempotency_key": f"matrix-{next(counter):06d}"}


def posted(service: Service) -> tuple[str, int]:
    thread_id = pair_thread(service)
    msg, _ = service.runtime.hotline.post("a", "duty", draft_from_json(message(), thread_id))
    return thread_id, msg.seq


def others_posted(service: Service) -> None:
    """A message of b in its thread with c, which a is not a member of (never a's to count)."""
    service.runtime.hotline.post("b", "duty", draft_from_json(message(), foreign_thread(service)))


NOT_FOUND = status(404)
READERS_OK = {"admin": status(200), "a-liaison": status(200), "a-observer": status(200)}


def entry_only_for(party: str) -> Callable[[Service], tuple[str, Any]]:
    """The inclusion-proof path of a fresh entry whose payload only ``party`` may read."""

    def make(service: Service) -> tuple[str, Any]:
        entry = service.runtime.ledger.append("message.posted", party, {"text": fresh("m")}, audience=[party])
        return f"/v1/record/proof/inclusion?seq={entry.seq}", None

    return make


def cosigned_head(party: str) -> Callable[[Service], tuple[str, Any]]:
    """A body cosigning the latest head with ``party``'s (custodial) key."""

    def make(service: Service) -> tuple[str, Any]:
        ledger = service.runtime.ledger
        ledger.append("message.posted", party, {"text": fresh("w")})
        note = ledger.latest_head().note
        key = ledger.custodial_key(party)
        return "/v1/record/cosignatures", {"note": cosign(note, witness_name(party), key, int(time.time()))}

    return make


def latest_head_size(service: Service) -> tuple[str, Any]:
    """A body naming the latest signed head (after a fresh entry), for the console's witness."""
    ledger = service.runtime.ledger
    ledger.append("message.posted", "a", {"text": fresh("w")})
    return "/v1/record/witness", {"tree_size": ledger.latest_head().seq}


def two_heads(service: Service) -> tuple[str, Any]:
    """A body reporting two signed heads as inconsistent (what a party's client found)."""
    ledger = service.runtime.ledger
    old = ledger.latest_head().note
    ledger.append("message.posted", "a", {"text": fresh("w")})
    body = {"seen_before": old, "served": ledger.latest_head().note, "problem": "does not extend"}
    return "/v1/record/inconsistency", body


def proves(body: Any) -> bool:
    return body["format"] == "keepclear-inclusion-proof" and body["entry"]["payload"] is not None


MATRIX: dict[tuple[str, str], list[tuple[str, Callable[[Service], tuple[str, Any]], dict[str | None, Check]]]] = {
    ("GET", "/v1/health"): [("-", same("/v1/health"), {r: status(200) for r in ROLES})],
    ("GET", "/v1/me"): [
        (
            "-",
            same("/v1/me"),
            for_roles(
                {
                    "admin": status(200, lambda b: b["role"] == "admin" and b["party_id"] is None),
                    "a-liaison": status(200, lambda b: b == {**b, "role": "liaison", "party_id": "a"}),
                    "a-feed": status(200, lambda b: b["role"] == "feed"),
                    "a-observer": status(200, lambda b: b["role"] == "observer"),
                }
            ),
        )
    ],
    ("GET", "/v1/metrics"): [
        ("-", same("/v1/metrics"), for_roles({"admin": status(200, lambda b: b["ingest_queued"] >= 0)}))
    ],
    ("GET", "/v1/parties"): [
        ("-", same("/v1/parties"), for_roles({r: status(200, lambda b: ids(b) == {"a", "b"}) for r in ROLES if r}))
    ],
    ("POST", "/v1/parties"): [
        ("-", lambda s: ("/v1/parties", {"id": fresh("p"), "name": "P"}), for_roles({"admin": status(201)}))
    ],
    ("GET", "/v1/forces"): [
        (
            "own only",
            same("/v1/forces"),
            for_roles(
                {
                    "admin": status(200, lambda b: ids(b) == {"fa", "fa-partner", "fb"}),
                    "a-liaison": status(200, lambda b: ids(b) == {"fa", "fa-partner"}),
                    "a-observer": status(200, lambda b: ids(b) == {"fa", "fa-partner"}),
                }
            ),
        )
    ],
    ("POST", "/v1/forces"): [
        (
            "-",
            lambda s: ("/v1/forces", {"id": fresh("f"), "name": "F", "party_id": "b"}),
            for_roles({"admin": status(201)}),
        )
    ],
    ("GET", "/v1/units"): [
        (
            "own only",
            same("/v1/units"),
            for_roles(
                {
                    "admin": status(200, lambda b: ids(b) == {"ua", "ua-partner", "ub"}),
                    "a-liaison": status(200, lambda b: ids(b) == {"ua", "ua-partner"}),
                    "a-feed": status(200, lambda b: ids(b) == {"ua", "ua-partner"}),
                    "a-observer": status(200, lambda b: ids(b) == {"ua", "ua-partner"}),
                }
            ),
        )
    ],
    ("POST", "/v1/units"): [
        (
            "-",
            lambda s: ("/v1/units", {"id": fresh("u"), "callsign": "U", "domain": "sea", "force_id": "fb"}),
            for_roles({"admin": status(201, lambda b: b["party_id"] == "b")}),
        )
    ],
    ("GET", "/v1/zones"): [
        (
            "shared",
            same("/v1/zones"),
            for_roles(
                {
                    r: status(200, lambda b: "eastern-ghouta" in zone_ids(b))
                    for r in ("admin", "a-liaison", "a-observer")
                }
            ),
        )
    ],
    ("GET", "/v1/zones/{zone_id}"): [
        (
            "shared",
            same("/v1/zones/al-tanf"),
            for_roles({r: status(200, lambda b: b["id"] == "al-tanf") for r in ("admin", "a-liaison", "a-observer")}),
        )
    ],
    ("POST", "/v1/zones"): [("-", lambda s: ("/v1/zones", unique_zone()), for_roles({"admin": status(201)}))],
    ("GET", "/v1/keys"): [
        ("-", same("/v1/keys"), for_roles({"admin": status(200, lambda b: all("key" not in k for k in b))}))
    ],
    ("POST", "/v1/keys"): [
        (
            "-",
            same("/v1/keys", {"role": "observer", "party_id": "b"}),
            for_roles({"admin": status(201, lambda b: b["key"].startswith("kc_"))}),
        )
    ],
    ("DELETE", "/v1/keys/{key_id}"): [("-", new_key_id, for_roles({"admin": status(204)}))],
    ("POST", "/v1/tracks"): [
        (
            "own unit",
            lambda s: ("/v1/tracks", track("ua")),
            for_roles({"a-feed": status(202, lambda b: b["accepted"] == 1 and b["refused"] == [])}),
        ),
        (
            "other party's unit",
            lambda s: ("/v1/tracks", track("ub")),
            for_roles(
                {
                    "a-feed": status(
                        202,
                        lambda b: b["accepted"] == 0 and b["refused"][0]["problems"] == ["unit_id: unknown unit 'ub'"],
                    )
                }
            ),
        ),
    ],
    ("GET", "/v1/tracks"): [
        (
            "own, and other's inside an alert",
            alert_then("/v1/tracks"),
            for_roles(
                {
                    "a-liaison": status(200, lambda b: {t["unit_id"] for t in b} == {"ua", "ub"}),
                    "a-observer": status(200, lambda b: {t["unit_id"] for t in b} == {"ua", "ub"}),
                }
            ),
        )
    ],
    ("GET", "/v1/tracks/history"): [
        (
            "own only",
            alert_then("/v1/tracks/history?since=2000-01-01T00:00:00Z"),
            for_roles(
                {r: status(200, lambda b: {p["unit_id"] for p in b} == {"ua"}) for r in ("a-liaison", "a-observer")}
            ),
        )
    ],
    ("GET", "/v1/alerts"): [
        (
            "involving own units",
            alert_then("/v1/alerts"),
            for_roles(
                {
                    "a-liaison": status(
                        200, lambda b: len(b) == 1 and {b[0]["party_a"], b[0]["party_b"]} == {"a", "b"}
                    ),
                    "a-observer": status(200, lambda b: len(b) == 1),
                }
            ),
        )
    ],
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): [
        (
            "own alert",
            alert_path("/acknowledge"),
            for_roles({"a-liaison": status(200, lambda b: "a" in b["acknowledged_by"])}),
        )
    ],
    ("GET", "/v1/crossings"): [
        ("own", same("/v1/crossings"), for_roles({"a-liaison": status(200), "a-observer": status(200)}))
    ],
    ("GET", "/v1/record/export"): [
        (
            "party's own view",
            same("/v1/record/export"),
            for_roles({r: status(200, lambda b: b["version"] == 3 and len(b["entries"]) > 0) for r in READERS_OK}),
        )
    ],
    ("GET", "/v1/record/checkpoint"): [("-", same("/v1/record/checkpoint"), for_roles(READERS_OK))],
    ("GET", "/v1/record/proof/inclusion"): [
        ("entry it may read", entry_only_for("a"), for_roles({r: status(200, proves) for r in READERS_OK})),
        (
            "entry of another party's audience",
            entry_only_for("b"),
            for_roles({"admin": status(200, proves), "a-liaison": NOT_FOUND, "a-observer": NOT_FOUND}),
        ),
    ],
    ("GET", "/v1/record/proof/consistency"): [
        (
            "from the latest head",
            lambda s: (f"/v1/record/proof/consistency?old={s.runtime.ledger.latest_head().seq}", None),
            for_roles({r: status(200, lambda b: b["format"] == "keepclear-consistency-proof") for r in READERS_OK}),
        )
    ],
    ("GET", "/v1/record/cosignatures"): [
        (
            "latest head",
            same("/v1/record/cosignatures"),
            for_roles({r: status(200, lambda b: "agreed" in b) for r in READERS_OK}),
        )
    ],
    ("POST", "/v1/record/cosignatures"): [
        (
            "own party's cosignature",
            cosigned_head("a"),
            for_roles({"a-liaison": status(201, lambda b: "a" in b["cosigned_by"])}),
        ),
        (
            "another party's cosignature",
            cosigned_head("b"),
            for_roles({"a-liaison": status(403)}),
        ),
    ],
    ("POST", "/v1/record/witness"): [
        (
            "own party's custodial cosignature",
            latest_head_size,
            for_roles({"a-liaison": status(201, lambda b: "a" in b["cosigned_by"])}),
        )
    ],
    ("POST", "/v1/record/inconsistency"): [
        ("own party's alarm", two_heads, for_roles({"a-liaison": status(201, lambda b: b["status"] == "raised")}))
    ],
    ("GET", "/v1/incidents"): [
        (
            "involved only",
            lambda s: (incident_of(s, "b"), ("/v1/incidents", None))[1],
            for_roles(
                {
                    "admin": status(200, lambda b: any("b" in i["parties"] for i in b)),
                    "a-liaison": status(200, lambda b: all("a" in i["parties"] for i in b)),
                    "a-observer": status(200, lambda b: all("a" in i["parties"] for i in b)),
                }
            ),
        )
    ],
    ("POST", "/v1/incidents"): [
        (
            "-",
            same("/v1/incidents", {"time": format_utc(time.time() - 3600), "summary": "near miss over the river"}),
            for_roles({"a-liaison": status(201, lambda b: b["reported_by"] == "a" and b["parties"] == ["a"])}),
        )
    ],
    ("GET", "/v1/incidents/{incident_id}"): [
        ("own", own_incident(""), for_roles(READERS_OK)),
        (
            "other's",
            others_incident(""),
            for_roles({"admin": status(200), "a-liaison": NOT_FOUND, "a-observer": NOT_FOUND}),
        ),
    ],
    ("GET", "/v1/incidents/{incident_id}/timeline"): [
        ("own", own_incident("/timeline"), for_roles({r: status(200, lambda b: b == []) for r in READERS_OK})),
        (
            "other's",
            others_incident("/timeline"),
            for_roles({"admin": status(200), "a-liaison": NOT_FOUND, "a-observer": NOT_FOUND}),
        ),
    ],
    ("POST", "/v1/incidents/{incident_id}/accounts"): [
        (
            "own",
            with_body(own_incident("/accounts"), {"text": "our account"}),
            for_roles({"a-liaison": status(201, lambda b: b["party_id"] == "a")}),
        ),
        ("other's", with_body(others_incident("/accounts"), {"text": "x"}), for_roles({"a-liaison": NOT_FOUND})),
    ],
    ("POST", "/v1/incidents/{incident_id}/review"): [
        (
            "own",
            with_body(own_incident("/review"), {"status": "under-review"}),
            for_roles({"a-liaison": status(200, lambda b: b["status"] == "under-review")}),
        ),
        ("other's", with_body(others_incident("/review"), {"status": "agreed"}), for_roles({"a-liaison": NOT_FOUND})),
    ],
    ("GET", "/v1/incidents/{incident_id}/report"): [
        ("own", own_incident("/report"), for_roles(READERS_OK)),
        (
            "other's",
            others_incident("/report"),
            for_roles({"admin": status(200), "a-liaison": NOT_FOUND, "a-observer": NOT_FOUND}),
        ),
    ],
    ("GET", "/v1/activities"): [
        (
            "visible only",
            same("/v1/activities"),
            for_roles({"a-liaison": status(200), "a-observer": status(200)}),
        )
    ],
    ("POST", "/v1/activities"): [
        (
            "-",
            lambda s: ("/v1/activities", air_operation(units=[], start_h=80.0 + next(counter))),
            for_roles({"a-liaison": status(201, lambda b: b["addressees"] == ["b"])}),
        )
    ],
    ("POST", "/v1/activities/batch"): [
        (
            "-",
            lambda s: ("/v1/activities/batch", {"activities": [air_operation(units=[], start_h=80.0 + next(counter))]}),
            for_roles({"a-liaison": status(201, lambda b: b["activities"][0]["addressees"] == ["b"])}),
        )
    ],
    ("GET", "/v1/activities/{activity_id}"): [
        (
            "own",
            activity_route("a", ["b"], ""),
            for_roles({r: status(200, lambda b: "acknowledgements" in b) for r in ("a-liaison", "a-observer")}),
        ),
        (
            "addressed to us",
            activity_route("b", ["a"], ""),
            for_roles({r: status(200, lambda b: "acknowledgements" not in b) for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("GET", "/v1/activities/{activity_id}/overlaps"): [
        (
            "own",
            activity_route("a", ["b"], "/overlaps"),
            for_roles({r: status(200, lambda b: isinstance(b, list)) for r in ("a-liaison", "a-observer")}),
        ),
        (
            "addressed to us",
            activity_route("b", ["a"], "/overlaps"),
            for_roles({r: NOT_FOUND for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("GET", "/v1/activities/{activity_id}/conflicts"): [
        (
            "own",
            activity_route("a", ["b"], "/conflicts"),
            for_roles({r: status(200, lambda b: isinstance(b, list)) for r in ("a-liaison", "a-observer")}),
        ),
        (
            "addressed to us",
            activity_route("b", ["a"], "/conflicts"),
            for_roles({r: NOT_FOUND for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("POST", "/v1/activities/{activity_id}/acknowledge"): [
        ("addressed to us", activity_route("b", ["a"], "/acknowledge", {}), for_roles({"a-liaison": status(200)})),
        ("own", activity_route("a", ["b"], "/acknowledge", {}), for_roles({"a-liaison": DENIED})),
    ],
    ("POST", "/v1/activities/{activity_id}/object"): [
        (
            "addressed to us",
            activity_route("b", ["a"], "/object", {"reason": "conflicts with our convoy"}),
            for_roles({"a-liaison": status(200)}),
        ),
        ("own", activity_route("a", ["b"], "/object", {"reason": "x"}), for_roles({"a-liaison": DENIED})),
    ],
    ("POST", "/v1/activities/{activity_id}/amend"): [
        ("own", amend_body, for_roles({"a-liaison": status(200, lambda b: b["activity"]["version"] == 2)})),
        ("other's", amend_others, for_roles({"a-liaison": DENIED})),
    ],
    ("POST", "/v1/activities/{activity_id}/activate"): [
        (
            "own",
            activity_route("a", ["b"], "/activate", {}),
            for_roles({"a-liaison": status(200, lambda b: b["status"] == "active")}),
        ),
        ("other's", activity_route("b", ["a"], "/activate", {}), for_roles({"a-liaison": DENIED})),
    ],
    ("POST", "/v1/activities/{activity_id}/complete"): [
        (
            "own",
            active_then("/complete"),
            for_roles({"a-liaison": status(200, lambda b: b["status"] == "completed")}),
        ),
    ],
    ("POST", "/v1/activities/{activity_id}/cancel"): [
        (
            "own",
            activity_route("a", ["b"], "/cancel", {"reason": "weather"}),
            for_roles({"a-liaison": status(200, lambda b: b["status"] == "cancelled")}),
        ),
        ("other's", activity_route("b", ["a"], "/cancel", {}), for_roles({"a-liaison": DENIED})),
    ],
    ("GET", "/v1/hotline/threads"): [
        (
            "member only",
            lambda s: (foreign_thread(s), ("/v1/hotline/threads", None))[1],
            for_roles(
                {
                    r: status(200, lambda b: all("a" in t["parties"] for t in b) and len(b) >= 1)
                    for r in ("a-liaison", "a-observer")
                }
            ),
        )
    ],
    ("GET", "/v1/hotline/unread"): [
        (
            "own party's",
            lambda s: (others_posted(s), ("/v1/hotline/unread", None))[1],
            for_roles(
                {
                    r: status(200, lambda b: set(b) == {"threads", "messages"} and b["messages"] >= b["threads"] >= 0)
                    for r in ("a-liaison", "a-observer")
                }
            ),
        )
    ],
    ("POST", "/v1/hotline/threads"): [
        (
            "-",
            same("/v1/hotline/threads", {"parties": ["a", "b"], "title": "Mayadin"}),
            for_roles({"a-liaison": status(201)}),
        )
    ],
    ("GET", "/v1/hotline/threads/{thread_id}"): [
        (
            "member",
            lambda s: (f"/v1/hotline/threads/{posted(s)[0]}", None),
            for_roles(
                {
                    r: status(200, lambda b: "a" in b["parties"] and b["last_seq"] >= 1)
                    for r in ("a-liaison", "a-observer")
                }
            ),
        ),
        (
            "not a member",
            lambda s: (f"/v1/hotline/threads/{foreign_thread(s)}", None),
            for_roles({r: NOT_FOUND for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("GET", "/v1/hotline/threads/{thread_id}/messages"): [
        (
            "member",
            lambda s: (f"/v1/hotline/threads/{posted(s)[0]}/messages", None),
            for_roles({r: status(200, lambda b: len(b) >= 1) for r in ("a-liaison", "a-observer")}),
        ),
        (
            "not a member",
            lambda s: (f"/v1/hotline/threads/{foreign_thread(s)}/messages", None),
            for_roles({r: NOT_FOUND for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("POST", "/v1/hotline/threads/{thread_id}/messages"): [
        (
            "member",
            lambda s: (f"/v1/hotline/threads/{pair_thread(s)}/messages", message()),
            for_roles({"a-liaison": status(201, lambda b: b["created"] is True)}),
        ),
        (
            "not a member",
            lambda s: (f"/v1/hotline/threads/{foreign_thread(s)}/messages", message()),
            for_roles({"a-liaison": NOT_FOUND}),
        ),
    ],
    ("POST", "/v1/hotline/threads/{thread_id}/read"): [
        (
            "member",
            lambda s: (f"/v1/hotline/threads/{posted(s)[0]}/read", {"through_seq": 1}),
            for_roles({"a-liaison": status(200)}),
        ),
    ],
    ("GET", "/v1/hotline/threads/{thread_id}/messages/{seq}/receipts"): [
        (
            "member",
            lambda s: ("/v1/hotline/threads/{}/messages/{}/receipts".format(*posted(s)), None),
            for_roles({r: status(200) for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("PUT", "/v1/hotline/availability"): [
        (
            "own",
            same("/v1/hotline/availability", {"availability": "degraded", "reason": "generator fault"}),
            for_roles({"a-liaison": status(200, lambda b: b["party_id"] == "a")}),
        ),
    ],
    ("GET", "/v1/hotline/availability/{party_id}"): [
        ("other", same("/v1/hotline/availability/b"), for_roles({r: status(200) for r in ("a-liaison", "a-observer")})),
    ],
    ("GET", "/v1/hotline/phrases"): [
        (
            "-",
            same("/v1/hotline/phrases"),
            for_roles({r: status(200, lambda b: len(b) >= 20) for r in ("a-liaison", "a-observer")}),
        ),
    ],
    ("GET", "/v1/stream"): [
        ("-", same("/v1/stream"), for_roles({"a-liaison": status(200), "a-observer": status(200)}))
    ],
    ("GET", "/v1/feeds"): [
        (
            "own units only",
            same("/v1/feeds"),
            for_roles(
                {
                    r: status(200, lambda b: all(not f["unit_id"].startswith("ub") for f in b))
                    for r in ("a-liaison", "a-observer")
                }
            ),
        )
    ],
    ("POST", "/v1/zone-proposals"): [
        (
            "-",
            lambda s: ("/v1/zone-proposals", {"source": fresh("d"), "name": "P", "geometry": PROPOSED}),
            for_roles({r: status(201, lambda b: b["created"] is True) for r in ("a-liaison", "a-feed")}),
        )
    ],
    ("GET", "/v1/zone-proposals"): [
        (
            "own only",
            lambda s: (proposal(s), proposal(s, "b"), ("/v1/zone-proposals", None))[-1],
            for_roles(
                {
                    "admin": status(200, lambda b: {p["party_id"] for p in b} == {"a", "b"}),
                    **{
                        r: status(200, lambda b: len(b) >= 1 and {p["party_id"] for p in b} == {"a"})
                        for r in ("a-liaison", "a-feed", "a-observer")
                    },
                }
            ),
        )
    ],
    ("GET", "/v1/zone-proposals/{proposal_id}"): [
        (
            "own",
            lambda s: (f"/v1/zone-proposals/{proposal(s)}", None),
            for_roles(
                {
                    r: status(200, lambda b: b["party_id"] == "a" and b["state"] == "pending")
                    for r in ("admin", "a-liaison", "a-feed", "a-observer")
                }
            ),
        ),
        (
            "other party's",
            lambda s: (f"/v1/zone-proposals/{proposal(s, 'b')}", None),
            for_roles(
                {
                    "admin": status(200, lambda b: b["party_id"] == "b"),
                    **{r: NOT_FOUND for r in ("a-liaison", "a-feed", "a-observer")},
                }
            ),
        ),
    ],
    ("POST", "/v1/zone-proposals/{proposal_id}/accept"): [
        (
            "-",
            lambda s: (
                f"/v1/zone-proposals/{proposal(s)}/accept",
                {"zone_id": fresh("zp"), "kind": "special-caution-area"},
            ),
            for_roles({"admin": status(200)}),
        )
    ],
    ("POST", "/v1/zone-proposals/{proposal_id}/refuse"): [
        (
            "-",
            lambda s: (f"/v1/zone-proposals/{proposal(s)}/refuse", {"reason": "not agreed"}),
            for_roles({"admin": status(200)}),
        )
    ],
}


def routes() -> set[tuple[str, str]]:
    return {(method, path) for method, path, _ in api_routes(_app())}


def _app() -> Any:
    folder = tempfile.mkdtemp()
    settings = Settings(data_dir=folder)
    return create_app(settings, deployment=Deployment.open(settings, create=True))


def test_every_endpoint_has_a_row():
    assert routes() == set(MATRIX), "endpoints and matrix rows differ: add a row for every endpoint"


def test_every_row_covers_every_role():
    for key, cases in MATRIX.items():
        for label, _, expected in cases:
            assert set(expected) == set(ROLES), f"{key} {label} does not say what each role gets"


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda k: f"{k[0]} {k[1]}")
def test_matrix(service: Service, endpoint: tuple[str, str]):
    method, _ = endpoint
    for label, make, expected in MATRIX[endpoint]:
        for role, verify in expected.items():
            path, body = make(service)
            response = request(service, role, method, path, body)
            try:
                verify(response)
            except AssertionError as exc:
                raise AssertionError(f"{method} {path} [{label}] as {role}: {exc}") from None


def test_refused_track_of_another_partys_unit_is_not_stored(service: Service):
    before = service.runtime.ingest.accepted_total
    with service.client("a-feed") as client:
        response = client.post("/v1/tracks", json=track("ub"))
    assert response.json()["accepted"] == 0
    assert service.runtime.ingest.accepted_total == before
