"""Record: the outbox, where every write leaves its record entries in its own transaction.

Revision ID: 0008_record_outbox
Revises: 0007_incident_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_record_outbox"
down_revision = "0007_incident_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=True),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=True),
        sa.Column("staged_s", sa.Double, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_try_s", sa.Double, nullable=False, server_default="0"),
        sa.Column("failed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_record_outbox_failed_next", "record_outbox", ["failed", "next_try_s"])


def downgrade() -> None:
    op.drop_index("ix_record_outbox_failed_next", "record_outbox")
    op.drop_table("record_outbox")
