"""Need to know, model-based: generated worlds on a real server, read as every key, against the policy.

Hypothesis draws a world (3-5 parties, a force and one or two aircraft each, pairs of aircraft of two
parties converging head on, zones around lone aircraft with the parties permitted in them, activities
with addressees, hotline threads, incidents naming own, foreign and made-up units and alerts). The
world is built through the API of a real server (``keepclear serve``'s app in a thread, on SQLite and
on PostgreSQL); ``Model`` computes from docs/need-to-know.md what each party may see and name; then
every GET path of the served OpenAPI (found at run time: a new path is read without editing this
test), the stream with catch-up, the hotline socket and the record export are read with every key of
every party and compared with the model. The reading itself is the conformance suite's
(``keepclear.conformance.need_to_know_reads``): one piece of code for both.

Bounded: ``KEEPCLEAR_NK_MODEL_EXAMPLES`` worlds per store (default 3), no shrinking (a failure prints
its world), no per-example deadline.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.conformance.client import (
    ADMIN,
    Api,
    Who,
    answer_shape,
    get_all,
    is_problem,
    operations,
    path_params,
    shape_difference,
    sibling_id,
)
from keepclear.conformance.keys import PARTY_ROLES, KeysFile
from keepclear.conformance.need_to_know_reads import (
    foreign_entries,
    get_routes,
    leaks,
    read,
    socket_backlog,
    unknown_twin,
)
from keepclear.conformance.world import Secret, utc, zone_document
from keepclear.domain.identity import Role
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.runtime import Runtime
from keepclear.settings import Settings

EXAMPLES = int(os.environ.get("KEEPCLEAR_NK_MODEL_EXAMPLES", "3"))
SPEED_MPS = 220.0
ALT_M = 7000.0
#: Longitude between the two aircraft of a converging pair: about 25 km, a minute apart head on.
PAIR_GAP_DEG = 0.25


# --- the generated plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentPlan:
    """A report by party ``reporter`` involving ``involved``, naming units, alerts and the message of a
    thread by index (None: a made-up one)."""

    reporter: int
    involved: frozenset[int]
    units: tuple[int | None, ...]
    alerts: tuple[int | None, ...]
    messages: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A world by indices: ``units[i]`` is the party of unit i."""

    parties: int
    units: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    zones: tuple[tuple[int, frozenset[int]], ...]  # (lone unit it surrounds, permitted parties)
    activities: tuple[tuple[int, frozenset[int], bool], ...]  # (notifier, addressees, over the common spot)
    threads: tuple[tuple[int, frozenset[int]], ...]  # (creator, the other members)
    incidents: tuple[IncidentPlan, ...]

    @property
    def lone(self) -> list[int]:
        paired = {u for pair in self.pairs for u in pair}
        return [u for u in range(len(self.units)) if u not in paired]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(3, 5))
    parties = range(n)
    units = tuple(p for p in parties for _ in range(draw(st.integers(1, 2))))
    free = list(range(len(units)))
    pairs: list[tuple[int, int]] = []
    for _ in range(draw(st.integers(1, 2))):
        candidates = [(i, j) for i in free for j in free if i < j and units[i] != units[j]]
        if not candidates:
            break
        i, j = draw(st.sampled_from(candidates))
        pairs.append((i, j))
        free = [u for u in free if u not in (i, j)]
    zones = tuple(
        (u, draw(st.frozensets(st.sampled_from(list(parties)), min_size=1, max_size=n - 1)))
        for u in free
        if draw(st.booleans())
    )
    activities = tuple(
        (
            p,
            draw(st.frozensets(st.sampled_from([q for q in parties if q != p]), min_size=1, max_size=n - 1)),
            draw(st.booleans()),
        )
        for p in parties
        if draw(st.booleans())
    )
    threads = tuple(
        (creator, others - {creator})
        for creator, others in draw(
            st.lists(
                st.tuples(st.sampled_from(list(parties)), st.frozensets(st.sampled_from(list(parties)), max_size=2))
            )
        )[:2]
        if others - {creator}
    )
    unit_ref = st.one_of(st.none(), st.integers(0, len(units) - 1))
    alert_ref = st.one_of(st.none(), st.integers(0, len(pairs) - 1)) if pairs else st.none()
    message_ref = st.one_of(st.none(), st.integers(0, len(threads) - 1)) if threads else st.none()
    incidents = tuple(
        IncidentPlan(
            reporter,
            draw(st.frozensets(st.sampled_from(list(parties)), max_size=2)) - {reporter},
            tuple(draw(st.lists(unit_ref, max_size=2))),
            tuple(draw(st.lists(alert_ref, max_size=1))),
            tuple(draw(st.lists(message_ref, max_size=1))),
        )
        for reporter in draw(st.lists(st.sampled_from(list(parties)), min_size=1, max_size=3))
    )
    return Plan(n, units, tuple(pairs), zones, activities, threads, incidents)


