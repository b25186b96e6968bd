"""Activity conflicts counted where they are read, and those amended away marked and indexed apart,
so an activity's ``overlapped_by_total`` and ``conflicts_total`` are one row each and its overlaps
one range of the index, however many others recorded.

Revision ID: 0024_conflict_totals
Revises: 0023_conflicts_of_version_index

Both totals were counts over the conflict rows: others choose how many overlap a party's activity,
so they chose how long its owner's reads took (about 0.2 s at 500,000), and the overlaps list passed
over each conflict of a version amended away to find the current ones. Now ``activities`` keeps
``overlapped_by_total`` (the conflicts others' current versions recorded against it), each version
``conflicts_total`` (what its check found), and each conflict ``superseded`` (its version is no
longer its activity's current one); the writer keeps them in the transaction that records or amends.
The upgrade fills them from the stored conflicts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_conflict_totals"
down_revision = "0023_conflicts_of_version_index"
branch_labels = None
depends_on = None

_activities = sa.table(
    "activities", sa.column("id"), sa.column("party_id"), sa.column("current_version"), sa.column("overlapped_by_total")
)
_versions = sa.table("activity_versions", sa.column("activity_id"), sa.column("version"), sa.column("conflicts_total"))
_conflicts = sa.table(
    "activity_conflicts",
    sa.column("activity_id"),
    sa.column("version"),
    sa.column("target_id"),
    sa.column("target_party_id"),
    sa.column("superseded", sa.Boolean),
)


def upgrade() -> None:
    op.add_column("activities", sa.Column("overlapped_by_total", sa.Integer, nullable=False, server_default="0"))
    op.add_column("activity_versions", sa.Column("conflicts_total", sa.Integer, nullable=False, server_default="0"))
    op.add_column("activity_conflicts", sa.Column("superseded", sa.Boolean, nullable=False, server_default=sa.false()))
    current = sa.select(_activities.c.current_version).where(_activities.c.id == _conflicts.c.activity_id)
    op.execute(_conflicts.update().where(_conflicts.c.version != current.scalar_subquery()).values(superseded=True))
    found = sa.select(sa.func.count()).where(
        _conflicts.c.activity_id == _versions.c.activity_id, _conflicts.c.version == _versions.c.version
    )
    op.execute(_versions.update().values(conflicts_total=found.scalar_subquery()))
    against = sa.select(sa.func.count()).where(
        _conflicts.c.target_id == _activities.c.id,
        _conflicts.c.target_party_id == _activities.c.party_id,
        _conflicts.c.superseded == sa.false(),
    )
    op.execute(_activities.update().values(overlapped_by_total=against.scalar_subquery()))
    op.create_index(
        "ix_activity_conflicts_current_overlaps",
        "activity_conflicts",
        ["target_id", "target_party_id", "superseded", "id"],
    )
    op.drop_index("ix_activity_conflicts_overlaps", "activity_conflicts")


def downgrade() -> None:
    op.create_index("ix_activity_conflicts_overlaps", "activity_conflicts", ["target_id", "target_party_id", "id"])
    op.drop_index("ix_activity_conflicts_current_overlaps", "activity_conflicts")
    op.drop_column("activity_conflicts", "superseded")
    op.drop_column("activity_versions", "conflicts_total")
    op.drop_column("activities", "overlapped_by_total")
