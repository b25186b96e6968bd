"""Stored acknowledgement requests: who must acknowledge which message by when, and how far the
escalation of an overdue one has gone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from keepclear.store.hotline.tables import SEQ_MAX, hotline_ack_requests, hotline_messages


def insert_ack_requests(
    conn: Connection, thread_id: str, seq: int, parties: Iterable[str], deadline_s: float, step_s: float
) -> None:
    """Ask each of ``parties`` to acknowledge message ``seq`` by ``deadline_s``."""
    rows = [
        {
            "thread_id": thread_id,
            "seq": seq,
            "party_id": p,
            "deadline_s": deadline_s,
            "step_s": step_s,
            "next_due_s": deadline_s,
            "steps_taken": 0,
        }
        for p in parties
    ]
    if rows:
        conn.execute(hotline_ack_requests.insert(), rows)


def outstanding_ack_requests(conn: Connection, party_id: str) -> int:
    """The acknowledgement requests messages of ``party_id`` have outstanding (neither acknowledged nor
    escalated to the end): read through the index of ``next_due_s``, so it reads the outstanding
    requests of every party (each party holds at most its bound of them), never the settled ones."""
    a, m = hotline_ack_requests, hotline_messages
    joined = a.join(m, sa.and_(m.c.thread_id == a.c.thread_id, m.c.seq == a.c.seq))
    query = (
        sa.select(sa.func.count()).select_from(joined).where(a.c.next_due_s.is_not(None), m.c.sender_party == party_id)
    )
    return int(conn.execute(query).scalar_one())


def settle_ack_request(
    conn: Connection, thread_id: str, seq: int, party_id: str, acked_s: float, acked_seq: int
) -> bool:
    """Mark ``party_id``'s acknowledgement of ``seq`` as given; True if one was outstanding."""
    result = conn.execute(
        hotline_ack_requests.update()
        .where(
            hotline_ack_requests.c.thread_id == thread_id,
            hotline_ack_requests.c.seq == seq,
            hotline_ack_requests.c.party_id == party_id,
            hotline_ack_requests.c.acked_s.is_(None),
        )
        .values(acked_s=acked_s, acked_seq=acked_seq, next_due_s=None)
    )
    return bool(result.rowcount)


def due_ack_requests(conn: Connection, now_s: float, limit: int | None = None) -> list[Row[Any]]:
    """Outstanding acknowledgement requests whose next step is due at ``now_s``, oldest first; the
    first ``limit`` of them when given."""
    query = (
        sa.select(hotline_ack_requests)
        .where(hotline_ack_requests.c.next_due_s.is_not(None), hotline_ack_requests.c.next_due_s <= now_s)
        .order_by(hotline_ack_requests.c.next_due_s, hotline_ack_requests.c.thread_id, hotline_ack_requests.c.seq)
    )
    return list(conn.execute(query if limit is None else query.limit(limit)))


def record_escalation_step(
    conn: Connection, thread_id: str, seq: int, party_id: str, steps_taken: int, next_due_s: float | None
) -> None:
    """Count one more escalation step; ``next_due_s`` None ends the escalation (roster exhausted)."""
    conn.execute(
        hotline_ack_requests.update()
        .where(
            hotline_ack_requests.c.thread_id == thread_id,
            hotline_ack_requests.c.seq == seq,
            hotline_ack_requests.c.party_id == party_id,
        )
        .values(steps_taken=steps_taken, next_due_s=next_due_s)
    )


def ack_status(conn: Connection, thread_id: str, seq: int) -> list[Row[Any]]:
    """The acknowledgement requests of message ``seq``, by party (none past ``SEQ_MAX``)."""
    if seq > SEQ_MAX:
        return []
    return list(
        conn.execute(
            sa.select(hotline_ack_requests)
            .where(hotline_ack_requests.c.thread_id == thread_id, hotline_ack_requests.c.seq == seq)
            .order_by(hotline_ack_requests.c.party_id)
        )
    )
