"""Foundation: parties, contacts, forces, units, zones.

Revision ID: 0001_foundation
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_s", sa.Double, nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
    )
    op.create_table(
        "forces",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("partner", sa.Boolean, nullable=False),
    )
    op.create_index("ix_forces_party_id", "forces", ["party_id"])
    op.create_table(
        "units",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("callsign", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("force_id", sa.String(64), sa.ForeignKey("forces.id"), nullable=False),
    )
    op.create_index("ix_units_force_id", "units", ["force_id"])
    op.create_table(
        "zones",
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
    )


def downgrade() -> None:
    for table in ("zones", "units", "forces", "contacts", "parties"):
        op.drop_table(table)
