"""Stored hotline messages: writing a batch, finding a sender's earlier posts by idempotency key,
reading a thread in order. Sequence numbers are reserved by ``threads.reserve_seqs`` first."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from keepclear.domain.hotline import Message, MessageKind, PhraseUse
from keepclear.errors import NotFoundError
from keepclear.store.hotline.tables import SEQ_MAX, hotline_messages
from keepclear.store.hotline.unread import count_posted


def _message(row: Row[Any]) -> Message:
    phrase = None
    if row.phrase_code is not None:
        phrase = PhraseUse(row.phrase_code, json.loads(row.phrase_params or "{}"))
    return Message(
        thread_id=row.thread_id,
        seq=int(row.seq),
        kind=MessageKind(row.kind),
        sender_party=row.sender_party,
        sender_person=row.sender_person,
        time_s=row.time_s,
        idempotency_key=row.idempotency_key,
        body=row.body,
        phrase=phrase,
        reply_to_seq=row.reply_to_seq,
        ack_deadline_s=row.ack_deadline_s,
        data=json.loads(row.data),
    )


def insert_messages(conn: Connection, messages: list[Message]) -> None:
    """Store ``messages`` (their seqs reserved with ``reserve_seqs`` in the same transaction), unread
    for the members of their threads but their senders (``unread.count_posted``)."""
    conn.execute(
        hotline_messages.insert(),
        [
            {
                "thread_id": m.thread_id,
                "seq": m.seq,
                "kind": m.kind.value,
                "sender_party": m.sender_party,
                "sender_person": m.sender_person,
                "time_s": m.time_s,
                "idempotency_key": m.idempotency_key,
                "body": m.body,
                "phrase_code": m.phrase.code if m.phrase else None,
                "phrase_params": json.dumps(m.phrase.params, ensure_ascii=False) if m.phrase else None,
                "reply_to_seq": m.reply_to_seq,
                "ack_deadline_s": m.ack_deadline_s,
                "data": json.dumps(m.data, ensure_ascii=False, separators=(",", ":")),
                "key_scope": m.sender_party or "",
            }
            for m in messages
        ],
    )
    count_posted(conn, messages)


_KEY_LOOKUP = sa.select(hotline_messages).where(
    hotline_messages.c.key_scope == sa.bindparam("scope"), hotline_messages.c.idempotency_key == sa.bindparam("key")
)
# PostgreSQL: all keys in one round trip, each an exact lookup on both columns of the unique key
# (LIMIT 1 keeps the planner from turning the lookups into a join over the whole scope).
_KEYS_LOOKUP_POSTGRES = sa.text(
    "SELECT m.* FROM unnest(CAST(:keys AS text[])) AS k(key) CROSS JOIN LATERAL"
    " (SELECT * FROM hotline_messages WHERE key_scope = :scope AND idempotency_key = k.key LIMIT 1) AS m"
).columns(*hotline_messages.c)


def find_by_keys(conn: Connection, sender_party: str | None, keys: list[str]) -> dict[str, Message]:
    """The messages ``sender_party`` already posted with any of ``keys``, by key."""
    # Exact unique-index lookups, one per key. The obvious "scope = s AND key IN (...)" reads the
    # same rows, but PostgreSQL without fresh statistics plans it as a scan of the whole scope with
    # a filter, which grows with every message the party ever sent (20 ms per lookup after 60,000
    # messages). SQLite runs one cached statement per key (no round trips); PostgreSQL joins the
    # keys as an array in one statement.
    scope = sender_party or ""
    unique = list(dict.fromkeys(keys))
    if conn.dialect.name == "postgresql":
        rows = list(conn.execute(_KEYS_LOOKUP_POSTGRES, {"keys": unique, "scope": scope})) if unique else []
    else:
        rows = [row for key in unique if (row := conn.execute(_KEY_LOOKUP, {"scope": scope, "key": key}).first())]
    return {row.idempotency_key: _message(row) for row in rows}


def get_message(conn: Connection, thread_id: str, seq: int) -> Message:
    """Message ``seq`` of ``thread_id``, or ``NotFoundError``."""
    row = (
        None
        if seq > SEQ_MAX
        else conn.execute(
            sa.select(hotline_messages).where(hotline_messages.c.thread_id == thread_id, hotline_messages.c.seq == seq)
        ).first()
    )
    if row is None:
        raise NotFoundError(f"message {seq} of thread {thread_id!r} does not exist")
    return _message(row)


def messages_after(conn: Connection, thread_id: str, after_seq: int, limit: int | None = None) -> list[Message]:
    """Messages of ``thread_id`` with seq above ``after_seq``, in order (none above ``SEQ_MAX``)."""
    if after_seq >= SEQ_MAX:
        return []
    query = (
        sa.select(hotline_messages)
        .where(hotline_messages.c.thread_id == thread_id, hotline_messages.c.seq > after_seq)
        .order_by(hotline_messages.c.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_message(r) for r in conn.execute(query)]


def count_messages(conn: Connection, thread_id: str | None = None) -> int:
    """How many messages are stored (in one thread, or in all)."""
    query = sa.select(sa.func.count()).select_from(hotline_messages)
    if thread_id is not None:
        query = query.where(hotline_messages.c.thread_id == thread_id)
    return int(conn.execute(query).scalar_one())
