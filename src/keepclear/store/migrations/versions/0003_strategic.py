"""Strategic deconfliction: activities (every version), acknowledgements, conflicts, escalations, log.

Revision ID: 0003_strategic
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_strategic"
down_revision = "0001_foundation"
branch_labels = ("strategic",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("created_s", sa.Double, nullable=False),
        sa.Column("updated_s", sa.Double, nullable=False),
    )
    op.create_index("ix_activities_party_id", "activities", ["party_id"])
    op.create_table(
        "activity_versions",
        sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("start_s", sa.Double, nullable=False),
        sa.Column("end_s", sa.Double, nullable=False),
        sa.Column("created_s", sa.Double, nullable=False),
        sa.Column("notified_s", sa.Double, nullable=True),
        sa.Column("required_notice_s", sa.Double, nullable=True),
        sa.Column("given_notice_s", sa.Double, nullable=True),
    )
    op.create_table(
        "activity_acks",
        sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("answered_s", sa.Double, nullable=True),
        sa.Column("due_s", sa.Double, nullable=True),
        sa.Column("deadline_s", sa.Double, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("exhausted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_activity_acks_due_s", "activity_acks", ["due_s"])
    op.create_table(
        "activity_conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("target_party_id", sa.String(64), nullable=True),
        sa.Column("target_version", sa.Integer, nullable=True),
        sa.Column("geometry", sa.Text, nullable=False),
        sa.Column("start_s", sa.Double, nullable=False),
        sa.Column("end_s", sa.Double, nullable=False),
        sa.Column("lower_ft", sa.Double, nullable=False),
        sa.Column("upper_ft", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("required_notice_s", sa.Double, nullable=True),
        sa.Column("given_notice_s", sa.Double, nullable=True),
        sa.Column("detected_s", sa.Double, nullable=False),
    )
    op.create_index("ix_activity_conflicts_activity_id", "activity_conflicts", ["activity_id"])
    op.create_index("ix_activity_conflicts_target_id", "activity_conflicts", ["target_id"])
    op.create_index("ix_activity_conflicts_target_party_id", "activity_conflicts", ["target_party_id"])
    op.create_table(
        "activity_escalations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=True),
        sa.Column("contact_role", sa.String(200), nullable=True),
        sa.Column("time_s", sa.Double, nullable=False),
    )
    op.create_index("ix_activity_escalations_activity_id", "activity_escalations", ["activity_id"])
    op.create_table(
        "activity_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_activity_log_activity_id", "activity_log", ["activity_id"])


def downgrade() -> None:
    for table in (
        "activity_log", "activity_escalations", "activity_conflicts", "activity_acks", "activity_versions", "activities"
    ):  # fmt: skip
        op.drop_table(table)
