"""Zone proposals: indexed in the order they are listed (proposed time, id; with and without the
state), so ``GET /v1/zone-proposals`` reads a page as one range of an index.

Revision ID: 0018_zone_proposals_order
Revises: 0013_zone_proposals

The list came whole before; in pages, each page starts after the previous one's last (time, id),
which without these indexes sorts every proposal for every page.
"""

from __future__ import annotations

from alembic import op

revision = "0018_zone_proposals_order"
down_revision = "0013_zone_proposals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_zone_proposals_proposed", "zone_proposals", ["proposed_s", "id"])
    op.create_index("ix_zone_proposals_state_proposed", "zone_proposals", ["state", "proposed_s", "id"])


def downgrade() -> None:
    op.drop_index("ix_zone_proposals_state_proposed", "zone_proposals")
    op.drop_index("ix_zone_proposals_proposed", "zone_proposals")
