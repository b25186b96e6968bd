"""Zone proposals indexed by party in the order they are listed (party, proposed time, id; and
with the state), so a party's ``GET /v1/zone-proposals`` reads a page of its own as one range of an
index.

Revision ID: 0025_zone_proposals_of_party
Revises: 0018_zone_proposals_order

A proposer reads its own proposals (which were accepted, as which zone; which refused, and why):
through the indexes of every party's proposals its page passed over the others' to find its own,
so the more they proposed the slower its read. The index with the state also makes counting a
party's pending proposals (the per-party bound, on each proposal) one range of it.
"""

from __future__ import annotations

from alembic import op

revision = "0025_zone_proposals_of_party"
down_revision = "0018_zone_proposals_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_zone_proposals_party_proposed", "zone_proposals", ["party_id", "proposed_s", "id"])
    op.create_index(
        "ix_zone_proposals_party_state_proposed", "zone_proposals", ["party_id", "state", "proposed_s", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_zone_proposals_party_state_proposed", "zone_proposals")
    op.drop_index("ix_zone_proposals_party_proposed", "zone_proposals")
