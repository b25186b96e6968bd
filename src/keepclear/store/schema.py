"""Tables of the foundation: parties, their escalation rosters, forces, units and zones.

Each capability declares its own tables in its own module on this same ``metadata``; Alembic
migrations under ``migrations/versions`` create them.
"""

from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa

from keepclear.domain.parties import CALLSIGN_MAX_CHARS, NAME_MAX_CHARS, UNIT_KIND_MAX_CHARS

_T = TypeVar("_T")

metadata = sa.MetaData()

#: Values per ``IN (...)`` list: well below SQLite's limit on bound parameters.
IN_LIST_SIZE = 500


def in_list_chunks(values: list[_T]) -> list[list[_T]]:
    """``values`` in slices of at most ``IN_LIST_SIZE``, one ``IN (...)`` query each."""
    return [values[start : start + IN_LIST_SIZE] for start in range(0, len(values), IN_LIST_SIZE)]


parties = sa.Table(
    "parties",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(NAME_MAX_CHARS), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created_s", sa.Double, nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(NAME_MAX_CHARS), nullable=False),
    sa.Column("role", sa.String(NAME_MAX_CHARS), nullable=False),
)

forces = sa.Table(
    "forces",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(NAME_MAX_CHARS), nullable=False),
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False, index=True),
    sa.Column("partner", sa.Boolean, nullable=False),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("callsign", sa.String(CALLSIGN_MAX_CHARS), nullable=False),
    sa.Column("domain", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(UNIT_KIND_MAX_CHARS), nullable=False),
    sa.Column("force_id", sa.String(64), sa.ForeignKey("forces.id"), nullable=False, index=True),
)

zones = sa.Table(
    "zones",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("geometry", sa.Text, nullable=False),
    sa.Column("buffer_m", sa.Double, nullable=False),
    sa.Column("lower_ft", sa.Double, nullable=False),
    sa.Column("upper_ft", sa.Double, nullable=False),
    sa.Column("valid_from_s", sa.Double, nullable=True),
    sa.Column("valid_until_s", sa.Double, nullable=True),
    sa.Column("permitted_parties", sa.Text, nullable=True),
    sa.Column("min_notice_h", sa.Double, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("min_lon_deg", sa.Double, nullable=False),
    sa.Column("min_lat_deg", sa.Double, nullable=False),
    sa.Column("max_lon_deg", sa.Double, nullable=False),
    sa.Column("max_lat_deg", sa.Double, nullable=False),
    # The name in other languages: a JSON object of language tag -> name, or NULL (migration 0012).
    sa.Column("names", sa.Text, nullable=True),
)

#: One row (id 1) whose ``version`` moves on with every change to ``zones``: database triggers
#: (migration 0014) bump it, so caches of the zones (the strategic index) know when to read again.
zones_version = sa.Table(
    "zones_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)
