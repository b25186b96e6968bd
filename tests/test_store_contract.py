"""Contract tests of the foundation store, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.parties import Contact
from keepclear.errors import ConflictError, NotFoundError
from keepclear.services.runtime.deployment import Deployment


def test_party_force_unit_round_trip(deployment: Deployment) -> None:
    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition"), [Contact("Duty officer", "J3"), Contact("Deputy", "J3")])
    reg.add_party(Party("russia", "Russia", "ru"))
    reg.add_force(Force("sdf", "SDF", "coalition", partner=True))
    reg.add_unit(Unit("u1", "VIPER11", Domain.AIR, "fighter", "sdf"))
    assert [p.id for p in reg.parties()] == ["coalition", "russia"]
    assert reg.party("russia").language == "ru"
    assert [c.name for c in reg.roster("coalition")] == ["Duty officer", "Deputy"]
    assert reg.forces("coalition") == [Force("sdf", "SDF", "coalition", True)]
    assert reg.units() == [(Unit("u1", "VIPER11", Domain.AIR, "fighter", "sdf"), "coalition")]
    assert reg.units("russia") == []


def test_duplicate_party_is_refused_and_first_kept(deployment: Deployment) -> None:
    deployment.registry.add_party(Party("un", "United Nations"))
    with pytest.raises(ConflictError, match="already exists"):
        deployment.registry.add_party(Party("un", "Other"))
    assert deployment.registry.party("un").name == "United Nations"


def test_force_of_unknown_party_is_refused(deployment: Deployment) -> None:
    with pytest.raises(NotFoundError, match="party 'nobody'"):
        deployment.registry.add_force(Force("f", "F", "nobody"))
    assert deployment.registry.forces() == []


def test_adding_a_party_emits_an_event_naming_the_others(deployment: Deployment) -> None:
    seen = []
    deployment.bus.subscribe(seen.append)
    deployment.registry.add_party(Party("a", "A"))
    deployment.registry.add_party(Party("b", "B"))
    assert [e.kind for e in seen] == ["party.added", "party.added"]
    assert seen[1].payload["others"] == ["a"]
    assert seen[1].parties == frozenset({"a", "b"})
