"""Incidents: the times of the incidents keepclear opened (no reporter), indexed apart, so that
finding what a batch of alert changes merges with reads only those near its time.

Revision ID: 0019_incidents_opened_index
Revises: 0015_incident_parties

A trigger merges only with an incident keepclear opened; the query skipped the reported ones, but it
found them through the index of every incident's time, so each batch of alert changes walked every
incident the parties reported within ± ``merge_window_s`` (parties report in any number, at times
of their choosing). A partial index (``WHERE reported_by IS NULL``; SQLite and PostgreSQL both
have them) holds only keepclear's; the incidents already stored are in it once it is made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_incidents_opened_index"
down_revision = "0015_incident_parties"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_opened_time_s",
        "incidents",
        ["time_s"],
        sqlite_where=sa.text("reported_by IS NULL"),
        postgresql_where=sa.text("reported_by IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_opened_time_s", "incidents")
