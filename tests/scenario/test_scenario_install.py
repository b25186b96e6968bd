"""A scenario's world goes into a deployment, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from keepclear.scenario import Scenario
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.scenario import install_scenario


def test_founding_pack_installs_parties_forces_units_and_zones(deployment: Deployment, euphrates: Scenario) -> None:
    install_scenario(deployment, euphrates)
    registry = deployment.registry
    assert [p.id for p in registry.parties()] == ["coalition", "russia", "un"]
    assert registry.party("russia").language == "ru"
    assert [c.name for c in registry.roster("coalition")][:1] == ["CAOC deconfliction cell duty officer"]
    assert {f.id for f in registry.forces("russia")} == {"vks", "saa"}
    assert {u.id for u, _ in registry.units("russia")} >= {"berkut-12", "saa-crossing"}
    assert len(registry.units()) == len(euphrates.plans)
    stored = {z.id: z for z in deployment.zones.list()}
    assert set(stored) == {z.id for z in euphrates.zones}
    assert stored["euphrates-line"].geometry.equals(
        next(z for z in euphrates.zones if z.id == "euphrates-line").geometry
    )
