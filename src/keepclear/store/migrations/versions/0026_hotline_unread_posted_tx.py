"""Hotline: unread counts kept per member of a thread, with a partial index of the members holding
any, so a party's total reads only its threads with something unread; and who last posted into
each thread in commit order, indexed, so a process without a bus finds every post others committed
however long its transaction ran.

Revision ID: 0026_hotline_unread_posted_tx
Revises: 0017_hotline_thread_posted

The console's unread badge summed the threads it had loaded: a liaison whose unread message was in a
thread beyond its first page was not told of it. A total counted over the party's threads would
read every thread others made it a member of (tens of thousands) and their messages on every
change; the counts are kept instead by the writer paths that store messages and advance read cursors
(``store.hotline.unread``). The upgrade counts what is stored: per member, the messages of others
(keepclear's included) after its party's read cursor.

Without a bus, a process found what others posted by reading the threads posted to since its last
look less a margin of 30 s of the poster's clock: a post whose transaction committed later than that
after it read the clock was never found (its live delivery lost until the socket resumed). Each
post now stamps the thread with its transaction in commit order (``posted_tx``:
``store.hotline.threads.posted_horizon``). Threads stored before have none: their next post sets it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_hotline_unread_posted_tx"
down_revision = "0017_hotline_thread_posted"
branch_labels = None
depends_on = None

_COUNT_MEMBERS = """
UPDATE hotline_members SET unread = (
    SELECT count(*) FROM hotline_messages AS m
    WHERE m.thread_id = hotline_members.thread_id
      AND (m.sender_party IS NULL OR m.sender_party <> hotline_members.party_id)
      AND m.seq > coalesce((
          SELECT c.through_seq FROM hotline_cursors AS c
          WHERE c.thread_id = hotline_members.thread_id AND c.party_id = hotline_members.party_id
            AND c.kind = 'read'
      ), 0)
)
"""


def upgrade() -> None:
    op.add_column("hotline_members", sa.Column("unread", sa.Integer, nullable=False, server_default="0"))
    op.execute(_COUNT_MEMBERS)
    op.create_index(
        "ix_hotline_members_unread",
        "hotline_members",
        ["party_id", "unread"],
        postgresql_where=sa.text("unread > 0"),
        sqlite_where=sa.text("unread > 0"),
    )
    op.add_column("hotline_threads", sa.Column("posted_tx", sa.BigInteger, nullable=True))
    op.create_index("ix_hotline_threads_posted_tx", "hotline_threads", ["posted_tx"])


def downgrade() -> None:
    op.drop_index("ix_hotline_threads_posted_tx", "hotline_threads")
    op.drop_column("hotline_threads", "posted_tx")
    op.drop_index("ix_hotline_members_unread", "hotline_members")
    op.drop_column("hotline_members", "unread")
