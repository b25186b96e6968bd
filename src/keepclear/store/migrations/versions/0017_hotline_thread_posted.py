"""Hotline: when each thread was last posted to, indexed, so a process finds the threads others
posted to since it last looked in a statement that reads those threads only.

Revision ID: 0017_hotline_thread_posted
Revises: 0016_hotline_thread_opener

Without a bus, each hotline socket read every thread of its party every two seconds to find what
other processes (the CLI, another API process) had committed: a party others made a member of
tens of thousands of threads cost a second of CPU per socket per look. Threads stored before this
revision have no time kept: their next message sets it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_hotline_thread_posted"
down_revision = "0016_hotline_thread_opener"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hotline_threads", sa.Column("posted_s", sa.Double, nullable=True))
    op.create_index("ix_hotline_threads_posted_s", "hotline_threads", ["posted_s"])


def downgrade() -> None:
    op.drop_index("ix_hotline_threads_posted_s", "hotline_threads")
    op.drop_column("hotline_threads", "posted_s")
