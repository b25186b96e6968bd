"""Stored hotline receipts: each party's delivered/read cursor per thread, the receipts behind it,
and unread counts. A party never receipts its own messages."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.hotline import Receipt, ReceiptKind
from keepclear.store.hotline.tables import hotline_cursors, hotline_messages, hotline_receipts
from keepclear.store.schema import in_list_chunks


def _from_others(party_id: str) -> sa.ColumnElement[bool]:
    """Messages not sent by ``party_id`` (keepclear's, whose sender is None, included)."""
    return sa.or_(hotline_messages.c.sender_party.is_(None), hotline_messages.c.sender_party != party_id)


def get_cursor(conn: Connection, thread_id: str, party_id: str, kind: ReceiptKind) -> int:
    """How far ``party_id`` has got in ``thread_id`` (0: nothing yet)."""
    value = conn.execute(
        sa.select(hotline_cursors.c.through_seq).where(
            hotline_cursors.c.thread_id == thread_id,
            hotline_cursors.c.party_id == party_id,
            hotline_cursors.c.kind == kind.value,
        )
    ).scalar()
    return int(value or 0)


def unread_counts(conn: Connection, party_id: str, thread_ids: Iterable[str]) -> dict[str, int]:
    """Per thread, the messages of others (keepclear's included) after ``party_id``'s read cursor (one
    statement per ``IN_LIST_SIZE`` threads)."""
    ids = list(thread_ids)
    cursor = (
        sa.select(hotline_cursors.c.thread_id, hotline_cursors.c.through_seq)
        .where(hotline_cursors.c.party_id == party_id, hotline_cursors.c.kind == ReceiptKind.READ.value)
        .subquery()
    )
    query = (
        sa.select(hotline_messages.c.thread_id, sa.func.count())
        .select_from(hotline_messages.outerjoin(cursor, cursor.c.thread_id == hotline_messages.c.thread_id))
        .where(hotline_messages.c.seq > sa.func.coalesce(cursor.c.through_seq, 0), _from_others(party_id))
        .group_by(hotline_messages.c.thread_id)
    )
    counts = dict.fromkeys(ids, 0)
    for chunk in in_list_chunks(ids):
        counts.update({r[0]: int(r[1]) for r in conn.execute(query.where(hotline_messages.c.thread_id.in_(chunk)))})
    return counts


def advance_receipts(
    conn: Connection, thread_id: str, party_id: str, kind: ReceiptKind, through_seq: int, time_s: float, person: str
) -> list[int]:
    """Record ``kind`` receipts of ``party_id`` for every message up to ``through_seq`` not yet receipted.

    A party's own messages get none. Returns the sequence numbers newly receipted, in order.
    """
    start = get_cursor(conn, thread_id, party_id, kind)
    if through_seq <= start:
        return []
    seqs = list(
        conn.execute(
            sa.select(hotline_messages.c.seq)
            .where(
                hotline_messages.c.thread_id == thread_id,
                hotline_messages.c.seq > start,
                hotline_messages.c.seq <= through_seq,
                _from_others(party_id),
            )
            .order_by(hotline_messages.c.seq)
        ).scalars()
    )
    if seqs:
        conn.execute(
            hotline_receipts.insert(),
            [
                {
                    "thread_id": thread_id,
                    "seq": s,
                    "party_id": party_id,
                    "kind": kind.value,
                    "time_s": time_s,
                    "person": person,
                }
                for s in seqs
            ],
        )
    values = {"thread_id": thread_id, "party_id": party_id, "kind": kind.value}
    if start == 0 and not conn.execute(sa.select(hotline_cursors.c.through_seq).filter_by(**values)).first():
        conn.execute(hotline_cursors.insert().values(**values, through_seq=through_seq))
    else:
        conn.execute(hotline_cursors.update().filter_by(**values).values(through_seq=through_seq))
    return [int(s) for s in seqs]


def receipts_for(conn: Connection, thread_id: str, seq: int) -> list[Receipt]:
    """Every receipt of message ``seq`` of ``thread_id``, by party then kind."""
    rows = conn.execute(
        sa.select(hotline_receipts)
        .where(hotline_receipts.c.thread_id == thread_id, hotline_receipts.c.seq == seq)
        .order_by(hotline_receipts.c.party_id, hotline_receipts.c.kind)
    )
    return [Receipt(r.thread_id, int(r.seq), r.party_id, ReceiptKind(r.kind), r.time_s, r.person) for r in rows]
