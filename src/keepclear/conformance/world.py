"""The objects a conformance run creates (all named with the run id), what each party may see of them,
and how the run puts the deployment back as it found it where the API allows.

Parties ``a``, ``b``, ``c`` are the first three of the keys file. The world:

- a force and two aircraft per party: unit 1 of a and of b fly head on (an alert between a and b),
  unit 1 of c and every unit 2 fly alone, far apart, all at the run's remote place; c's unit 2 inside a
  zone of the run that only b may enter (an intruder: b may see it while it is inside, a may not);
- activity ``a1`` of a addressed to b (a's unit 2 listed, not shared), ``b1`` of b addressed to a over
  the same volume (a conflict between them), ``a2`` of a addressed to c, over it too (a conflict found
  by a's notification), ``c1`` of c addressed to a;
- hotline threads a–b and a–c, each with one message; an incident of a involving b.

Every text that only some parties may read is a ``Secret``; the reading checks look for each in what
every other party's keys are shown.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from keepclear.conformance.client import ADMIN, Api, feed, liaison

SPEED_MPS = 220.0
ALT_M = 7000.0
#: Seconds between re-reports of the run's aircraft, so they stay in the picture (air units go stale at 60 s).
REFRESH_S = 5.0


def utc(time_s: float) -> str:
    return datetime.fromtimestamp(time_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Secret:
    """A text of the run that only ``allowed`` parties may be shown (its owner always among them)."""

    label: str
    text: str
    allowed: frozenset[str]
    #: Every allowed party must also be shown it somewhere (else the deployment hides what it owes).
    shown: bool = False


@dataclass
class World:
    """Everything a check needs: the API, the run's parties and objects, and what each party may see."""

    api: Api
    run_id: str
    a: str
    b: str
    c: str
    lat_deg: float
    lon_deg: float
    units: dict[str, list[str]] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_id: str | None = None
    activities: dict[str, str] = field(default_factory=dict)
    threads: dict[str, str] = field(default_factory=dict)
    incidents: dict[str, str] = field(default_factory=dict)
    #: Party -> the id of the zone proposal its liaison made (refused at the end).
    proposals: dict[str, str] = field(default_factory=dict)
    secrets: list[Secret] = field(default_factory=list)
    #: Object id -> parties that may name it (see it); ids the run created, for path parameters.
    visible_to: dict[str, frozenset[str]] = field(default_factory=dict)
    #: (party, activity id) and (party, incident id) the run created: cancelled / closed at the end.
    to_cancel: list[tuple[str, str]] = field(default_factory=list)
    to_close: list[tuple[str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _refresher: threading.Thread | None = None

    @property
    def parties(self) -> list[str]:
        return [self.a, self.b, self.c]

    def name(self, suffix: str) -> str:
        return f"{self.run_id}-{suffix}"

    def secret(self, label: str, text: str, *allowed: str, shown: bool = False) -> str:
        self.secrets.append(Secret(label, text, frozenset(allowed), shown))
        return text

    def activity_id(self, party: str, suffix: str) -> str:
        """The id of ``party``'s activity ``suffix`` of this run (a party's ids begin with its own)."""
        return f"{party}-{self.name(suffix)}"

    def activity_document(self, party: str, suffix: str, addressees: list[str], **extra: Any) -> dict[str, Any]:
        """A valid activity of ``party``: two hours from now, a circle at the run's place."""
        now_s = time.time()
        return {
            "id": self.activity_id(party, suffix),
            "kind": "surveillance-flight",
            "start": utc(now_s + 7200),
            "end": utc(now_s + 3 * 3600),
            "addressees": addressees,
            "contact": f"{self.run_id} {party} contact {suffix}",
            "text": f"{self.run_id} {party} text {suffix}",
            "volumes": [
                {
                    "circle": {"lat": self.lat_deg, "lon": self.lon_deg, "radius_m": 5000},
                    "lower_ft": 0,
                    "upper_ft": 9000,
                }
            ],
            **extra,
        }


def zone_document(zone_id: str, lat_deg: float, lon_deg: float, half_deg: float, **properties: Any) -> dict[str, Any]:
    """A zones FeatureCollection of one square zone ``half_deg`` each side of (lat, lon)."""
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = [[lon_deg + dx * half_deg, lat_deg + dy * half_deg] for dx, dy in corners]
    feature = {"type": "Feature", "id": zone_id, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    return {"type": "FeatureCollection", "features": [{**feature, "properties": properties}]}


def intruded_zone(w: World, lat_deg: float, lon_deg: float) -> dict[str, Any]:
    """A restricted operating zone around (lat, lon) that only b may enter, valid for the next hour (it
    expires by itself; zones cannot be removed through the API). 0.03 degrees each side: less than the
    0.1 degrees between the lone aircraft, so no corner reads as another aircraft's latitude."""
    return zone_document(
        w.name("roz"),
        lat_deg,
        lon_deg,
        0.03,
        kind="restricted-operating-zone",
        name=f"{w.run_id} zone only {w.b} may enter",
        permitted_parties=[w.b],
        valid_from=utc(time.time() - 60),
        valid_until=utc(time.time() + 3600),
    )


def new_world(api: Api, lat_deg: float, lon_deg: float) -> World:
    a, b, c = api.keys.party_ids()[:3]
    run_id = f"cf{uuid.uuid4().hex[:8]}"
    return World(api, run_id, a, b, c, lat_deg, lon_deg)


def _ok(response: Any, what: str) -> Any:
    if response.status_code >= 300:
        raise SetupError(
            f"{what}: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json() if response.content else None


class SetupError(Exception):
    """The run could not create its world; nothing was judged."""


def build(world: World) -> None:
    """Create the run's forces, units, tracks (and wait for the a–b alert), activities, threads, incident."""
    api, w = world.api, world
    for who in api.everyone():
        me = api.client(who).get("/v1/me")
        got = me.json() if me.status_code == 200 else {}
        if (got.get("party_id"), got.get("role")) != (who.party, who.role):
            raise SetupError(
                f"the key of {who.label} in the keys file is not one: /v1/me answered "
                f"{me.status_code} {got.get('role')} of {got.get('party_id')}"
            )
    admin = api.client(ADMIN)
    for i, party in enumerate(w.parties):
        force_id = w.name(f"{party}-f")
        _ok(admin.post("/v1/forces", json={"id": force_id, "name": f"{w.run_id} {party}", "party_id": party}), "force")
        w.units[party] = []
        for n in (1, 2):
            unit_id = w.name(f"{party}-u{n}")
            callsign = f"{w.run_id.upper()}{'ABC'[i]}{n}"
            _ok(
                admin.post(
                    "/v1/units",
                    json={
                        "id": unit_id,
                        "callsign": callsign,
                        "domain": "air",
                        "kind": "conformance",
                        "force_id": force_id,
                    },
                ),
                "unit",
            )
            w.units[party].append(unit_id)
            in_alert = n == 1 and party in (w.a, w.b)
            intruder = n == 2 and party == w.c  # inside the run's zone that only b may enter
            allowed = (w.a, w.b) if in_alert else (w.c, w.b) if intruder else (party,)
            w.secret(f"unit id {unit_id}", unit_id, *allowed, shown=in_alert)
            w.secret(f"callsign of {unit_id}", callsign, *allowed)
            w.visible_to[unit_id] = frozenset(allowed)
            if in_alert:
                east = SPEED_MPS if party == w.a else -SPEED_MPS
                lon = w.lon_deg if party == w.a else w.lon_deg + 0.44
                lat = w.lat_deg
            else:
                # Alone, far from everything, at a position that reads back as a distinctive number.
                east, lat, lon = 0.0, round(w.lat_deg - 2.0 - i - n / 10 + 0.000123, 6), round(w.lon_deg + 0.000457, 6)
                w.secret(f"latitude of {unit_id}", repr(lat), *allowed)
                if intruder:
                    _ok(admin.post("/v1/zones", json=intruded_zone(w, lat, lon)), "zone")
            w.reports[unit_id] = {
                "unit_id": unit_id,
                "lat_deg": lat,
                "lon_deg": lon,
                "alt_m": ALT_M,
                "vel_east_mps": east,
                "vel_north_mps": 0.0,
                "vel_up_mps": 0.0,
            }
    _report_all(w)
    w._refresher = threading.Thread(target=_refresh, args=(w,), name="conformance-tracks", daemon=True)
    w._refresher.start()
    w.alert_id = _wait_for_alert(w)
    w.visible_to[w.alert_id] = frozenset({w.a, w.b})

    a1 = w.activity_document(w.a, "a1", [w.b], units=[w.units[w.a][1]], share_units=False)
    b1 = w.activity_document(w.b, "b1", [w.a])
    a2 = w.activity_document(w.a, "a2", [w.c])  # over b1 too: conflicts found by each side's notification
    c1 = w.activity_document(w.c, "c1", [w.a])
    c1["volumes"][0]["circle"]["lat"] = w.lat_deg + 1.0  # away from the others: no conflict
    # (notifier, document, who may read its text, who may name it: not a party whose own activity it
    # conflicts with, which sees the overlap on its own activity only)
    plan = (
        (w.a, a1, (w.a, w.b), (w.a, w.b)),
        (w.b, b1, (w.a, w.b), (w.a, w.b)),
        (w.a, a2, (w.a, w.c), (w.a, w.c)),
        (w.c, c1, (w.c, w.a), (w.c, w.a)),
    )
    for owner, doc, allowed, nameable in plan:
        made = _ok(api.client(liaison(owner)).post("/v1/activities", json=doc), f"activity {doc['id']}")
        w.activities[doc["id"]] = made["activity"].get("id", doc["id"])
        w.to_cancel.append((owner, w.activities[doc["id"]]))
        w.visible_to[doc["id"]] = frozenset(nameable)
        w.secret(f"text of activity {doc['id']}", doc["text"], *allowed, shown=True)
        w.secret(f"contact of activity {doc['id']}", doc["contact"], *allowed, shown=True)

    for other in (w.b, w.c):
        title = w.secret(f"title of thread {w.a}-{other}", f"{w.run_id} thread {w.a}-{other}", w.a, other, shown=True)
        thread = _ok(
            api.client(liaison(w.a)).post("/v1/hotline/threads", json={"parties": [other], "title": title}), "thread"
        )
        w.threads[f"{w.a}-{other}"] = thread["id"]
        w.visible_to[thread["id"]] = frozenset({w.a, other})
        body = w.secret(
            f"message in thread {w.a}-{other}", f"{w.run_id} message {w.a} to {other}", w.a, other, shown=True
        )
        _ok(
            api.client(liaison(w.a)).post(
                f"/v1/hotline/threads/{thread['id']}/messages",
                json={"kind": "text", "body": body, "idempotency_key": w.name(f"m-{other}")},
            ),
            "message",
        )

    summary = w.secret("summary of incident of a", f"{w.run_id} incident of {w.a} with {w.b}", w.a, w.b, shown=True)
    incident = _ok(
        api.client(liaison(w.a)).post(
            "/v1/incidents",
            json={"time": utc(time.time() - 60), "summary": summary, "parties": [w.b], "unit_ids": [w.units[w.a][0]]},
        ),
        "incident",
    )
    w.incidents["a"] = incident["id"]
    w.to_close.append((w.a, incident["id"]))
    w.visible_to[incident["id"]] = frozenset({w.a, w.b})

    for i, party in enumerate(w.parties):  # a proposal is its party's alone (and the admin's, who decides it)
        name = w.secret(f"name of zone proposal of {party}", f"{w.run_id} proposal of {party}", party, shown=True)
        remarks = w.secret(f"remarks of zone proposal of {party}", f"{w.run_id} remarks of {party}", party, shown=True)
        ring = zone_document(w.name(f"zp-{party}"), w.lat_deg + 5.0 + i, w.lon_deg, 0.05)["features"][0]["geometry"]
        proposed = _ok(
            api.client(liaison(party)).post(
                "/v1/zone-proposals",
                json={"source": w.name(f"drawing-{party}"), "name": name, "geometry": ring, "remarks": remarks},
            ),
            "zone proposal",
        )
        w.proposals[party] = proposed["id"]
        w.visible_to[proposed["id"]] = frozenset({party})


def _report_all(w: World) -> None:
    for party in w.parties:
        client = w.api.client(feed(party))
        for _ in range(10):  # a feed honours back-pressure: a 429 says when to come again
            now = utc(time.time())
            answer = client.post(
                "/v1/tracks", json={"reports": [{**w.reports[u], "time": now} for u in w.units[party]]}
            )
            if answer.status_code != 429:
                break
            time.sleep(min(5.0, float(answer.headers.get("Retry-After", "1"))))
        _ok(answer, "track reports")


def _refresh(w: World) -> None:
    while not w._stop.wait(REFRESH_S):
        try:
            _report_all(w)
        except Exception:  # the deployment may be slow or going away; the next round tries again
            continue


def _wait_for_alert(w: World, timeout_s: float = 30.0) -> str:
    mine = {w.units[w.a][0], w.units[w.b][0]}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for alert in _ok(w.api.client(liaison(w.a)).get("/v1/alerts"), "alerts"):
            if {alert.get("unit_a"), alert.get("unit_b")} == mine:
                return str(alert["alert_id"])
        time.sleep(0.5)
    raise SetupError(f"no alert between {sorted(mine)} within {timeout_s:.0f} s of their head-on reports")


def tear_down(world: World) -> list[str]:
    """Stop reporting the aircraft (they leave the picture, their alerts resolve), cancel the run's
    activities, close the run's incidents; say what stays (units, forces, threads, record entries)."""
    w = world
    w._stop.set()
    if w._refresher is not None:
        w._refresher.join(timeout=REFRESH_S * 3)
    notes = []
    for owner, activity_id in w.to_cancel:
        client = w.api.client(liaison(owner))
        current = client.get(f"/v1/activities/{activity_id}")
        if current.status_code != 200:
            notes.append(f"activity {activity_id}: could not be read back to cancel it ({current.status_code})")
            continue
        view = current.json()
        if view.get("status") in ("cancelled", "completed"):
            continue
        answer = client.post(
            f"/v1/activities/{activity_id}/cancel",
            json={"version": view.get("version", 1), "reason": f"{w.run_id} conformance run over"},
        )
        if answer.status_code != 200:
            notes.append(f"activity {activity_id}: not cancelled ({answer.status_code})")
    for owner, incident_id in w.to_close:
        w.api.client(liaison(owner)).post(
            f"/v1/incidents/{incident_id}/review", json={"status": "closed", "note": f"{w.run_id} conformance run"}
        )
    for party, proposal_id in w.proposals.items():
        answer = w.api.client(ADMIN).post(
            f"/v1/zone-proposals/{proposal_id}/refuse", json={"reason": f"{w.run_id} conformance run over"}
        )
        if answer.status_code != 200:
            notes.append(f"zone proposal {proposal_id} of {party}: not refused ({answer.status_code})")
    if w.units:
        notes.append(
            f"left in place (the API removes none of them): forces and units {w.run_id}-*, zone {w.run_id}-roz"
            " (expires an hour after the run began), hotline threads and messages, incidents (closed), zone"
            " proposals (refused), and the record entries of everything the run did"
        )
    return notes