# --- the reference model: docs/need-to-know.md over a plan ----------------------------------------


@dataclass
class Model:
    """What each party (by index) may see and name in a plan, by the written policy."""

    plan: Plan

    def pair_of(self, unit: int) -> int | None:
        return next((k for k, pair in enumerate(self.plan.pairs) if unit in pair), None)

    def alert_parties(self, pair: int) -> frozenset[int]:
        return frozenset(self.plan.units[u] for u in self.plan.pairs[pair])

    def witnesses(self, unit: int) -> frozenset[int]:
        """The unit's own party; the permitted parties of a zone it is in when its party may not enter."""
        owner = self.plan.units[unit]
        out = {owner}
        for inside, permitted in self.plan.zones:
            if inside == unit and owner not in permitted:
                out |= permitted
        return frozenset(out)

    def sees_unit(self, party: int, unit: int) -> bool:
        """Its live state (tracks) and its id: own, in an alert with the party, or an intruder it witnesses."""
        pair = self.pair_of(unit)
        return party in self.witnesses(unit) or (pair is not None and party in self.alert_parties(pair))

    def sees_alert(self, party: int, pair: int) -> bool:
        return party in self.alert_parties(pair)

    def known_audience(self, party: int, unit: int) -> frozenset[int]:
        """Who ``party`` (which sees another party's ``unit``) knows may see it, from its own sight
        only: the unit's party; the parties of an alert with it that ``party`` sees; the witnesses of a
        zone it is an intruder in, where ``party`` is one of them (zones are shared)."""
        owner = self.plan.units[unit]
        out = {owner}
        pair = self.pair_of(unit)
        if pair is not None and party in self.alert_parties(pair):
            out |= self.alert_parties(pair)
        for inside, permitted in self.plan.zones:
            if inside == unit and owner not in permitted and party in permitted:
                out |= permitted
        return frozenset(out)

    def accepted(self, incident: IncidentPlan) -> bool:
        """The reporter may name only what it sees, and involve a party only where it knows, from its
        own sight, that the party may see what it names: an alert's parties, a thread's members, a
        unit's ``known_audience`` (its own units: anyone). Nothing made up is accepted."""
        r = incident.reporter
        if None in incident.units or None in incident.alerts or None in incident.messages:
            return False
        units = [u for u in incident.units if u is not None]
        alerts = [k for k in incident.alerts if k is not None]
        threads = [self.members(t) for t in incident.messages if t is not None]
        if not all(self.sees_unit(r, u) for u in units) or not all(self.sees_alert(r, k) for k in alerts):
            return False
        if not all(r in members for members in threads):
            return False
        shared = [u for u in units if self.plan.units[u] != r]
        accepted = all(
            all(i in self.known_audience(r, u) for u in shared)
            and all(i in self.alert_parties(k) for k in alerts)
            and all(i in members for members in threads)
            for i in incident.involved
        )
        # what the reporter knows is never more than what each party really sees
        assert not accepted or all(
            all(self.sees_unit(i, u) for u in shared) and all(self.sees_alert(i, k) for k in alerts)
            for i in incident.involved
        ), incident
        return accepted

    def members(self, thread: int) -> frozenset[int]:
        creator, others = self.plan.threads[thread]
        return frozenset({creator, *others})

    def incident_parties(self, incident: IncidentPlan) -> frozenset[int]:
        return frozenset({incident.reporter, *incident.involved}) if self.accepted(incident) else frozenset()

    def unit_readers(self, unit: int) -> frozenset[int]:
        """Who may be shown a unit's id and position: who sees it live, and the parties of accepted
        incidents naming it (the reporter's own unit, shared with them; the evidence shows its track)."""
        out = {p for p in range(self.plan.parties) if self.sees_unit(p, unit)}
        for incident in self.plan.incidents:
            if unit in incident.units:
                out |= self.incident_parties(incident)
        return frozenset(out)

    def activity_readers(self, notifier: int, addressees: frozenset[int]) -> frozenset[int]:
        return frozenset({notifier, *addressees})


