"""Helpers of the API tests: a running service and a populated deployment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.services.deployment import Deployment
from keepclear.services.runtime import Runtime

EXAMPLE_ZONES = Path(__file__).resolve().parents[2] / "examples" / "zones.geojson"


@dataclass
class Service:
    """The running server, its deployment, and a key per role ('a-liaison', 'b-feed', 'admin'...)."""

    url: str
    deployment: Deployment
    runtime: Runtime
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


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
