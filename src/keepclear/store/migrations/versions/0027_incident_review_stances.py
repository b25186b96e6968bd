"""The joint review of an incident: who of its involved parties agrees and who disputes.

Revision ID: 0027_incident_review_stances
Revises: 0022_incident_timeline_order

Before, any one involved party could set an incident's review to ``agreed`` or ``closed`` (final)
on its own, ending the other parties' dispute with it. Now each party's step is its own stance, kept
here one party per line (NULL: none), and the review is agreed, and may close, once every involved
party agrees. Incidents stored before have no stance recorded: their status stays as it was, and a
party's next step is counted from none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_incident_review_stances"
down_revision = "0022_incident_timeline_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("review_agreed", sa.Text, nullable=True))
    op.add_column("incidents", sa.Column("review_disputed", sa.Text, nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place, on SQLite too (3.35 and later): a batch copy of the table
    # would drop it, which the foreign keys of its accounts, timeline and evidence refuse.
    op.execute("ALTER TABLE incidents DROP COLUMN review_disputed")
    op.execute("ALTER TABLE incidents DROP COLUMN review_agreed")