# --- the served world --------------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    runtime: Runtime
    admin_key: str
    worlds: int = 0


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Served]:
    """A real server on each store, with an admin key; every example builds its own world in it."""
    settings_ = Settings(data_dir=tmp_path / "data", database_url=database_url, tick_s=0.2)
    dep = Deployment.open(settings_, clock=WallClock(), create=True)
    admin_key = dep.keys.create(Role.ADMIN, None, "admin")[1]
    app = create_app(settings_, deployment=dep)
    try:
        with ThreadedServer(app) as running:
            yield Served(running.url, app.state.runtime, admin_key)
    finally:
        dep.close()


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.method} {response.request.url.path}: {response.text}"
    return response.json()


@dataclass
class World:
    """A plan built on the server: ids by index, what each party may see, every text to look for."""

    plan: Plan
    model: Model
    api: Api
    run: str
    parties: list[str]
    units: list[str]
    alerts: list[str] = field(default_factory=list)
    activities: dict[str, int] = field(default_factory=dict)  # id -> notifier
    threads: dict[str, frozenset[int]] = field(default_factory=dict)  # id -> members
    incidents: dict[str, frozenset[int]] = field(default_factory=dict)  # accepted id -> parties
    zones: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # THREAD_ID#SEQ of each planned thread's message
    secrets: list[Secret] = field(default_factory=list)
    #: object id -> parties (by id) that may see it: read with any other key it must answer as made up.
    visible_to: dict[str, frozenset[str]] = field(default_factory=dict)
    #: unit index -> its track report (without time)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)

    def names(self, indices: frozenset[int]) -> frozenset[str]:
        return frozenset(self.parties[i] for i in indices)

    def secret(self, label: str, text: str, readers: frozenset[int]) -> str:
        self.secrets.append(Secret(label, text, self.names(readers)))
        return text

    def client(self, party: int, role: str = "liaison") -> httpx.Client:
        return self.api.client(Who(self.parties[party], role))


