"""Record: no unique index on the entry hash; on SQLite, ``seq`` is the table's row id.

Nothing looks an entry up by its hash (the chain links and the Merkle leaves are read by ``seq``),
yet every append paid for a random insert into that index. On SQLite a ``BIGINT`` primary key is
a second b-tree beside the row id; ``INTEGER PRIMARY KEY`` makes ``seq`` the row id itself. Both
cuts rebuild the table (SQLite cannot drop an unnamed constraint in place): a new table, the rows
copied in ``seq`` order, the old one dropped, the new one renamed, its indexes made again.

Revision ID: 0011_record_hash_index
Revises: 0010_transparency_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_record_hash_index"
down_revision = "0010_transparency_log"
branch_labels = None
depends_on = None

_COLUMNS = "seq, prev_hash, hash, party_id, kind, time_us, payload_sha256, nonce, audience, payload, key_id, signature"


def _rebuild(*, hash_unique: bool) -> None:
    op.create_table(
        "ledger_entries_new",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=hash_unique),
        sa.Column("party_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("audience", sa.Text, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
    )
    op.execute(f"INSERT INTO ledger_entries_new ({_COLUMNS}) SELECT {_COLUMNS} FROM ledger_entries ORDER BY seq")
    op.drop_index("ix_ledger_entries_kind", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_time_us", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.rename_table("ledger_entries_new", "ledger_entries")
    if op.get_bind().dialect.name == "postgresql":
        # The constraints keep the names they got at creation; give them the names a fresh table has.
        op.execute("ALTER TABLE ledger_entries RENAME CONSTRAINT ledger_entries_new_pkey TO ledger_entries_pkey")
        op.execute("ALTER INDEX ledger_entries_new_nonce_key RENAME TO ledger_entries_nonce_key")
        if hash_unique:
            op.execute("ALTER INDEX ledger_entries_new_hash_key RENAME TO ledger_entries_hash_key")
    op.create_index("ix_ledger_entries_kind", "ledger_entries", ["kind"])
    op.create_index("ix_ledger_entries_time_us", "ledger_entries", ["time_us"])


def upgrade() -> None:
    _rebuild(hash_unique=False)


def downgrade() -> None:
    _rebuild(hash_unique=True)
