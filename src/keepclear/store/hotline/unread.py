"""Stored unread counts: per member of a thread, the messages of others (keepclear's included) after
its party's read cursor, and per party the threads holding any and their sum.

Kept by the two writer paths that change them, in their transactions: storing messages
(``messages.insert_messages``) and advancing a read cursor (``receipts.advance_receipts``). A
party's total is then one row (``unread_total``), however many threads others made it a member of:
never a read over its threads.

Lock order (PostgreSQL): a transaction changes the counts once, after the threads' rows
(``threads.reserve_seqs``) and with the parties' total rows last, in party order, so writers posting
into threads that share members queue on those rows and never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from keepclear.domain.hotline import Message
from keepclear.store.hotline.tables import hotline_members, hotline_unread
from keepclear.store.schema import in_list_chunks

_ADD_POSTED = (
    hotline_members.update()
    .where(hotline_members.c.thread_id == sa.bindparam("b_thread"))
    .values(unread=hotline_members.c.unread + sa.bindparam("b_count", type_=sa.Integer))
    .returning(hotline_members.c.party_id, hotline_members.c.unread)
)
#: keepclear's own messages (no sender) are unread for every member; a party's, for the others.
_ADD_POSTED_BY = _ADD_POSTED.where(hotline_members.c.party_id != sa.bindparam("b_sender"))

_TAKE_READ = (
    hotline_members.update()
    .where(
        hotline_members.c.thread_id == sa.bindparam("b_thread"), hotline_members.c.party_id == sa.bindparam("b_party")
    )
    .values(unread=hotline_members.c.unread - sa.bindparam("b_count", type_=sa.Integer))
    .returning(hotline_members.c.unread)
)


def count_posted(conn: Connection, messages: Sequence[Message]) -> None:
    """``messages``, just stored, become unread for every member of their threads but their sender:
    one statement per thread and sender, then one per party whose total changed."""
    groups: dict[tuple[str, str | None], int] = {}
    for message in messages:
        key = (message.thread_id, message.sender_party)
        groups[key] = groups.get(key, 0) + 1
    totals: dict[str, tuple[int, int]] = {}
    for (thread_id, sender), count in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "")):
        add = _ADD_POSTED if sender is None else _ADD_POSTED_BY
        params = {"b_thread": thread_id, "b_count": count} | ({} if sender is None else {"b_sender": sender})
        for party_id, unread in conn.execute(add, params):
            threads, total = totals.get(party_id, (0, 0))
            totals[party_id] = (threads + (1 if unread == count else 0), total + count)
    _add_to_totals(conn, totals)


def count_read(conn: Connection, thread_id: str, party_id: str, count: int) -> None:
    """``count`` messages of others in ``thread_id`` were newly marked read by ``party_id``."""
    if count <= 0:
        return
    left = conn.execute(_TAKE_READ, {"b_thread": thread_id, "b_party": party_id, "b_count": count}).scalar()
    if left is not None:
        _add_to_totals(conn, {party_id: (-1 if left == 0 else 0, -count)})


def _add_to_totals(conn: Connection, deltas: dict[str, tuple[int, int]]) -> None:
    """Add ``(threads, messages)`` to each party's total, in party order (the lock order), making the
    rows a party lacks (one statement: an insert that adds to the row where there is one)."""
    rows = [
        {"party_id": party_id, "threads": threads, "messages": messages}
        for party_id, (threads, messages) in sorted(deltas.items())
        if threads or messages
    ]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(hotline_unread)
    upsert = insert.on_conflict_do_update(
        index_elements=[hotline_unread.c.party_id],
        set_={
            "threads": hotline_unread.c.threads + insert.excluded.threads,
            "messages": hotline_unread.c.messages + insert.excluded.messages,
        },
    )
    for row in rows:  # one at a time: an executemany need not keep the order
        conn.execute(upsert, row)


def unread_total(conn: Connection, party_id: str) -> tuple[int, int]:
    """(threads holding messages ``party_id`` has not read, those messages): one row by its key."""
    row = conn.execute(
        sa.select(hotline_unread.c.threads, hotline_unread.c.messages).where(hotline_unread.c.party_id == party_id)
    ).first()
    return (0, 0) if row is None else (int(row.threads), int(row.messages))


def unread_counts(conn: Connection, party_id: str, thread_ids: Iterable[str]) -> dict[str, int]:
    """Per thread of ``party_id``, the messages of others (keepclear's included) after its read cursor
    (one statement per ``IN_LIST_SIZE`` threads; 0 for a thread it is no member of)."""
    ids = list(thread_ids)
    counts = dict.fromkeys(ids, 0)
    query = sa.select(hotline_members.c.thread_id, hotline_members.c.unread).where(
        hotline_members.c.party_id == party_id
    )
    for chunk in in_list_chunks(ids):
        counts.update(
            {r.thread_id: int(r.unread) for r in conn.execute(query.where(hotline_members.c.thread_id.in_(chunk)))}
        )
    return counts