def build(served: Served, plan: Plan) -> World:
    """Create the plan's parties, keys, forces, units, zones, tracks, activities, threads, incidents."""
    served.worlds += 1
    run = f"m{served.worlds}{uuid.uuid4().hex[:5]}"
    base_lat, base_lon = -30.0 + 5.0 * (served.worlds % 12), 20.0 + 10.0 * (served.worlds % 10)
    admin = httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {served.admin_key}"}, timeout=30)
    model = Model(plan)
    parties = [f"{run}p{i}" for i in range(plan.parties)]
    keys: dict[str, dict[str, str]] = {}
    for pid in parties:
        _ok(admin.post("/v1/parties", json={"id": pid, "name": pid.upper(), "roster": [{"name": f"{pid} duty"}]}))
        keys[pid] = {
            role: _ok(admin.post("/v1/keys", json={"role": role, "party_id": pid, "label": f"{pid} {role}"}))["key"]
            for role in PARTY_ROLES
        }
    api = Api(served.url, KeysFile(served.admin_key, keys))
    units = [f"{run}-p{p}-u{i}" for i, p in enumerate(plan.units)]
    w = World(plan, model, api, run, parties, units)
    for p, pid in enumerate(parties):
        name = w.secret(f"force name of {pid}", f"{run} force of p{p}", frozenset({p}))
        _ok(admin.post("/v1/forces", json={"id": f"{run}-p{p}-f", "name": name, "party_id": pid}))
    reports = w.reports
    lone = plan.lone
    for i, (unit_id, p) in enumerate(zip(units, plan.units, strict=True)):
        callsign = w.secret(f"callsign of {unit_id}", f"{run.upper()}P{p}U{i}", frozenset({p}))
        _ok(
            admin.post(
                "/v1/units",
                json={
                    "id": unit_id,
                    "callsign": callsign,
                    "domain": "air",
                    "kind": "fighter",
                    "force_id": f"{run}-p{p}-f",
                },
            )
        )
        readers = model.unit_readers(i)
        w.secret(f"unit id {unit_id}", unit_id, readers)
        w.visible_to[unit_id] = w.names(readers)
        pair = model.pair_of(i)
        if pair is not None:
            first = plan.pairs[pair][0] == i
            lat = round(base_lat + 0.5 * pair + 0.000321, 6)
            lon, east = (base_lon, SPEED_MPS) if first else (base_lon + PAIR_GAP_DEG, -SPEED_MPS)
        else:
            lat, lon, east = round(base_lat - 1.0 - 0.2 * lone.index(i) + 0.000123, 6), base_lon + 0.000457, 0.0
        w.secret(f"latitude of {unit_id}", repr(lat), readers)
        reports[i] = {
            "unit_id": unit_id,
            "lat_deg": lat,
            "lon_deg": lon,
            "alt_m": ALT_M,
            "vel_east_mps": east,
            "vel_north_mps": 0.0,
            "vel_up_mps": 0.0,
        }
    for n, (unit, permitted) in enumerate(plan.zones):
        zone_id = f"{run}-z{n}"
        r = reports[unit]
        document = zone_document(
            zone_id,
            r["lat_deg"],
            r["lon_deg"],
            0.03,
            kind="restricted-operating-zone",
            name=zone_id,
            permitted_parties=sorted(w.names(permitted)),
        )
        _ok(admin.post("/v1/zones", json=document))
        w.zones.append(zone_id)
    now = utc(time.time())
    for p in range(plan.parties):
        mine = [{**reports[i], "time": now} for i, owner in enumerate(plan.units) if owner == p]
        _ok(w.client(p, "feed").post("/v1/tracks", json={"reports": mine}))
    served.runtime.pump()  # the running pump thread may not have moved them yet
    for _ in range(2):
        served.runtime.tick()
    w.alerts = [_wait_for_alert(w, pair) for pair in range(len(plan.pairs))]
    for k, alert_id in enumerate(w.alerts):
        w.visible_to[alert_id] = w.names(model.alert_parties(k))
    _notify(w, base_lat, base_lon)
    for n, (creator, others) in enumerate(plan.threads):
        members = frozenset({creator, *others})
        title = w.secret(f"title of thread {n}", f"{run} thread {n}", members)
        thread = _ok(
            w.client(creator).post(
                "/v1/hotline/threads", json={"parties": sorted(w.names(frozenset(others))), "title": title}
            )
        )
        w.threads[thread["id"]] = members
        w.visible_to[thread["id"]] = w.names(members)
        body = w.secret(f"message in thread {n}", f"{run} message {n}", members)
        posted = _ok(
            w.client(creator).post(
                f"/v1/hotline/threads/{thread['id']}/messages",
                json={"kind": "text", "body": body, "idempotency_key": f"{run}-m{n}"},
            )
        )
        w.messages.append(f"{thread['id']}#{posted['message']['seq']}")
    for n, incident in enumerate(plan.incidents):
        _report(w, n, incident)
    admin.close()
    return w


