"""Hotline: threads, members, messages, receipts, cursors, acknowledgement requests, availability.

Revision ID: 0004_hotline
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_hotline"
down_revision = "0001_foundation"
branch_labels = ("hotline",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotline_threads",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("standing", sa.Boolean, nullable=False),
        sa.Column("pair_key", sa.String(140), nullable=True, unique=True),
        sa.Column("created_s", sa.Double, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "hotline_members",
        sa.Column("thread_id", sa.String(64), sa.ForeignKey("hotline_threads.id"), primary_key=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
    )
    op.create_index("ix_hotline_members_party_id", "hotline_members", ["party_id"])
    op.create_table(
        "hotline_messages",
        sa.Column("thread_id", sa.String(64), sa.ForeignKey("hotline_threads.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sender_party", sa.String(64), nullable=True),
        sa.Column("sender_person", sa.String(200), nullable=False),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("idempotency_key", sa.String(140), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("phrase_code", sa.String(16), nullable=True),
        sa.Column("phrase_params", sa.Text, nullable=True),
        sa.Column("reply_to_seq", sa.Integer, nullable=True),
        sa.Column("ack_deadline_s", sa.Double, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("key_scope", sa.String(64), nullable=False),
        sa.UniqueConstraint("key_scope", "idempotency_key", name="uq_hotline_messages_key"),
    )
    op.create_table(
        "hotline_receipts",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
    )
    op.create_table(
        "hotline_cursors",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("through_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "hotline_ack_requests",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("deadline_s", sa.Double, nullable=False),
        sa.Column("step_s", sa.Double, nullable=False),
        sa.Column("next_due_s", sa.Double, nullable=True),
        sa.Column("steps_taken", sa.Integer, nullable=False),
        sa.Column("acked_s", sa.Double, nullable=True),
        sa.Column("acked_seq", sa.Integer, nullable=True),
    )
    op.create_index("ix_hotline_ack_requests_next_due_s", "hotline_ack_requests", ["next_due_s"])
    op.create_table(
        "hotline_availability",
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("availability", sa.String(16), nullable=False),
        sa.Column("since_s", sa.Double, nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_hotline_ack_requests_next_due_s", "hotline_ack_requests")
    op.drop_index("ix_hotline_members_party_id", "hotline_members")
    for table in (
        "hotline_availability",
        "hotline_ack_requests",
        "hotline_cursors",
        "hotline_receipts",
        "hotline_messages",
        "hotline_members",
        "hotline_threads",
    ):
        op.drop_table(table)
