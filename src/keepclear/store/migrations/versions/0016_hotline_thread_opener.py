"""Hotline: which party opened each thread, indexed, so a party's threads are counted against
``max_hotline_threads_per_party`` in the transaction that opens one more.

Revision ID: 0016_hotline_thread_opener
Revises: 0004_hotline

Threads stored before this revision are left without an opener (the store never kept who opened
them; the record's ``thread.created`` entries say it, but the record is not the hotline's to read
here): they count towards no party's bound. Standing threads are keepclear's and never count.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_hotline_thread_opener"
down_revision = "0004_hotline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hotline_threads", sa.Column("opened_by", sa.String(64), nullable=True))
    op.create_index("ix_hotline_threads_opened_by", "hotline_threads", ["opened_by"])


def downgrade() -> None:
    op.drop_index("ix_hotline_threads_opened_by", "hotline_threads")
    op.drop_column("hotline_threads", "opened_by")
