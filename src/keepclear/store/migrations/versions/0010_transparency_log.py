"""Record as a transparency log: each checkpoint carries its signed tree head; witness cosignatures.

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
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.drop_column("note")
