"""Helpers of the API tests: a running service and a populated deployment."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from shapely.geometry import Point

from keepclear.detect.strategic import Conflict, ConflictKind
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.geo.zone_geojson import zones_from_geojson
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.runtime import Runtime
from keepclear.store import activity_conflicts as conflicts_store
from keepclear.store import hotline as hotline_store
from keepclear.store.activity_conflicts import StoredConflict
from keepclear.store.ledger import ledger_entries

EXAMPLE_ZONES = Path(__file__).resolve().parents[2] / "examples" / "zones.geojson"


def import_example_zones(dep: Deployment) -> None:
    """Store the example zones as an import does (record entry, ``zones.imported`` event), without
    the check of their permitted parties: two of them permit ``un`` and ``coalition``, parties these
    worlds (a and b) do not register. An import refuses such zones now; a deployment that imported
    them before keeps them, and these tests read them as it does."""
    zones = zones_from_geojson(json.loads(EXAMPLE_ZONES.read_text()))
    with dep.db.write() as conn:
        imported = dep.zones.store_in(conn, zones, replace=False, party_id=None)
    dep.bus.emit(imported)


@dataclass
class Service:
    """The running server, its deployment, and a key per role ('a-liaison', 'b-feed', 'admin'...)."""

    url: str
    deployment: Deployment
    runtime: Runtime
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@dataclass
class Endpoint:
    """A running keepclear reached over HTTP only (the scale-out cluster): its address and a key per role."""

    url: str
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def populate(dep: Deployment) -> dict[str, str]:
    """Parties a and b (b reads Russian), own and partner forces, an aircraft each, keys for every role."""
    reg = dep.registry
    reg.add_party(Party("a", "Alpha"), [Contact("Alpha duty officer"), Contact("Alpha deputy")])
    reg.add_party(Party("b", "Bravo", "ru"), [Contact("Bravo duty officer"), Contact("Bravo deputy")])
    reg.add_force(Force("fa", "Alpha air", "a"))
    reg.add_force(Force("fa-partner", "Alpha partner", "a", partner=True))
    reg.add_force(Force("fb", "Bravo air", "b"))
    reg.add_unit(Unit("ua", "ALPHA1", Domain.AIR, "fighter", "fa"))
    reg.add_unit(Unit("ua-partner", "ALPHA2", Domain.LAND, "infantry", "fa-partner"))
    reg.add_unit(Unit("ub", "BRAVO1", Domain.AIR, "fighter", "fb"))
    keys = {"admin": dep.keys.create(Role.ADMIN, None, "admin")[1]}
    for party in ("a", "b"):
        for role in (Role.LIAISON, Role.FEED, Role.OBSERVER):
            keys[f"{party}-{role.value}"] = dep.keys.create(role, party, f"{party} {role.value}")[1]
    return keys


def populate_over_api(url: str, admin_key: str) -> dict[str, str]:
    """What ``populate`` makes, made through the API with the admin key (a deployment that runs
    elsewhere, as an operator makes it): parties a and b, their forces and aircraft, a key per role."""
    keys = {"admin": admin_key}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as admin:
        made = [
            admin.post(
                "/v1/parties",
                json={"id": "a", "name": "Alpha", "roster": [{"name": "Alpha duty officer"}, {"name": "Alpha deputy"}]},
            ),
            admin.post(
                "/v1/parties",
                json={
                    "id": "b",
                    "name": "Bravo",
                    "language": "ru",
                    "roster": [{"name": "Bravo duty officer"}, {"name": "Bravo deputy"}],
                },
            ),
            admin.post("/v1/forces", json={"id": "fa", "name": "Alpha air", "party_id": "a"}),
            admin.post(
                "/v1/forces", json={"id": "fa-partner", "name": "Alpha partner", "party_id": "a", "partner": True}
            ),
            admin.post("/v1/forces", json={"id": "fb", "name": "Bravo air", "party_id": "b"}),
            admin.post(
                "/v1/units",
                json={"id": "ua", "callsign": "ALPHA1", "domain": "air", "kind": "fighter", "force_id": "fa"},
            ),
            admin.post(
                "/v1/units",
                json={
                    "id": "ua-partner",
                    "callsign": "ALPHA2",
                    "domain": "land",
                    "kind": "infantry",
                    "force_id": "fa-partner",
                },
            ),
            admin.post(
                "/v1/units",
                json={"id": "ub", "callsign": "BRAVO1", "domain": "air", "kind": "fighter", "force_id": "fb"},
            ),
        ]
        for party in ("a", "b"):
            for role in ("liaison", "feed", "observer"):
                key = admin.post("/v1/keys", json={"role": role, "party_id": party, "label": f"{party} {role}"})
                made.append(key)
                keys[f"{party}-{role}"] = key.json().get("key", "")
    assert all(r.status_code == 201 for r in made), [r.text for r in made if r.status_code != 201]
    return keys


class SseReader:
    """Reads a /v1/stream connection on a thread and keeps every event it receives."""

    def __init__(self, service: Service | Endpoint, who: str, last_event_id: str | None = None) -> None:
        import threading

        self.events: list[dict[str, object]] = []
        self._client = service.client(who)
        self._headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "stream did not open"

    def _run(self) -> None:
        try:
            with self._client.stream("GET", "/v1/stream", headers=self._headers, timeout=None) as response:
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                        if event == "hello":
                            self._ready.set()
                    elif line.startswith("data: ") and event not in (None, "hello"):
                        self.events.append(json.loads(line[6:]))
        except Exception:  # the connection closes when the test ends
            self._ready.set()

    def wait_for(self, predicate: object, timeout_s: float = 10.0) -> dict[str, object]:
        """The first event matching ``predicate`` (a callable on the event), waiting up to ``timeout_s``."""
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in list(self.events):
                if predicate(event):  # type: ignore[operator]
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no matching event within {timeout_s} s; got {[e.get('kind') for e in self.events]}")

    def close(self) -> None:
        self._client.close()


def api_routes(app: object) -> list[tuple[str, str, object]]:
    """Every HTTP operation of ``app``: (method, full path, the action its key dependency enforces)."""
    from fastapi.routing import APIRoute

    found: list[tuple[str, str, object]] = []

    def walk(items: object, prefix: str) -> None:
        for route in items:  # type: ignore[attr-defined]
            if isinstance(route, APIRoute):
                for method in sorted(route.methods):
                    actions = [getattr(d.call, "action", None) for d in route.dependant.dependencies]
                    actions = [a for a in actions if a is not None]
                    assert len(actions) == 1, f"{method} {prefix}{route.path} must name exactly one action"
                    found.append((method, prefix + route.path, actions[0]))
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(app.routes, "")  # type: ignore[attr-defined]
    return found


def served_openapi(tmp_path: Path, database_url: str) -> dict[str, Any]:
    """The OpenAPI document the service serves; its deployment is closed again (no connection left open)."""
    from keepclear.api import create_app
    from keepclear.settings import Settings

    settings = Settings(data_dir=tmp_path, database_url=database_url)
    deployment = Deployment.open(settings, create=True)
    try:
        return create_app(settings, deployment=deployment).openapi()
    finally:
        deployment.close()


@contextmanager
def running_service(
    data_dir: Path,
    database_url: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    **overrides: Any,
) -> Iterator[Service]:
    """A real server on the store at ``database_url`` (None: SQLite in ``data_dir``), populated with
    ``populate`` and the example zones; ``monotonic`` is the clock of the API's rate bounds;
    ``overrides`` are settings."""
    from keepclear.api import create_app
    from keepclear.api.server import ThreadedServer
    from keepclear.services.runtime.bus import WallClock
    from keepclear.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, tick_s=0.2, **overrides)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    try:
        keys = populate(dep)
        import_example_zones(dep)
        app = create_app(settings, deployment=dep, monotonic=monotonic)
        with ThreadedServer(app) as server:
            yield Service(server.url, dep, app.state.runtime, keys)
    finally:
        dep.close()


@contextmanager
def statements_of_requests(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements, with their parameters, that the API's request threads execute (FastAPI
    runs plain routes and dependencies in AnyIO worker threads; the service's own threads are left out)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if threading.current_thread().name.startswith("AnyIO worker"):
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def bulk_conflicts(
    service: Service,
    found: Iterable[tuple[str, float]],
    version: int = 1,
    *,
    recorder: str = "a-1",
    target_party_id: str = "b",
) -> None:
    """Conflicts of ``recorder`` (a's ``a-1``; at ``version``) against ``target_party_id``'s (b's)
    activities, through the store's one path that records them (not a check): one a
    ``(target_id, detected_s)`` of ``found`` (as others' activities amended that often leave them)."""
    point = Point(40.0, 35.4)
    stored = [
        StoredConflict(
            recorder,
            version,
            Conflict(ConflictKind.ACTIVITY, target, target_party_id, 1, point, 0.0, 1.0, 0.0, 1.0, "bulk"),
            detected_s,
        )
        for target, detected_s in found
    ]
    with service.deployment.db.write() as conn:
        conflicts_store.record(conn, stored)


def bulk_threads(service: Service, count: int) -> list[str]:
    """``count`` threads of a and b, straight into the store, oldest first (as threads stored before
    ``opened_by``, so that a may open more): as others opening threads with a party leave them."""
    ids = [f"t-bulk-{i:06d}" for i in range(count)]
    row = {"title": "bulk", "standing": False, "pair_key": None, "created_s": 1.0, "last_seq": 0, "opened_by": None}
    with service.deployment.db.write() as conn:
        conn.execute(hotline_store.hotline_threads.insert(), [row | {"id": i} for i in ids])
        conn.execute(
            hotline_store.hotline_members.insert(), [{"thread_id": i, "party_id": p} for i in ids for p in "ab"]
        )
    return ids


def problem_without(response: httpx.Response, named_id: str) -> tuple[int, str, str]:
    """The status, type and detail of a problem with ``named_id`` written ``<id>``: two answers naming
    different ids compare equal when they say the same (an unknown id, another party's)."""
    body = response.json()
    return response.status_code, body["type"], body["detail"].replace(named_id, "<id>")


def counter(service: Service, name: str) -> float:
    """The admin's reading of the metric counter ``name`` (``GET /v1/metrics``)."""
    with service.client("admin") as admin:
        return float(admin.get("/v1/metrics").json()["counters"][name])


def recorded(service: Service, kind: str, key: str) -> set[Any]:
    """The ``key`` of every ``kind`` entry's payload the signed record holds."""
    with service.deployment.db.read() as conn:
        payloads = conn.execute(sa.select(ledger_entries.c.payload).where(ledger_entries.c.kind == kind)).scalars()
        return {json.loads(p).get(key) for p in payloads}


def another_liaison_key(service: Service, party_id: str) -> httpx.Client:
    """A client with a second liaison key of ``party_id`` (another console of the same party)."""
    key = service.deployment.keys.create(Role.LIAISON, party_id, f"{party_id}'s second console")[1]
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {key}"})
