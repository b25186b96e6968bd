"""A scenario as plain typed values: who takes part, what moves where, what is said and when.

Built by ``keepclear.scenario.loader`` from one YAML file plus a GeoJSON of zones; read by the
simulator (unit plans, sensors) and by whoever plays the script (activities, hotline, acks).
Every time is seconds since the Unix epoch (UTC), already resolved from the file's relative times.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from keepclear.domain import Contact, Domain, Force, Party, TrackReport, Unit, Zone


class PartyRole(enum.StrEnum):
    """What a party does in the scenario: a full party, or an observer (the UN in the founding pack)."""

    PARTY = "party"
    OBSERVER = "observer"


@dataclass(frozen=True, slots=True)
class PartySpec:
    """A party with its escalation roster (first contact called first) and its role."""

    party: Party
    roster: tuple[Contact, ...] = ()
    role: PartyRole = PartyRole.PARTY


@dataclass(frozen=True, slots=True)
class Performance:
    """What a unit can physically do; the simulator never exceeds it.

    Speeds are true airspeed / ground speed in metres per second, rates per second.
    """

    min_speed_mps: float
    max_speed_mps: float
    max_turn_rate_dps: float
    max_climb_mps: float
    max_descent_mps: float
    max_accel_mps2: float


#: Defaults per domain: a fast jet (3°/s standard-rate turns, 4,000 ft/min), a ground vehicle, a ship.
DEFAULT_PERFORMANCE: dict[Domain, Performance] = {
    Domain.AIR: Performance(
        min_speed_mps=60.0,
        max_speed_mps=300.0,
        max_turn_rate_dps=3.0,
        max_climb_mps=20.3,
        max_descent_mps=20.3,
        max_accel_mps2=3.0,
    ),
    Domain.LAND: Performance(
        min_speed_mps=0.0,
        max_speed_mps=25.0,
        max_turn_rate_dps=30.0,
        max_climb_mps=5.0,
        max_descent_mps=5.0,
        max_accel_mps2=1.0,
    ),
    Domain.SEA: Performance(
        min_speed_mps=0.0,
        max_speed_mps=18.0,
        max_turn_rate_dps=2.0,
        max_climb_mps=0.0,
        max_descent_mps=0.0,
        max_accel_mps2=0.2,
    ),
}


class LoiterDirection(enum.StrEnum):
    """Which way an orbit turns, seen from above."""

    CLOCKWISE = "cw"
    COUNTER_CLOCKWISE = "ccw"


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A point of a unit's plan.

    ``at_s`` (a timed waypoint) makes the unit adjust its speed to arrive then; otherwise it moves at
    ``speed_mps``. ``until_s`` keeps it here until then: an aircraft orbits (``loiter_radius_m``,
    ``loiter_direction``), a ground unit or vessel stops.
    """

    lat_deg: float
    lon_deg: float
    alt_m: float
    speed_mps: float | None = None
    at_s: float | None = None
    until_s: float | None = None
    loiter_radius_m: float = 5000.0
    loiter_direction: LoiterDirection = LoiterDirection.CLOCKWISE


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """A unit and where it goes: from the first waypoint at ``start_s`` through the rest.

    Reports stop at the last waypoint (landed, out of coverage) unless it has ``until_s``.
    A unit with a ``recording`` replays real reports instead, as they were (``route`` is empty).
    """

    unit: Unit
    start_s: float
    route: tuple[Waypoint, ...]
    performance: Performance
    report_interval_s: float | None = None
    recording: tuple[TrackReport, ...] = ()


@dataclass(frozen=True, slots=True)
class ScriptedActivity:
    """An activity a party notifies at ``notify_at_s``.

    ``body`` is the notification as the activities service takes it (kind, start/end, volumes or route,
    priority, addressees, units, share_units, contact, text), times resolved to ISO 8601 UTC.
    ``acks`` maps each addressee to its delay in seconds after notification, or None: never.
    """

    ref: str
    party_id: str
    notify_at_s: float
    body: dict[str, Any]
    acks: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScriptedMessage:
    """A hotline message posted at ``at_s``: free ``text``, or a standard ``phrase`` code with ``params``.

    Messages sharing ``thread`` go in one thread (the first one opens it). ``acks`` as for activities.
    """

    ref: str
    at_s: float
    from_party: str
    to_parties: tuple[str, ...]
    thread: str
    text: str | None = None
    phrase: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reply_to: str | None = None
    acks: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dropouts:
    """Reports that never arrive: each one alone with ``probability``, and whole outages per unit."""

    probability: float = 0.0
    outages_per_h: float = 0.0
    outage_mean_s: float = 60.0


@dataclass(frozen=True, slots=True)
class SensorModel:
    """How the simulated feeds err: Gaussian noise (1-sigma) and dropouts, reports every interval."""

    position_sigma_m: float = 0.0
    altitude_sigma_m: float = 0.0
    velocity_sigma_mps: float = 0.0
    report_interval_s: dict[Domain, float] = field(
        default_factory=lambda: {Domain.AIR: 4.0, Domain.LAND: 10.0, Domain.SEA: 10.0}
    )
    dropouts: Dropouts = field(default_factory=Dropouts)


class ExpectationKind(enum.StrEnum):
    """What a scenario promises its replay will show."""

    STRATEGIC_CONFLICT = "strategic-conflict"
    TACTICAL_ALERT = "tactical-alert"
    LOSS_OF_SEPARATION = "loss-of-separation"
    LINE_CROSSING = "line-crossing"
    ESCALATION = "escalation"
    LEAD_TIME = "lead-time"


@dataclass(frozen=True, slots=True)
class Expectation:
    """One outcome a replay must show: ``activities``, ``units`` and ``zone`` name what is involved."""

    kind: ExpectationKind
    activities: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    zone: str | None = None
    parties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryBeat:
    """Something a person watching the scenario should look for, and when (scenario time)."""

    at_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario, validated: names, references and kinematics are consistent."""

    id: str
    name: str
    description: str
    start_s: float
    end_s: float
    seed: int
    parties: tuple[PartySpec, ...]
    forces: tuple[Force, ...]
    plans: tuple[UnitPlan, ...]
    zones: tuple[Zone, ...]
    activities: tuple[ScriptedActivity, ...]
    messages: tuple[ScriptedMessage, ...]
    sensors: SensorModel
    expectations: tuple[Expectation, ...] = ()
    story: tuple[StoryBeat, ...] = ()

    @property
    def units(self) -> tuple[Unit, ...]:
        """Every unit, in plan order."""
        return tuple(plan.unit for plan in self.plans)

    def party_of_unit(self) -> dict[str, str]:
        """unit id → the party that answers for it (through its force)."""
        party_of_force = {force.id: force.party_id for force in self.forces}
        return {plan.unit.id: party_of_force[plan.unit.force_id] for plan in self.plans}
