"""Interop: zone proposals (shapes drawn on a party's TAK, for an admin to accept or refuse).

Revision ID: 0013_zone_proposals
Revises: 0007_incident_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_zone_proposals"
down_revision = "0007_incident_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_proposals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("geometry", sa.Text, nullable=False),
        sa.Column("remarks", sa.Text, nullable=False),
        sa.Column("proposed_s", sa.Double, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_s", sa.Double, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("zone_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("party_id", "source", name="uq_zone_proposals_party_source"),
    )
    op.create_index("ix_zone_proposals_state", "zone_proposals", ["state"])


def downgrade() -> None:
    op.drop_table("zone_proposals")
