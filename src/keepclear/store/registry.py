"""Stored parties, their escalation rosters, forces and units."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.parties import Contact
from keepclear.errors import ConflictError, NotFoundError
from keepclear.store.schema import contacts, forces, parties, units


def insert_party(conn: Connection, party: Party, created_s: float) -> None:
    """Add ``party``; a party with the same id is a ``ConflictError``."""
    if conn.execute(sa.select(parties.c.id).where(parties.c.id == party.id)).first():
        raise ConflictError(f"party {party.id!r} already exists")
    conn.execute(parties.insert().values(id=party.id, name=party.name, language=party.language, created_s=created_s))


def get_party(conn: Connection, party_id: str) -> Party:
    """The party ``party_id``, or ``NotFoundError``."""
    row = conn.execute(sa.select(parties).where(parties.c.id == party_id)).first()
    if row is None:
        raise NotFoundError(f"party {party_id!r} does not exist")
    return Party(id=row.id, name=row.name, language=row.language)


def lock_party(conn: Connection, party_id: str) -> None:
    """Lock party ``party_id``'s row until the transaction ends, so that writers counting what the
    party holds against a bound (threads it opened, proposals pending), in any process, count one
    after the other: none passes the bound that another is passing at the same moment.

    PostgreSQL: ``FOR NO KEY UPDATE``, which the foreign-key checks of other writers referring to the
    party do not wait for; SQLite: the clause is left out, the file's single writer serialises.
    ``NotFoundError`` when there is no such party.
    """
    locked = conn.execute(sa.select(parties.c.id).where(parties.c.id == party_id).with_for_update(key_share=True))
    if locked.first() is None:
        raise NotFoundError(f"party {party_id!r} does not exist")


def list_parties(conn: Connection) -> list[Party]:
    """Every party, by id."""
    rows = conn.execute(sa.select(parties).order_by(parties.c.id))
    return [Party(id=r.id, name=r.name, language=r.language) for r in rows]


def set_roster(conn: Connection, party_id: str, roster: list[Contact]) -> None:
    """Replace the escalation roster of ``party_id`` (first contact first)."""
    get_party(conn, party_id)
    conn.execute(contacts.delete().where(contacts.c.party_id == party_id))
    for position, contact in enumerate(roster):
        conn.execute(
            contacts.insert().values(party_id=party_id, position=position, name=contact.name, role=contact.role)
        )


def get_roster(conn: Connection, party_id: str) -> list[Contact]:
    """The escalation roster of ``party_id``, first contact first (may be empty)."""
    rows = conn.execute(sa.select(contacts).where(contacts.c.party_id == party_id).order_by(contacts.c.position))
    return [Contact(name=r.name, role=r.role) for r in rows]


def insert_force(conn: Connection, force: Force) -> None:
    """Add ``force`` for an existing party."""
    get_party(conn, force.party_id)
    if conn.execute(sa.select(forces.c.id).where(forces.c.id == force.id)).first():
        raise ConflictError(f"force {force.id!r} already exists")
    conn.execute(forces.insert().values(id=force.id, name=force.name, party_id=force.party_id, partner=force.partner))


def get_force(conn: Connection, force_id: str) -> Force:
    """The force ``force_id``, or ``NotFoundError``."""
    row = conn.execute(sa.select(forces).where(forces.c.id == force_id)).first()
    if row is None:
        raise NotFoundError(f"force {force_id!r} does not exist")
    return Force(id=row.id, name=row.name, party_id=row.party_id, partner=bool(row.partner))


def list_forces(conn: Connection, party_id: str | None = None) -> list[Force]:
    """Every force, or those of ``party_id``, by id."""
    query = sa.select(forces).order_by(forces.c.id)
    if party_id is not None:
        query = query.where(forces.c.party_id == party_id)
    return [Force(id=r.id, name=r.name, party_id=r.party_id, partner=bool(r.partner)) for r in conn.execute(query)]


def insert_unit(conn: Connection, unit: Unit) -> None:
    """Add ``unit`` to an existing force."""
    get_force(conn, unit.force_id)
    if conn.execute(sa.select(units.c.id).where(units.c.id == unit.id)).first():
        raise ConflictError(f"unit {unit.id!r} already exists")
    conn.execute(
        units.insert().values(
            id=unit.id,
            callsign=unit.callsign,
            domain=unit.domain.value,
            kind=unit.kind,
            force_id=unit.force_id,
        )
    )


def list_units(conn: Connection, party_id: str | None = None) -> list[tuple[Unit, str]]:
    """Every unit with the party that answers for it, or only those of ``party_id``, by id."""
    query = sa.select(units, forces.c.party_id).join(forces, units.c.force_id == forces.c.id).order_by(units.c.id)
    if party_id is not None:
        query = query.where(forces.c.party_id == party_id)
    return [
        (
            Unit(id=r.id, callsign=r.callsign, domain=Domain(r.domain), kind=r.kind, force_id=r.force_id),
            r.party_id,
        )
        for r in conn.execute(query)
    ]


def get_unit(conn: Connection, unit_id: str) -> tuple[Unit, str]:
    """The unit ``unit_id`` and its party, or ``NotFoundError``."""
    row = conn.execute(
        sa.select(units, forces.c.party_id).join(forces, units.c.force_id == forces.c.id).where(units.c.id == unit_id)
    ).first()
    if row is None:
        raise NotFoundError(f"unit {unit_id!r} does not exist")
    unit = Unit(id=row.id, callsign=row.callsign, domain=Domain(row.domain), kind=row.kind, force_id=row.force_id)
    return unit, row.party_id
