"""The hotline's tables: threads and their members, messages, receipts and read cursors, unread
counts, acknowledgement requests, declared availability. Declared once here so every part of the hotline
store, and migration 0004's test, reads the same schema."""

from __future__ import annotations

import sqlalchemy as sa

from keepclear.domain.limits import PERSON_MAX_CHARS
from keepclear.store.schema import metadata

#: The largest sequence number the hotline's tables hold (their ``seq`` columns are ``INTEGER``: 32
#: bits on PostgreSQL). The API takes sequence numbers up to 64 bits; a read naming one past this asks
#: for a message no thread has, and is answered so, not sent to PostgreSQL (which refuses the value).
SEQ_MAX = 2**31 - 1

hotline_threads = sa.Table(
    "hotline_threads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("standing", sa.Boolean, nullable=False),
    sa.Column("pair_key", sa.String(140), nullable=True, unique=True),
    sa.Column("created_s", sa.Double, nullable=False),
    sa.Column("last_seq", sa.Integer, nullable=False),
    # The party that opened it (``max_hotline_threads_per_party``); None for a standing thread, which
    # keepclear makes, and for threads stored before the column was (migration 0016).
    sa.Column("opened_by", sa.String(64), nullable=True, index=True),
    # When a message was last stored in it (the poster's clock; None before one was, or before
    # migration 0017): how a process without a bus finds what others posted (``threads_posted_since``).
    sa.Column("posted_s", sa.Double, nullable=True, index=True),
    # Who last posted into it, in commit order (``threads.posted_horizon``; None before one did, or
    # before migration 0026): PostgreSQL's id of the writing transaction, SQLite's next of a counter.
    sa.Column("posted_tx", sa.BigInteger, nullable=True, index=True),
)

hotline_members = sa.Table(
    "hotline_members",
    metadata,
    sa.Column("thread_id", sa.String(64), sa.ForeignKey("hotline_threads.id"), primary_key=True),
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True, index=True),
    # The messages of others (keepclear's included) after the member's read cursor, kept by the
    # writer paths that store messages and advance read cursors (``unread``; migration 0026).
    sa.Column("unread", sa.Integer, nullable=False, server_default="0"),
)

#: A party's threads holding messages it has not read, and how many: the partial range the unread
#: total sums (``unread.unread_total``), however many threads others made the party a member of.
sa.Index(
    "ix_hotline_members_unread",
    hotline_members.c.party_id,
    hotline_members.c.unread,
    postgresql_where=hotline_members.c.unread > 0,
    sqlite_where=hotline_members.c.unread > 0,
)

hotline_messages = sa.Table(
    "hotline_messages",
    metadata,
    sa.Column("thread_id", sa.String(64), sa.ForeignKey("hotline_threads.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("sender_party", sa.String(64), nullable=True),
    sa.Column("sender_person", sa.String(PERSON_MAX_CHARS), nullable=False),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("idempotency_key", sa.String(140), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("phrase_code", sa.String(16), nullable=True),
    sa.Column("phrase_params", sa.Text, nullable=True),
    sa.Column("reply_to_seq", sa.Integer, nullable=True),
    sa.Column("ack_deadline_s", sa.Double, nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    # The sender's key is unique per sending party (system messages use the party "" scope).
    sa.Column("key_scope", sa.String(64), nullable=False),
    sa.UniqueConstraint("key_scope", "idempotency_key", name="uq_hotline_messages_key"),
)

hotline_receipts = sa.Table(
    "hotline_receipts",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("party_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("person", sa.String(PERSON_MAX_CHARS), nullable=False),
)

hotline_cursors = sa.Table(
    "hotline_cursors",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),
    sa.Column("party_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("through_seq", sa.Integer, nullable=False),
)

hotline_ack_requests = sa.Table(
    "hotline_ack_requests",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("party_id", sa.String(64), primary_key=True),
    sa.Column("deadline_s", sa.Double, nullable=False),
    sa.Column("step_s", sa.Double, nullable=False),
    sa.Column("next_due_s", sa.Double, nullable=True, index=True),
    sa.Column("steps_taken", sa.Integer, nullable=False),
    sa.Column("acked_s", sa.Double, nullable=True),
    sa.Column("acked_seq", sa.Integer, nullable=True),
)

hotline_availability = sa.Table(
    "hotline_availability",
    metadata,
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
    sa.Column("availability", sa.String(16), nullable=False),
    sa.Column("since_s", sa.Double, nullable=False),
    sa.Column("person", sa.String(PERSON_MAX_CHARS), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
