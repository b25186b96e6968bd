"""Use cases on who takes part: parties, their rosters, forces and units."""

from __future__ import annotations

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.ids import id_problem, party_id_problem
from keepclear.domain.parties import Contact, force_problems, party_problems, roster_problems, unit_problems
from keepclear.errors import ValidationError
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import registry as store

LANGUAGES = ("en", "ru", "ar", "fr")


def _require_ids(**values: str) -> None:
    judge = {"party": party_id_problem}
    problems = [p for field, value in values.items() if (p := judge.get(field, id_problem)(value, field))]
    if problems:
        raise ValidationError(problems)


class RegistryService:
    """Parties, forces and units of one deployment."""

    def __init__(self, db: Database, clock: Clock, events: EventSink) -> None:
        self._db = db
        self._clock = clock
        self._events = events

    def add_party(self, party: Party, roster: list[Contact] | None = None) -> Party:
        """Add a party (and its escalation roster); emits ``party.added``."""
        _require_ids(party=party.id)
        if problems := party_problems(party, roster or []):
            raise ValidationError(problems)
        if party.language not in LANGUAGES:
            raise ValidationError([f"language: {party.language!r} is not one of {', '.join(LANGUAGES)}"])
        now_s = self._clock.now_s()
        with self._db.write() as conn:
            store.insert_party(conn, party, now_s)
            if roster:
                store.set_roster(conn, party.id, roster)
            others = [p.id for p in store.list_parties(conn) if p.id != party.id]
            event = Event(
                kind=EventKind.PARTY_ADDED,
                time_s=now_s,
                party_id=None,
                payload={
                    "party_id": party.id,
                    "name": party.name,
                    "language": party.language,
                    "others": others,
                },
                parties=frozenset([party.id, *others]),
            )
            stage(conn, [event])
        self._events.emit(event)
        return party

    def set_roster(self, party_id: str, roster: list[Contact]) -> None:
        """Replace the escalation roster of ``party_id``."""
        if problems := roster_problems(roster):
            raise ValidationError(problems)
        with self._db.write() as conn:
            store.set_roster(conn, party_id, roster)
            event = Event(
                kind=EventKind.PARTY_ROSTER_SET,
                time_s=self._clock.now_s(),
                party_id=None,
                payload={"party_id": party_id, "roster": [{"name": c.name, "role": c.role} for c in roster]},
                parties=frozenset([party_id]),
            )
            stage(conn, [event])
        self._events.emit(event)

    def roster(self, party_id: str) -> list[Contact]:
        """The escalation roster of ``party_id``."""
        with self._db.read() as conn:
            return store.get_roster(conn, party_id)

    def parties(self) -> list[Party]:
        """Every party."""
        with self._db.read() as conn:
            return store.list_parties(conn)

    def party(self, party_id: str) -> Party:
        """One party."""
        with self._db.read() as conn:
            return store.get_party(conn, party_id)

    def add_force(self, force: Force) -> Force:
        """Add a force (own or partner) to an existing party."""
        _require_ids(force=force.id)
        if problems := force_problems(force):
            raise ValidationError(problems)
        with self._db.write() as conn:
            store.insert_force(conn, force)
            event = Event(
                kind=EventKind.FORCE_ADDED,
                time_s=self._clock.now_s(),
                party_id=None,
                payload={"force_id": force.id, "party_id": force.party_id, "partner": force.partner},
                parties=frozenset([force.party_id]),
            )
            stage(conn, [event])
        self._events.emit(event)
        return force

    def forces(self, party_id: str | None = None) -> list[Force]:
        """Every force, or those of one party."""
        with self._db.read() as conn:
            return store.list_forces(conn, party_id)

    def add_unit(self, unit: Unit) -> Unit:
        """Add a unit to an existing force."""
        _require_ids(unit=unit.id)
        if problems := unit_problems(unit):
            raise ValidationError(problems)
        if not isinstance(unit.domain, Domain):
            raise ValidationError([f"domain: {unit.domain!r} is not one of air, land, sea"])
        with self._db.write() as conn:
            store.insert_unit(conn, unit)
            party_id = store.get_force(conn, unit.force_id).party_id
            event = Event(
                kind=EventKind.UNIT_ADDED,
                time_s=self._clock.now_s(),
                party_id=None,
                payload={
                    "unit_id": unit.id,
                    "force_id": unit.force_id,
                    "party_id": party_id,
                    "domain": unit.domain.value,
                },
                parties=frozenset([party_id]),
            )
            stage(conn, [event])
        self._events.emit(event)
        return unit

    def unit(self, unit_id: str) -> tuple[Unit, str]:
        """One unit with its party."""
        with self._db.read() as conn:
            return store.get_unit(conn, unit_id)

    def units(self, party_id: str | None = None) -> list[tuple[Unit, str]]:
        """Every unit with its party, or those of one party."""
        with self._db.read() as conn:
            return store.list_units(conn, party_id)
