"""Stored availability: what each party last declared (available, degraded, suspended), one row a party."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.hotline import Availability, PartyAvailability
from keepclear.store.hotline.tables import hotline_availability


def get_availability(conn: Connection, party_id: str) -> PartyAvailability:
    """What ``party_id`` last declared (available since 0 when it never declared anything)."""
    row = conn.execute(sa.select(hotline_availability).where(hotline_availability.c.party_id == party_id)).first()
    if row is None:
        return PartyAvailability(party_id, Availability.AVAILABLE, 0.0)
    return PartyAvailability(row.party_id, Availability(row.availability), row.since_s, row.person, row.reason)


def set_availability(conn: Connection, value: PartyAvailability) -> None:
    """Store what ``value.party_id`` now declares."""
    conn.execute(hotline_availability.delete().where(hotline_availability.c.party_id == value.party_id))
    conn.execute(
        hotline_availability.insert().values(
            party_id=value.party_id,
            availability=value.availability.value,
            since_s=value.since_s,
            person=value.person,
            reason=value.reason,
        )
    )
