"""Activity conflicts indexed by target, its party, then as recorded, so an activity's overlaps,
most recently found first, are one range of the index.

Revision ID: 0021_conflict_overlaps_index
Revises: 0003_strategic

An activity's view shows at most ``activity_view_max_overlaps`` of the conflicts others recorded
against it, and ``GET /v1/activities/{id}/overlaps`` pages through the rest: with the index on the
target alone, PostgreSQL read and sorted every conflict against the activity (other parties may
record tens of thousands) to give the first few, or intersected it with every conflict against the
party's activities. The new index serves every lookup the old one did.
"""

from __future__ import annotations

from alembic import op

revision = "0021_conflict_overlaps_index"
down_revision = "0003_strategic"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activity_conflicts_overlaps", "activity_conflicts", ["target_id", "target_party_id", "id"])
    op.drop_index("ix_activity_conflicts_target_id", "activity_conflicts")


def downgrade() -> None:
    op.create_index("ix_activity_conflicts_target_id", "activity_conflicts", ["target_id"])
    op.drop_index("ix_activity_conflicts_overlaps", "activity_conflicts")