def _wait_for_alert(w: World, pair: int, timeout_s: float = 30.0) -> str:
    units = {w.units[u] for u in w.plan.pairs[pair]}
    owner = w.plan.units[w.plan.pairs[pair][0]]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for alert in _ok(w.client(owner).get("/v1/alerts")):
            if {alert["unit_a"], alert["unit_b"]} == units:
                return str(alert["alert_id"])
        time.sleep(0.3)
    raise AssertionError(f"no alert between {sorted(units)} within {timeout_s:.0f} s")


def _notify(w: World, base_lat: float, base_lon: float) -> None:
    """Each planned activity, two hours ahead: over one common spot (they conflict) or a spot of its own."""
    for n, (notifier, addressees, common) in enumerate(w.plan.activities):
        activity_id = f"{w.parties[notifier]}-act{n}"  # a party's activity ids begin with its own id
        readers = w.model.activity_readers(notifier, addressees)
        lat = base_lat + 2.0 if common else base_lat + 2.0 + 0.3 * (n + 1)
        w.secret(f"contact of {activity_id}", f"{w.run} contact {n}", readers)
        w.secret(f"text of {activity_id}", f"{w.run} text {n}", readers)
        document = {"id": activity_id, **_activity_document(w, n, addressees, lat, base_lon)}
        made = _ok(w.client(notifier).post("/v1/activities", json=document))
        assert made["activity"]["id"] == activity_id
        w.activities[activity_id] = notifier
        # A party whose own activity it overlaps learns of the overlap on its own activity, never this
        # one: its id answers as unknown.
        w.visible_to[activity_id] = w.names(readers)


def _activity_document(w: World, n: int, addressees: frozenset[int], lat: float, lon: float) -> dict[str, Any]:
    """A valid activity (without its id), two hours ahead, a 5 km circle at (lat, lon)."""
    start_s = time.time() + 7200
    return {
        "kind": "surveillance-flight",
        "start": utc(start_s),
        "end": utc(start_s + 3600),
        "addressees": sorted(w.names(addressees)),
        "contact": f"{w.run} contact {n}",
        "text": f"{w.run} text {n}",
        "volumes": [{"circle": {"lat": lat, "lon": lon, "radius_m": 5000}, "lower_ft": 0, "upper_ft": 9000}],
    }


def _report(w: World, n: int, incident: IncidentPlan) -> None:
    """Report the planned incident; the model says whether it must be accepted. A refused one must
    answer exactly as the same report with every id the reporter may not see made up."""
    accepted = w.model.accepted(incident)
    readers = w.model.incident_parties(incident)
    unit_ids = [w.units[u] if u is not None else f"{w.run}-p0-u9{n}" for u in incident.units]
    alert_ids = [
        w.alerts[k] if k is not None else sibling_id(w.alerts[0]) if w.alerts else "alert-999999"
        for k in incident.alerts
    ]
    message_ids = [w.messages[t] if t is not None else f"t-{w.run}#1" for t in incident.messages]
    body = {
        "time": utc(time.time() - 30),
        "summary": w.secret(f"summary of incident {n}", f"{w.run} incident {n}", readers),
        "parties": sorted(w.names(incident.involved)),
        "unit_ids": unit_ids,
        "alert_ids": alert_ids,
        "message_ids": message_ids,
    }
    client = w.client(incident.reporter)
    answer = client.post("/v1/incidents", json=body)
    note(f"incident {n} {incident}: {answer.status_code} {answer.text[:300]}")
    if accepted:
        assert answer.status_code == 201, f"incident {n} {incident} must be accepted: {answer.text}"
        w.incidents[answer.json()["id"]] = readers
        w.visible_to[answer.json()["id"]] = w.names(readers)
        return
    assert answer.status_code == 422 and is_problem(answer) is None, f"incident {n} {incident}: {answer.text}"
    reporter = incident.reporter
    hidden = [w.units[u] for u in incident.units if u is not None and not w.model.sees_unit(reporter, u)]
    hidden += [w.alerts[k] for k in incident.alerts if k is not None and not w.model.sees_alert(reporter, k)]
    hidden += [w.messages[t] for t in incident.messages if t is not None and reporter not in w.model.members(t)]
    if hidden:
        twin_body = json.loads(json.dumps(body))
        for key in ("unit_ids", "alert_ids", "message_ids"):
            twin_body[key] = [sibling_id(v) if v in hidden else v for v in twin_body[key]]
        twin = client.post("/v1/incidents", json=twin_body)
        difference = shape_difference(answer_shape(answer, hidden), answer_shape(twin, [sibling_id(v) for v in hidden]))
        assert difference is None, f"incident {n} naming {hidden} (not its party's) vs made up: {difference}"


