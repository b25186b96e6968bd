"""Stored unread counts: per member of a thread, the messages of others (keepclear's included) after
its party's read cursor; a party's total is their sum over its threads that hold any.

Kept by the two writer paths that change them, in their transactions: storing messages
(``messages.insert_messages``) and advancing a read cursor (``receipts.advance_receipts``). Each
changes the member rows of the one thread it writes (rows only that thread's posters, who hold its
row already, and its readers touch), so posts into a party's different threads never queue on one
another. A party's total (``unread_total``) reads the partial index of member rows holding unread
messages (``ix_hotline_members_unread``): its threads with something unread, never the others
(tens of thousands others may make it a member of) nor the messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.hotline import Message
from keepclear.store.hotline.tables import hotline_members
from keepclear.store.schema import in_list_chunks

_ADD_POSTED = (
    hotline_members.update()
    .where(hotline_members.c.thread_id == sa.bindparam("b_thread"))
    .values(unread=hotline_members.c.unread + sa.bindparam("b_count", type_=sa.Integer))
)
#: keepclear's own messages (no sender) are unread for every member; a party's, for the others.
_ADD_POSTED_BY = _ADD_POSTED.where(hotline_members.c.party_id != sa.bindparam("b_sender"))

_TAKE_READ = (
    hotline_members.update()
    .where(
        hotline_members.c.thread_id == sa.bindparam("b_thread"), hotline_members.c.party_id == sa.bindparam("b_party")
    )
    .values(unread=hotline_members.c.unread - sa.bindparam("b_count", type_=sa.Integer))
)

_TOTAL = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(hotline_members.c.unread), 0)).where(
    hotline_members.c.party_id == sa.bindparam("b_party"), hotline_members.c.unread > 0
)


def count_posted(conn: Connection, messages: Sequence[Message]) -> None:
    """``messages``, just stored, become unread for every member of their threads but their sender:
    one statement per thread and sender, the threads in order (as their rows were locked)."""
    groups: dict[tuple[str, str | None], int] = {}
    for message in messages:
        key = (message.thread_id, message.sender_party)
        groups[key] = groups.get(key, 0) + 1
    for (thread_id, sender), count in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "")):
        if sender is None:
            conn.execute(_ADD_POSTED, {"b_thread": thread_id, "b_count": count})
        else:
            conn.execute(_ADD_POSTED_BY, {"b_thread": thread_id, "b_count": count, "b_sender": sender})


def count_read(conn: Connection, thread_id: str, party_id: str, count: int) -> None:
    """``count`` messages of others in ``thread_id`` were newly marked read by ``party_id``."""
    if count > 0:
        conn.execute(_TAKE_READ, {"b_thread": thread_id, "b_party": party_id, "b_count": count})


def unread_total(conn: Connection, party_id: str) -> tuple[int, int]:
    """(threads holding messages ``party_id`` has not read, those messages): one read of the partial
    index of its member rows with unread messages."""
    threads, messages = conn.execute(_TOTAL, {"b_party": party_id}).one()
    return int(threads), int(messages)


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
