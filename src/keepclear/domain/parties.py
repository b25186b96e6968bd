"""Parties, the forces they answer for, and the units those forces field."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
