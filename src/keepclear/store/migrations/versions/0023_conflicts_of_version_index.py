"""Activity conflicts indexed by activity, version, then as recorded, so what one version's check
found, as found, is one range of the index.

Revision ID: 0023_conflicts_of_version_index
Revises: 0021_conflict_overlaps_index

An activity's view shows at most ``activity_view_max_conflicts`` of the conflicts its check found,
and ``GET /v1/activities/{id}/conflicts`` pages through the rest: with the index on the activity
alone, PostgreSQL read and sorted every conflict of every version of the activity (a check may find
tens of thousands) to give the first few, and SQLite passed over every earlier version's to reach
the current one's. The new index serves every lookup the old one did.
"""

from __future__ import annotations

from alembic import op

revision = "0023_conflicts_of_version_index"
down_revision = "0021_conflict_overlaps_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activity_conflicts_of_version", "activity_conflicts", ["activity_id", "version", "id"])
    op.drop_index("ix_activity_conflicts_activity_id", "activity_conflicts")


def downgrade() -> None:
    op.create_index("ix_activity_conflicts_activity_id", "activity_conflicts", ["activity_id"])
    op.drop_index("ix_activity_conflicts_of_version", "activity_conflicts")
