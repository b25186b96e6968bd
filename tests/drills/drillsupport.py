"""The drills' store and traffic: a deployment made once, then ``keepclear serve`` (``serving.serve``)
killed with ``kill -9`` and started again on it as often as a drill likes.

The deployment has two parties, forces, ``UNITS`` aircraft each and keys per role; the server runs as
an operator runs it: ``keepclear --data-dir ... --database-url ... serve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from serving import ServedProcess

UNITS = 8


def unit_ids(party: str) -> list[str]:
    return [f"u{party}{i}" for i in range(UNITS)]


def populate(data_dir: Path, database_url: str) -> dict[str, str]:
    """Parties a and b with ``UNITS`` aircraft each; keys 'a-feed', 'a-liaison', 'b-liaison'..."""
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=database_url), create=True)
    try:
        reg = dep.registry
        keys = {}
        for party in ("a", "b"):
            reg.add_party(Party(party, party.upper()), [Contact(f"{party} duty officer")])
            reg.add_force(Force(f"f{party}", f"Force {party}", party))
            for unit_id in unit_ids(party):
                reg.add_unit(Unit(unit_id, unit_id.upper(), Domain.AIR, "aircraft", f"f{party}"))
            for role in (Role.FEED, Role.LIAISON):
                keys[f"{party}-{role.value}"] = dep.keys.create(role, party, f"{party} {role.value}")[1]
        return keys
    finally:
        dep.close()


def client(server: ServedProcess, key: str, timeout_s: float = 10.0) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s)


def track_batch(party: str, time_s: float) -> dict[str, Any]:
    """One report of each of ``party``'s units at ``time_s`` (positions derived from the time)."""
    return {
        "reports": [
            {
                "unit_id": unit_id,
                "time": format_utc(time_s),
                "lat_deg": 50.0 + i * 0.1 + (time_s % 1000) * 1e-5,
                "lon_deg": 4.0 + (0.0 if party == "a" else 1.0),
                "alt_m": 9000.0 + i * 300,
                "vel_east_mps": 200.0,
                "vel_north_mps": 0.0,
                "vel_up_mps": 0.0,
            }
            for i, unit_id in enumerate(unit_ids(party))
        ]
    }


def history(server: ServedProcess, key: str, since_s: float) -> list[tuple[str, str]]:
    """The (unit, time) pairs of the caller's own units' track history from ``since_s``."""
    with client(server, key, 30.0) as c:
        response = c.get("/v1/tracks/history", params={"since": format_utc(since_s)})
        assert response.status_code == 200, response.text
        return [(p["unit_id"], p["time"]) for p in response.json()]
