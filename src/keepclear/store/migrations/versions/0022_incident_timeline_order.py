"""Incident timelines indexed in their order (incident, time, arrival), so that the first items of
one incident's timeline, or a page of it, are one range of the index.

Revision ID: 0022_incident_timeline_order
Revises: 0019_incidents_opened_index

``GET /v1/incidents/{id}`` shows at most ``incident_view_max_timeline_items`` of the timeline and
``GET /v1/incidents/{id}/timeline`` pages through it by (time, position): with the primary key
(incident, position) alone, each page read and sorted the whole timeline, which grows without bound
over a long encounter (alert changes, messages, accounts).
"""

from __future__ import annotations

from alembic import op

revision = "0022_incident_timeline_order"
down_revision = "0019_incidents_opened_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incident_timeline_order", "incident_timeline", ["incident_id", "time_s", "position"])


def downgrade() -> None:
    op.drop_index("ix_incident_timeline_order", "incident_timeline")
