"""Record: which alerts belong to which incident, indexed (the bus looks incidents up by alert).

Revision ID: 0007_incident_alerts
Revises: 0005_record
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_incident_alerts"
down_revision = "0005_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    links = op.create_table(
        "incident_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
    )
    # Links of the incidents already stored (their alert ids are kept one per line on the incident).
    rows = op.get_bind().execute(sa.text("SELECT id, alert_ids FROM incidents")).all()
    op.bulk_insert(
        links,
        [
            {"alert_id": alert_id, "incident_id": incident_id}
            for incident_id, alert_ids in rows
            for alert_id in sorted(set(alert_ids.split("\n")))
            if alert_id
        ],
    )


def downgrade() -> None:
    op.drop_table("incident_alerts")
