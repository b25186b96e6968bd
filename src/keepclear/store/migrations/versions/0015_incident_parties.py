"""Record: who each incident is listed to, indexed by party and then time and id, so a party's page
of ``GET /v1/incidents`` reads one range of an index rather than matching text in every incident.

Revision ID: 0015_incident_parties
Revises: 0007_incident_alerts

The incidents already stored are filled in from their ``parties`` text (one party id per line) and
``reported_by``, as the store reads them: each non-empty line is a party, the reporter is one too,
each once. What cannot be a party's row is left out and logged (logger ``keepclear.store.migrate``,
a warning naming the incidents), never failing the migration: a line longer than 64 characters (no
party id is; no party could list it), a ``parties`` value that is not text (SQLite stores any type
in any column), an incident whose time is not a number. Such an incident stays stored and readable
by id and in the admin's list; only a party's list does not show it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015_incident_parties"
down_revision = "0007_incident_alerts"
branch_labels = None
depends_on = None

#: The longest party id (``keepclear.domain.ids``), the width of the column.
_MAX_PARTY_ID_CHARS = 64
#: Incidents read (and their rows written) per round of the fill: memory stays flat on a big table.
_FILL_BATCH_ROWS = 2000

log = logging.getLogger("keepclear.store.migrate")


def _rows_of(
    incident_id: str, time_s: Any, parties: Any, reported_by: Any, skipped: dict[str, str]
) -> list[dict[str, Any]]:
    """The ``incident_parties`` rows of one stored incident; why any was left out goes in ``skipped``."""
    if isinstance(time_s, bool) or not isinstance(time_s, int | float) or math.isnan(time_s):
        skipped[incident_id] = f"time_s {time_s!r} is not a number"
        return []
    named: set[str] = set()
    if isinstance(parties, str):
        named.update(line for line in parties.split("\n") if line)
    else:
        skipped[incident_id] = f"parties is {type(parties).__name__}, not text"
    if isinstance(reported_by, str) and reported_by:
        named.add(reported_by)
    too_long = sorted(p for p in named if len(p) > _MAX_PARTY_ID_CHARS)
    if too_long:
        skipped[incident_id] = f"{len(too_long)} party id(s) longer than {_MAX_PARTY_ID_CHARS} characters"
    return [
        {"party_id": p, "time_s": float(time_s), "incident_id": incident_id}
        for p in sorted(named)
        if len(p) <= _MAX_PARTY_ID_CHARS
    ]


def upgrade() -> None:
    members = op.create_table(
        "incident_parties",
        sa.Column("party_id", sa.String(_MAX_PARTY_ID_CHARS), primary_key=True),
        sa.Column("time_s", sa.Double, primary_key=True, autoincrement=False),
        sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
    )
    bind = op.get_bind()
    columns = "SELECT id, time_s, parties, reported_by FROM incidents"
    first = sa.text(f"{columns} ORDER BY id LIMIT :n")
    following = sa.text(f"{columns} WHERE id > :after ORDER BY id LIMIT :n")
    skipped: dict[str, str] = {}
    after: str | None = None
    while True:
        if after is None:
            rows = bind.execute(first, {"n": _FILL_BATCH_ROWS}).all()
        else:
            rows = bind.execute(following, {"after": after, "n": _FILL_BATCH_ROWS}).all()
        if not rows:
            break
        filled = [m for row in rows for m in _rows_of(row[0], row[1], row[2], row[3], skipped)]
        if filled:
            op.bulk_insert(members, filled)
        after = rows[-1][0]
    if skipped:
        shown = "; ".join(f"{incident_id}: {why}" for incident_id, why in sorted(skipped.items())[:20])
        log.warning(
            "incident_parties: %d stored incident(s) listed to fewer parties than their text names"
            " (still stored, readable by id and by the admin): %s%s",
            len(skipped),
            shown,
            "; ..." if len(skipped) > 20 else "",
        )


def downgrade() -> None:
    op.drop_table("incident_parties")
