"""Stored hotline receipts: each party's delivered/read cursor per thread and the receipts behind it
(a read cursor's advance lowers the party's unread counts: ``unread``). A party never receipts its
own messages."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.hotline import Receipt, ReceiptKind
from keepclear.store.hotline.tables import SEQ_MAX, hotline_cursors, hotline_messages, hotline_receipts
from keepclear.store.hotline.unread import count_read


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
    if kind is ReceiptKind.READ:
        count_read(conn, thread_id, party_id, len(seqs))
    return [int(s) for s in seqs]


def receipts_for(conn: Connection, thread_id: str, seq: int) -> list[Receipt]:
    """Every receipt of message ``seq`` of ``thread_id``, by party then kind (none past ``SEQ_MAX``)."""
    if seq > SEQ_MAX:
        return []
    rows = conn.execute(
        sa.select(hotline_receipts)
        .where(hotline_receipts.c.thread_id == thread_id, hotline_receipts.c.seq == seq)
        .order_by(hotline_receipts.c.party_id, hotline_receipts.c.kind)
    )
    return [Receipt(r.thread_id, int(r.seq), r.party_id, ReceiptKind(r.kind), r.time_s, r.person) for r in rows]
