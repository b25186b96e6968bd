"""A valid request for each write route of the API, on the run's own objects: who sends it, the path
with its parameters filled, and the body. The role checks send them with the wrong keys; the bad-input
checks spoil them one way at a time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from keepclear.conformance.client import ADMIN, Who, feed, liaison
from keepclear.conformance.world import World, utc, zone_document

#: Write routes only the deployment's admin may use.
ADMIN_ROUTES = frozenset(
    {
        ("POST", "/v1/parties"),
        ("POST", "/v1/forces"),
        ("POST", "/v1/units"),
        ("POST", "/v1/zones"),
        ("POST", "/v1/keys"),
        ("DELETE", "/v1/keys/{key_id}"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/metrics"),
    }
)


@dataclass(frozen=True)
class Request:
    who: Who
    path: str
    body: Any


def valid_request(w: World, method: str, path: str) -> Request | None:
    """The valid request of ``method path`` on the run's objects, or None when the suite knows none."""
    a, b = w.a, w.b
    a1 = w.activities.get(w.activity_id(w.a, "a1"), w.activity_id(w.a, "a1"))
    thread = w.threads.get(f"{a}-{b}", "")
    incident = w.incidents.get("a", "")
    activity = {k: v for k, v in w.activity_document(a, "a1", [b]).items() if k != "id"}
    known: dict[tuple[str, str], Request] = {
        ("POST", "/v1/parties"): Request(ADMIN, path, {"id": w.name("p"), "name": w.name("p")}),
        ("POST", "/v1/forces"): Request(ADMIN, path, {"id": w.name("f"), "name": "f", "party_id": a}),
        ("POST", "/v1/units"): Request(
            ADMIN, path, {"id": w.name("u"), "callsign": "X", "domain": "air", "kind": "", "force_id": w.name(f"{a}-f")}
        ),
        ("POST", "/v1/zones"): Request(
            ADMIN,
            path,
            zone_document(
                w.name("zone"), w.lat_deg + 3.0, w.lon_deg, 0.05, kind="special-caution-area", name=w.name("zone")
            ),
        ),
        ("POST", "/v1/keys"): Request(ADMIN, path, {"role": "observer", "party_id": a, "label": w.name("key")}),
        ("POST", "/v1/tracks"): Request(
            feed(a), path, {"reports": [{**w.reports[w.units[a][1]], "time": utc(time.time())}]}
        ),
        ("POST", "/v1/activities"): Request(liaison(a), path, w.activity_document(a, "x", [b])),
        ("POST", "/v1/activities/batch"): Request(
            liaison(a), path, {"activities": [w.activity_document(a, "x", [b]), w.activity_document(a, "y", [b])]}
        ),
        ("POST", "/v1/activities/{activity_id}/acknowledge"): Request(
            liaison(b), f"/v1/activities/{a1}/acknowledge", {"version": 1}
        ),
        ("POST", "/v1/activities/{activity_id}/object"): Request(
            liaison(b), f"/v1/activities/{a1}/object", {"version": 1, "reason": "conformance"}
        ),
        ("POST", "/v1/activities/{activity_id}/amend"): Request(
            liaison(a), f"/v1/activities/{a1}/amend", {"version": 1, "activity": activity}
        ),
        ("POST", "/v1/incidents"): Request(liaison(a), path, {"time": utc(time.time() - 60), "summary": w.name("i")}),
        # A well-formed cosigned head (an outside client holds no key the log would accept: refused, not stored).
        ("POST", "/v1/record/cosignatures"): Request(
            liaison(a), path, {"note": f"keepclear.ledger/{w.name('log')}\n1\n{'A' * 43}=\n\n\u2014 w {'A' * 96}\n"}
        ),
        # A head far past the log's size: well-formed, refused, nothing cosigned.
        ("POST", "/v1/record/witness"): Request(liaison(a), path, {"tree_size": 2**62}),
        # Heads that are not signed notes: well-formed, refused (422), no alarm raised.
        ("POST", "/v1/record/inconsistency"): Request(
            liaison(a), path, {"seen_before": w.name("head"), "served": w.name("head"), "problem": "conformance"}
        ),
        ("POST", "/v1/zone-proposals"): Request(
            liaison(a),
            path,
            {
                "source": w.name("drawing"),
                "name": w.name("proposal"),
                "geometry": zone_document(w.name("p"), w.lat_deg + 4.0, w.lon_deg, 0.05)["features"][0]["geometry"],
            },
        ),
        # No such proposal: well-formed, refused (404), nothing decided.
        ("POST", "/v1/zone-proposals/{proposal_id}/accept"): Request(
            ADMIN,
            f"/v1/zone-proposals/{w.name('no-proposal')}/accept",
            {"zone_id": w.name("z"), "kind": "special-caution-area"},
        ),
        ("POST", "/v1/zone-proposals/{proposal_id}/refuse"): Request(
            ADMIN, f"/v1/zone-proposals/{w.name('no-proposal')}/refuse", {"reason": "conformance"}
        ),
        ("POST", "/v1/incidents/{incident_id}/accounts"): Request(
            liaison(a), f"/v1/incidents/{incident}/accounts", {"text": w.name("account")}
        ),
        ("POST", "/v1/incidents/{incident_id}/review"): Request(
            liaison(a), f"/v1/incidents/{incident}/review", {"status": "under-review", "note": ""}
        ),
        ("POST", "/v1/hotline/threads"): Request(liaison(a), path, {"parties": [b], "title": w.name("t")}),
        ("POST", "/v1/hotline/threads/{thread_id}/messages"): Request(
            liaison(a),
            f"/v1/hotline/threads/{thread}/messages",
            {"kind": "text", "body": w.name("text"), "idempotency_key": w.name("k-valid")},
        ),
        ("POST", "/v1/hotline/threads/{thread_id}/read"): Request(
            liaison(a), f"/v1/hotline/threads/{thread}/read", {"through_seq": 1}
        ),
        ("PUT", "/v1/hotline/availability"): Request(liaison(a), path, {"availability": "available", "reason": ""}),
    }
    for transition in ("activate", "complete", "cancel"):
        known[("POST", f"/v1/activities/{{activity_id}}/{transition}")] = Request(
            liaison(a), f"/v1/activities/{a1}/{transition}", {"version": 1, "reason": ""}
        )
    return known.get((method, path))
