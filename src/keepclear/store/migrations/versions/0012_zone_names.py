"""Zones: their names in other languages (a JSON object of language tag -> name, NULL when none).

Revision ID: 0012_zone_names
Revises: 0007_incident_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_zone_names"
down_revision = "0007_incident_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("zones") as batch:
        batch.add_column(sa.Column("names", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zones") as batch:
        batch.drop_column("names")