# --- reading -------------------------------------------------------------------------------------


def _listed(w: World, client: httpx.Client, path: str, key: str, ours: set[str]) -> set[str]:
    return {str(item[key]) for item in _ok(get_all(client, path)) if str(item[key]) in ours}


def check_lists(w: World) -> list[str]:
    """The list endpoints show each party exactly what the model says (this world's objects)."""
    model, plan, problems = w.model, w.plan, []
    units, alerts = set(w.units), set(w.alerts)
    for p, pid in enumerate(w.parties):
        own = {u for i, u in enumerate(w.units) if plan.units[i] == p}
        expected = {
            "/v1/units": own,
            "/v1/tracks": {u for i, u in enumerate(w.units) if model.sees_unit(p, i)},
            "/v1/alerts": {a for k, a in enumerate(w.alerts) if model.sees_alert(p, k)},
            "/v1/incidents": {i for i, readers in w.incidents.items() if p in readers},
        }
        keys = {"/v1/units": "id", "/v1/tracks": "unit_id", "/v1/alerts": "alert_id", "/v1/incidents": "id"}
        ours = {"/v1/units": units, "/v1/tracks": units, "/v1/alerts": alerts, "/v1/incidents": set(w.incidents)}
        for role in ("liaison", "observer"):
            client = w.client(p, role)
            for path, want in expected.items():
                got = _listed(w, client, path, keys[path], ours[path])
                if got != want:
                    problems.append(f"{pid}/{role} GET {path}: {sorted(got)}, the policy says {sorted(want)}")
            got_activities = _listed(w, client, "/v1/activities", "id", set(w.activities))
            must = {
                a
                for a, (notifier, addressees, _) in zip(w.activities, plan.activities, strict=True)
                if p == notifier or p in addressees
            }
            may = {a for a in w.activities if pid in w.visible_to[a]}
            if not must <= got_activities <= may:
                problems.append(f"{pid}/{role} GET /v1/activities: {sorted(got_activities)}, policy: {sorted(must)}")
            listed = _ok(get_all(client, "/v1/hotline/threads"))
            foreign = [t["id"] for t in listed if pid not in t.get("parties", [])]
            missing = {t for t, members in w.threads.items() if p in members} - {t["id"] for t in listed}
            if foreign or missing:
                problems.append(
                    f"{pid}/{role} GET /v1/hotline/threads: not a member of {foreign}; missing {sorted(missing)}"
                )
        feed_units = _listed(w, w.client(p, "feed"), "/v1/units", "id", units)
        if feed_units != own:
            problems.append(f"{pid}/feed GET /v1/units: {sorted(feed_units)}, the policy says {sorted(own)}")
    return problems


#: A valid body per write on an object named in its path (by parameter and last path segment); a
#: write not listed here is sent ``{}``.
_WRITE_BODIES: dict[tuple[str, str], Any] = {
    ("activity_id", "acknowledge"): {"version": 1},
    ("activity_id", "object"): {"version": 1, "reason": "model"},
    ("activity_id", "activate"): {"version": 1, "reason": ""},
    ("activity_id", "complete"): {"version": 1, "reason": ""},
    ("activity_id", "cancel"): {"version": 1, "reason": "model"},
    ("alert_id", "acknowledge"): None,
    ("thread_id", "read"): {"through_seq": 1},
    ("incident_id", "accounts"): {"text": "model"},
    ("incident_id", "review"): {"status": "closed", "note": ""},
}


