"""A served world of three parties for the need-to-know tests, on either store.

Parties a, b, c; an aircraft each (ua, ub, uc) and b's intruder ub-x; a restricted operating zone
``roz-a`` that only a may enter; a key per role and party. Helpers make an alert between ua and ub,
fly ub-x into and out of the zone, and read the stream without holding a connection open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from apisupport import Service

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Role
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.settings import Settings

PARTIES = ("a", "b", "c")
ROLES = (Role.LIAISON, Role.FEED, Role.OBSERVER)

#: A box 0.2° a side that only party a may enter, at any altitude.
ROZ_LON_DEG = (37.0, 37.2)
ROZ_LAT_DEG = (34.0, 34.2)
ZONES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "roz-a",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[37.0, 34.0], [37.2, 34.0], [37.2, 34.2], [37.0, 34.2], [37.0, 34.0]],
                ],
            },
            "properties": {
                "kind": "restricted-operating-zone",
                "name": "A's box",
                "lower_ft": 0,
                "upper_ft": 60000,
                "permitted_parties": ["a"],
            },
        }
    ],
}


def populate_three(dep: Deployment) -> dict[str, str]:
    """Parties a, b, c with a force and an aircraft each, b's intruder, and a key per role."""
    reg = dep.registry
    for party in PARTIES:
        reg.add_party(Party(party, party.upper()))
        reg.add_force(Force(f"f{party}", f"{party} air", party))
        reg.add_unit(Unit(f"u{party}", f"{party.upper()}-ONE", Domain.AIR, "fighter", f"f{party}"))
    reg.add_unit(Unit("ub-x", "B-INTRUDER", Domain.AIR, "uav", "fb"))
    keys = {"admin": dep.keys.create(Role.ADMIN, None, "admin")[1]}
    for party in PARTIES:
        for role in ROLES:
            keys[f"{party}-{role.value}"] = dep.keys.create(role, party, f"{party} {role.value}")[1]
    return keys


@contextmanager
def served(database_url: str, tmp_path: Path, **changes: Any) -> Iterator[Service]:
    """A real server over ``database_url`` with the three-party world (``changes``: other settings)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, tick_s=0.2, **changes)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate_three(dep)
    dep.zones.import_document(json.loads(json.dumps(ZONES)))
    app = create_app(settings, deployment=dep)
    try:
        with ThreadedServer(app) as server:
            yield Service(server.url, dep, app.state.runtime, keys)
    finally:
        dep.close()


def report(service: Service, rows: list[tuple[str, float, float, float, float]], age_s: float = 0.0) -> None:
    """Feed ``(unit, lat, lon, east m/s, north m/s)`` at 7,000 m ``age_s`` ago (now), as keepclear's own
    ingest, and tick."""
    now = time.time() - age_s
    values = np.array([[now, lat, lon, 7000.0, ve, vn, 0.0] for _, lat, lon, ve, vn in rows])
    accepted = service.runtime.ingest.submit(ReportColumns([r[0] for r in rows], values), None)
    assert len(accepted.accepted_indices) == len(rows), accepted.refused
    service.runtime.pump()  # the running pump thread may not have moved them yet
    for _ in range(2):
        service.runtime.tick()


def alert_between(service: Service, unit_a: str, unit_b: str, lat_deg: float = 35.0) -> str:
    """An active alert between two aircraft converging head on; its id."""
    report(service, [(unit_a, lat_deg, 38.0, 220.0, 0.0), (unit_b, lat_deg, 38.3, -220.0, 0.0)])
    for alert in service.runtime.tactical.book.active():
        if {alert.unit_a, alert.unit_b} == {unit_a, unit_b}:
            return alert.id
    raise AssertionError(f"no alert between {unit_a} and {unit_b}")


def intruder_inside(service: Service, unit: str = "ub-x") -> None:
    """``unit`` flies into the middle of ``roz-a``."""
    report(service, [(unit, 34.1, 37.1, 0.0, 0.0)])


def intruder_gone(service: Service, unit: str = "ub-x") -> None:
    """``unit`` is far out of ``roz-a`` again."""
    report(service, [(unit, 34.1, 36.5, 0.0, 0.0)])


def stream_once(service: Service, who: str, after: str | None = "0") -> list[dict[str, Any]]:
    """Every stream event the key may see after ``after`` (catch-up with Last-Event-ID), then closed."""
    headers = {} if after is None else {"Last-Event-ID": after}
    events: list[dict[str, Any]] = []
    with (
        service.client(who) as client,
        client.stream("GET", "/v1/stream", params={"once": "true"}, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind not in (None, "hello", "reload"):
                events.append(json.loads(line[6:]))
    return events


def problem(response: Any, ident: str) -> tuple[int, str, str, str]:
    """A refusal with ``ident`` blanked out: what must read alike for foreign and made-up ids."""
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    text = json.dumps(body.get("errors", body.get("detail")), sort_keys=True)
    return response.status_code, body.get("type", ""), body.get("title", ""), text.replace(ident, "<id>")
