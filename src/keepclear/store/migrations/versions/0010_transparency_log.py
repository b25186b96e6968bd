"""Record as a transparency log: signed tree heads on checkpoints, batch-signed entries, cosignatures.

Revision ID: 0010_transparency_log
Revises: 0007_incident_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_transparency_log"
down_revision = "0007_incident_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nothing looks entries up by party: one index fewer on the hottest insert.
    op.drop_index("ix_ledger_entries_party_id", table_name="ledger_entries")
    # Batch signing: an entry may carry no signature of its own (the signed tree head vouches for it).
    with op.batch_alter_table("ledger_entries") as batch:
        batch.alter_column("key_id", existing_type=sa.String(64), nullable=True)
        batch.alter_column("signature", existing_type=sa.String(128), nullable=True)
    # Checkpoints signed before this have no tree head (NULL); the ledger signs one at the next export.
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.add_column(sa.Column("note", sa.Text, nullable=True))
    op.create_table(
        "ledger_cosignatures",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("witness_key", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_cosignatures")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.alter_column("key_id", existing_type=sa.String(64), nullable=False)
        batch.alter_column("signature", existing_type=sa.String(128), nullable=False)
    op.create_index("ix_ledger_entries_party_id", "ledger_entries", ["party_id"])
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.drop_column("note")