def check_writes_naming(w: World) -> list[str]:
    """Every write of the served OpenAPI on an object named in its path, by each party's liaison, on each
    object of this world it may not see: answered exactly as on a made-up id (and so refused)."""
    problems = []
    document = w.api.openapi()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path, _ in operations(document, method):
            names = path_params(path)
            if len(names) != 1 or names[0] == "key_id":  # keys: the admin's, no party's object
                continue
            last = path.rstrip("/").rsplit("/", 1)[-1]
            for p, pid in enumerate(w.parties):
                for ident in _fill(w, names[0])[:-1]:
                    if ident not in w.visible_to or pid in w.visible_to[ident]:
                        continue
                    body = _WRITE_BODIES.get((names[0], last), {})
                    if (names[0], last) == ("activity_id", "amend"):
                        body = {
                            "version": 1,
                            "activity": _activity_document(w, 99, frozenset({(p + 1) % w.plan.parties}), 0.0, 0.0),
                        }
                    if (names[0], last) == ("thread_id", "messages"):
                        body = {"kind": "text", "body": f"{w.run} intruding", "idempotency_key": f"{w.run}-{ident}"}
                    client = w.client(p)
                    twin = sibling_id(ident)
                    first = client.request(method, path.replace("{" + names[0] + "}", ident), json=body)
                    second = client.request(method, path.replace("{" + names[0] + "}", twin), json=body)
                    difference = shape_difference(answer_shape(first, ident), answer_shape(second, twin))
                    if difference or first.is_success:
                        problems.append(
                            f"{pid}/liaison {method} {path} on {ident} (not its party's): {first.status_code} {difference or ''}"
                        )
    return problems


