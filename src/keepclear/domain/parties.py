"""Parties, the forces they answer for, and the units those forces field."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from keepclear.domain.limits import short_line_problem

#: The most characters of a party's, a force's or a contact's name, and of a contact's role: the stores' column width.
NAME_MAX_CHARS = 200
#: The most characters of a unit's callsign and of its kind: the stores' column width.
CALLSIGN_MAX_CHARS = 64
UNIT_KIND_MAX_CHARS = 64


class Domain(enum.StrEnum):
    """Where a unit operates; separation minima depend on the pair of domains."""

    AIR = "air"
    LAND = "land"
    SEA = "sea"


@dataclass(frozen=True, slots=True)
class Party:
    """An independent actor with its own credentials and liaison cell.

    ``language`` is the language its people read standard phrases in (``en``, ``ru``).
    """

    id: str
    name: str
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Contact:
    """One step of a party's escalation roster: who is called when the step before stays silent."""

    name: str
    role: str = ""


@dataclass(frozen=True, slots=True)
class Force:
    """A body of units a party answers for: its own (``partner`` False) or a partner's."""

    id: str
    name: str
    party_id: str
    partner: bool = False


@dataclass(frozen=True, slots=True)
class Unit:
    """A tracked thing: aircraft, ground unit, vessel, UAV, convoy.

    A unit belongs to a force, and through it to the party that answers for it.
    """

    id: str
    callsign: str
    domain: Domain
    kind: str
    force_id: str


def party_problems(party: Party, roster: Sequence[Contact] = ()) -> list[str]:
    """What keeps ``party`` (its name) and its escalation ``roster`` from being stored, each naming its
    field: one rule for the CLI, the API and scenario files, on SQLite and PostgreSQL alike."""
    return [
        *([p] if (p := short_line_problem(party.name, "name", NAME_MAX_CHARS)) else []),
        *roster_problems(roster),
    ]


def roster_problems(roster: Sequence[Contact]) -> list[str]:
    """What keeps each contact of an escalation roster from being stored (``roster[i].name``, ``.role``)."""
    problems = []
    for index, contact in enumerate(roster):
        where = f"roster[{index}]"
        if p := short_line_problem(contact.name, f"{where}.name", NAME_MAX_CHARS):
            problems.append(p)
        if p := short_line_problem(contact.role, f"{where}.role", NAME_MAX_CHARS, required=False):
            problems.append(p)
    return problems


def force_problems(force: Force) -> list[str]:
    """What keeps ``force`` (its name) from being stored."""
    return [p] if (p := short_line_problem(force.name, "name", NAME_MAX_CHARS)) else []


def unit_problems(unit: Unit) -> list[str]:
    """What keeps ``unit`` (its callsign and kind) from being stored."""
    return [
        p
        for p in (
            short_line_problem(unit.callsign, "callsign", CALLSIGN_MAX_CHARS),
            short_line_problem(unit.kind, "kind", UNIT_KIND_MAX_CHARS, required=False),
        )
        if p
    ]
