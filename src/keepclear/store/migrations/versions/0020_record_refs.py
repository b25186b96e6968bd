"""Record: the ids each entry's payload names (``alert_id``, ``incident_id``, ``message_id`` at its top
level), indexed by id and time in ``ledger_refs``, so that an incident's evidence reads its own
alert and message entries rather than every party's in its window.

Revision ID: 0020_record_refs
Revises: 0011_record_hash_index

Freezing an incident's evidence read and parsed every alert and message entry of the record within
± ``evidence_window_s`` (every party's traffic: thousands under load) to keep the few naming its
alerts, its id or its messages. The entries already stored are indexed here, read
``_FILL_BATCH_ROWS`` at a time, as the ledger indexes new ones (``keepclear.ledger.refs``, copied
here so that this revision stays what it is): a value that is not text, is longer than 128
characters or holds a NUL is not indexed (a reader asking for one reads the window whole); a payload
that is not JSON names nothing. An index only: nothing hashed, signed or exported changes.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020_record_refs"
down_revision = "0011_record_hash_index"
branch_labels = None
depends_on = None

_REF_KEYS = ("alert_id", "incident_id", "message_id")
_MAX_REF_CHARS = 128
#: Entries read (and their ids written) per round of the fill: memory stays flat on a big record.
_FILL_BATCH_ROWS = 5000


def _refs(text: Any) -> list[str]:
    if not isinstance(text, str) or ("\\u" not in text and not any(key in text for key in _REF_KEYS)):
        return []
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return []
    if not isinstance(payload, dict):
        return []
    found = {payload.get(key) for key in _REF_KEYS}
    return sorted(v for v in found if isinstance(v, str) and len(v) <= _MAX_REF_CHARS and "\x00" not in v)


def upgrade() -> None:
    refs = op.create_table(
        "ledger_refs",
        sa.Column("ref", sa.String(_MAX_REF_CHARS), primary_key=True),
        sa.Column("time_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    assert refs is not None
    conn = op.get_bind()
    entries = sa.table("ledger_entries", sa.column("seq"), sa.column("time_us"), sa.column("payload"))
    after = 0
    while True:
        query = (
            sa.select(entries.c.seq, entries.c.time_us, entries.c.payload)
            .where(entries.c.seq > after)
            .order_by(entries.c.seq)
            .limit(_FILL_BATCH_ROWS)
        )
        rows = conn.execute(query).all()
        if not rows:
            return
        found = [{"ref": ref, "time_us": row.time_us, "seq": row.seq} for row in rows for ref in _refs(row.payload)]
        if found:
            conn.execute(refs.insert(), found)
        after = rows[-1].seq


def downgrade() -> None:
    op.drop_table("ledger_refs")