def check_nothing_stored(w: World, served: Served) -> list[str]:
    """What no party may be shown (a refused report's summary) is not stored at all: the admin, who reads
    every incident and the whole record, does not find it either."""
    never = [x for x in w.secrets if not x.allowed]
    headers = {"Authorization": f"Bearer {served.admin_key}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as admin:
        text = get_all(admin, "/v1/incidents").text + admin.get("/v1/record/export").text
    return [f"refused, yet stored: {x.label}" for x in never if x.text in text]


def _fill(w: World, name: str) -> list[str]:
    """Values for a path parameter: every object of this world of its kind (own and foreign), and a
    made-up one."""
    by_name = {
        "activity_id": list(w.activities),
        "thread_id": list(w.threads),
        "incident_id": list(w.incidents),
        "alert_id": list(w.alerts),
        "zone_id": w.zones,
        "party_id": w.parties,
        "unit_id": w.units,
    }
    values = by_name.get(name, [])
    return [*values, sibling_id(values[0]) if values else f"{w.run}-{name}"]


def check_reads(w: World) -> tuple[list[str], int]:
    """Every GET path of the served OpenAPI with every key of every party: never a 5xx, nothing beyond
    the policy, and an id the party may not see answers as a made-up one. Returns (problems, reads)."""
    problems: list[str] = []
    reads = 0
    for route in get_routes(w.api.openapi()):
        assert route.unfillable is None, f"GET {route.path}: {route.unfillable}"
        combos = list(itertools.product(*[_fill(w, n) for n in route.names]))
        for pid, role in itertools.product(w.parties, PARTY_ROLES):
            client = w.api.client(Who(pid, role))
            for values in combos:
                concrete = route.concrete(values)
                status, text = read(client, concrete, route.query, route.stream)
                reads += 1
                if status >= 500:
                    problems.append(f"{pid}/{role} GET {concrete} answered {status}")
                problems += [f"{pid}/{role} GET {concrete} shows {label}" for label in leaks(w.secrets, pid, text)]
                for v in values:
                    if v in w.visible_to and pid not in w.visible_to[v]:
                        difference = unknown_twin(client, route, values, v)
                        if difference:
                            problems.append(f"{pid}/{role} GET {concrete} (not its party's): {difference}")
    return problems, reads


def check_socket_and_record(w: World) -> list[str]:
    """The hotline socket's backlog (resumed from the start) and the record export, as every key that reads them."""
    problems = []
    for pid in w.parties:
        for role in ("liaison", "observer"):  # the observer's socket is read-only, its backlog the same
            text, problem = socket_backlog(w.api, Who(pid, role))
            problems += [problem] if problem else []
            problems += [f"{pid}/{role} WS /v1/hotline/ws shows {label}" for label in leaks(w.secrets, pid, text)]
            export = _ok(w.api.client(Who(pid, role)).get("/v1/record/export"))
            wrong = foreign_entries(export.get("entries", []), pid)
            problems += [f"{pid}/{role} record export shows entries beyond its audience: {wrong[:5]}"] if wrong else []
    return problems


def check_intruders_leave(w: World, served: Served) -> list[str]:
    """An intruder is shown to the zone's permitted parties until it leaves, then to nobody else: once
    out, it is gone from their tracks and naming it answers as a made-up unit."""
    owners = w.plan.units
    intruders = [u for u, permitted in w.plan.zones if owners[u] not in permitted]
    if not intruders:
        return []
    now = utc(time.time())
    for u in intruders:
        out = {**w.reports[u], "lon_deg": w.reports[u]["lon_deg"] + 0.5, "time": now}  # 0.5 deg from all others
        _ok(w.client(owners[u], "feed").post("/v1/tracks", json={"reports": [out]}))
    served.runtime.pump()  # the running pump thread may not have moved them yet
    for _ in range(2):
        served.runtime.tick()
    problems = []
    for p, pid in enumerate(w.parties):
        foreign = {w.units[u] for u in intruders if owners[u] != p}
        seen = _listed(w, w.client(p), "/v1/tracks", "unit_id", foreign)
        problems += [f"{pid} still sees {sorted(seen)} after they left the zone"] if seen else []
        for unit_id in sorted(foreign):
            body = {"time": utc(time.time() - 30), "summary": f"{w.run} left", "unit_ids": [unit_id]}
            named = w.client(p).post("/v1/incidents", json=body)
            twin = w.client(p).post("/v1/incidents", json={**body, "unit_ids": [sibling_id(unit_id)]})
            difference = shape_difference(answer_shape(named, unit_id), answer_shape(twin, sibling_id(unit_id)))
            if named.status_code != 422 or difference:
                problems.append(f"{pid} naming {unit_id} after it left: {named.status_code} {difference or ''}")
    return problems


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_every_key_sees_exactly_what_the_policy_gives(server: Served, plan: Plan) -> None:
    note(f"plan: {plan}")
    started = time.monotonic()
    w = build(server, plan)
    try:
        problems = check_lists(w)
        read_problems, reads = check_reads(w)
        problems += read_problems + check_socket_and_record(w) + check_nothing_stored(w, server)
        problems += check_writes_naming(w) + check_intruders_leave(w, server)
        note(f"{reads} reads in {time.monotonic() - started:.1f} s")
        assert not problems, "\n".join(problems[:40]) + (
            f"\n(+{len(problems) - 40} more)" if len(problems) > 40 else ""
        )
    finally:
        w.api.close()


def test_the_admin_key_reads_every_get_path_without_a_server_error(server: Served) -> None:
    """The admin is no party: it reads the registry, record and incidents; never a 5xx on any GET path."""
    api = Api(server.url, KeysFile(server.admin_key, {}))
    try:
        for route in get_routes(api.openapi()):
            concrete = route.concrete(tuple(f"x-{n}" for n in route.names))
            status, _ = read(api.client(ADMIN), concrete, route.query, route.stream)
            assert status < 500, f"admin GET {concrete} answered {status}"
    finally:
        api.close()
