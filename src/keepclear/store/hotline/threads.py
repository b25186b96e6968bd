"""Stored hotline threads: threads and their members, the standing thread of a pair of parties,
and the per-thread sequence counter that orders messages.

Sequence numbers come from ``hotline_threads.last_seq``, bumped with ``UPDATE ... RETURNING`` inside
the writer transaction: on SQLite the single writer path serialises it, on PostgreSQL the row lock
does (even across processes), and the unique (thread, seq) key refuses anything else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from keepclear.domain.hotline import Thread
from keepclear.errors import NotFoundError
from keepclear.store.hotline.tables import hotline_members, hotline_threads
from keepclear.store.registry import lock_party
from keepclear.store.schema import in_list_chunks


def pair_key(a: str, b: str) -> str:
    """The key of the standing thread between parties ``a`` and ``b`` (order does not matter)."""
    first, second = sorted((a, b))
    return f"{first} {second}"


# ---- threads


def insert_thread(conn: Connection, thread: Thread, key: str | None, opened_by: str | None = None) -> None:
    """Store ``thread`` and its members (the parties must exist), opened by party ``opened_by`` (None:
    by keepclear)."""
    conn.execute(
        hotline_threads.insert().values(
            id=thread.id,
            title=thread.title,
            standing=thread.standing,
            pair_key=key,
            created_s=thread.created_s,
            last_seq=0,
            opened_by=opened_by,
        )
    )
    conn.execute(hotline_members.insert(), [{"thread_id": thread.id, "party_id": p} for p in thread.parties])


def insert_pair_thread(conn: Connection, thread: Thread, key: str) -> bool:
    """Store the standing ``thread`` of a pair of parties (``key``: ``pair_key``); False, and nothing
    stored, when another writer stored the pair's thread first (API processes starting side by side
    each make the missing standing threads)."""
    try:
        with conn.begin_nested():
            insert_thread(conn, thread, key)
    except sa.exc.IntegrityError:
        return False
    return True


def threads_opened(conn: Connection, party_id: str) -> int:
    """How many threads party ``party_id`` opened, counted with its row locked until the transaction
    ends (``registry.lock_party``: a bound on the count holds across processes). ``NotFoundError``
    when there is no such party."""
    lock_party(conn, party_id)
    count = sa.select(sa.func.count()).select_from(hotline_threads).where(hotline_threads.c.opened_by == party_id)
    return int(conn.execute(count).scalar_one())


def thread_id_for_pair(conn: Connection, a: str, b: str) -> str | None:
    """The id of the standing thread between ``a`` and ``b``, or None."""
    return conn.execute(sa.select(hotline_threads.c.id).where(hotline_threads.c.pair_key == pair_key(a, b))).scalar()


def get_thread(conn: Connection, thread_id: str) -> Thread:
    """The thread ``thread_id`` with its members, or ``NotFoundError``."""
    row = conn.execute(sa.select(hotline_threads).where(hotline_threads.c.id == thread_id)).first()
    if row is None:
        raise NotFoundError(f"thread_id: thread {thread_id!r} does not exist")
    [(thread, _)] = _with_members(conn, [row])
    return thread


def _threads_of_query(party_id: str) -> sa.Select[Any]:
    return (
        sa.select(hotline_threads)
        .join(hotline_members, hotline_members.c.thread_id == hotline_threads.c.id)
        .where(hotline_members.c.party_id == party_id)
        .order_by(hotline_threads.c.created_s, hotline_threads.c.id)
    )


def _with_members(conn: Connection, rows: Sequence[Row[Any]], member: str | None = None) -> list[tuple[Thread, int]]:
    """Each thread row as a ``Thread`` with its members, and its last seq.

    ``member``: the rows are every thread of that party (no fewer), whose members are then read in one
    statement that names the party, not the threads (a party may be a member of more threads than a
    statement takes bound parameters: 65,535 on PostgreSQL); otherwise one statement per
    ``IN_LIST_SIZE`` threads.
    """
    members: dict[str, list[str]] = {row.id: [] for row in rows}
    if not rows:
        return []
    query = sa.select(hotline_members.c.thread_id, hotline_members.c.party_id)
    if member is not None:
        of_member = sa.select(hotline_members.c.thread_id).where(hotline_members.c.party_id == member)
        wheres = [hotline_members.c.thread_id.in_(of_member.scalar_subquery())]
    else:
        wheres = [hotline_members.c.thread_id.in_(chunk) for chunk in in_list_chunks(list(members))]
    for where in wheres:
        for thread_id, party in conn.execute(query.where(where)):
            members[thread_id].append(party)
    return [
        (
            Thread(row.id, row.title, tuple(sorted(members[row.id])), bool(row.standing), row.created_s),
            int(row.last_seq),
        )
        for row in rows
    ]


def threads_of(conn: Connection, party_id: str) -> list[Thread]:
    """Every thread ``party_id`` is a member of, oldest first; two statements."""
    return [thread for thread, _ in threads_with_last_seq(conn, party_id)]


def threads_with_last_seq(
    conn: Connection, party_id: str, *, standing_only: bool = False, among: Collection[str] | None = None
) -> list[tuple[Thread, int]]:
    """Every thread ``party_id`` is a member of (``standing_only``: its standing threads, one per other
    party; ``among``: those of these ids, a few a request names), oldest first, each with its last
    seq; two statements, however many threads (``among``: two per ``IN_LIST_SIZE`` ids)."""
    query = _threads_of_query(party_id)
    if among is not None:  # what others opened with the party is not read to find these
        rows = [
            row
            for chunk in in_list_chunks(sorted(among))
            for row in conn.execute(query.where(hotline_threads.c.id.in_(chunk)))
        ]
        return sorted(_with_members(conn, rows), key=lambda head: (head[0].created_s, head[0].id))
    if standing_only:  # one per other party: named in the members' statement
        return _with_members(conn, list(conn.execute(query.where(hotline_threads.c.standing.is_(True)))))
    return _with_members(conn, list(conn.execute(query)), member=party_id)


def threads_page(
    conn: Connection, party_id: str, after: tuple[float, str] | None, limit: int
) -> list[tuple[Thread, int]]:
    """Up to ``limit`` threads of ``party_id`` by (creation time, id) after ``after`` (None: from the
    first), each with its last seq; two statements."""
    query = _threads_of_query(party_id)
    if after is not None:
        created_s, thread_id = after
        query = query.where(
            sa.or_(
                hotline_threads.c.created_s > created_s,
                sa.and_(hotline_threads.c.created_s == created_s, hotline_threads.c.id > thread_id),
            )
        )
    return _with_members(conn, list(conn.execute(query.limit(limit))))


def _bump_last_seq(posted_tx: sa.ColumnElement[int]) -> sa.Update:
    return (
        hotline_threads.update()
        .where(hotline_threads.c.id == sa.bindparam("b_id"))
        .values(
            last_seq=hotline_threads.c.last_seq + sa.bindparam("b_count", type_=sa.Integer),
            posted_s=sa.bindparam("b_now_s", type_=sa.Double),
            posted_tx=posted_tx,
        )
        .returning(hotline_threads.c.last_seq)
    )


#: PostgreSQL: the writing transaction's id (64 bits, never reused; ``pg_current_xact_id``).
_POSTGRES_TX = sa.cast(sa.cast(sa.func.pg_current_xact_id(), sa.Text), sa.BigInteger)
#: SQLite: one more than any stamp stored (its single writer makes it commit-ordered; indexed).
_STAMPED = hotline_threads.alias("stamped")  # not correlated with the row being updated
_SQLITE_TX = sa.select(sa.func.coalesce(sa.func.max(_STAMPED.c.posted_tx), 0) + 1).scalar_subquery()
_BUMP_LAST_SEQ = {"postgresql": _bump_last_seq(_POSTGRES_TX), "sqlite": _bump_last_seq(_SQLITE_TX)}
#: Every transaction that stamped a thread and is not visible to a snapshot taken after this was
#: read has a stamp at least this.
_HORIZON = {
    "postgresql": sa.select(
        sa.cast(sa.cast(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text), sa.BigInteger)
    ),
    "sqlite": sa.select(_SQLITE_TX),
}


def reserve_seqs(conn: Connection, counts: dict[str, int], now_s: float) -> dict[str, int]:
    """Reserve ``counts[thread]`` sequence numbers in each thread, posted to at ``now_s`` by this
    transaction (``posted_tx``: ``threads_posted_from``); returns each thread's last seq *before*.

    The update locks the thread rows until commit, so concurrent writers (other processes on
    PostgreSQL included) queue behind it. Give back what goes unused with ``set_last_seqs``.
    """
    before: dict[str, int] = {}
    bump = _BUMP_LAST_SEQ[conn.dialect.name]
    for thread_id in sorted(counts):
        last = conn.execute(bump, {"b_id": thread_id, "b_count": counts[thread_id], "b_now_s": now_s}).scalar()
        if last is None:
            raise NotFoundError(f"thread_id: thread {thread_id!r} does not exist")
        before[thread_id] = int(last) - counts[thread_id]
    return before


_SET_LAST_SEQ = (
    hotline_threads.update().where(hotline_threads.c.id == sa.bindparam("b_id")).values(last_seq=sa.bindparam("b_seq"))
)


def set_last_seqs(conn: Connection, last: dict[str, int]) -> None:
    """Set the last sequence number of each thread (rows already locked by ``reserve_seqs``)."""
    conn.execute(_SET_LAST_SEQ, [{"b_id": thread_id, "b_seq": seq} for thread_id, seq in last.items()])


def last_seqs(conn: Connection, thread_ids: Iterable[str]) -> dict[str, int]:
    """The last sequence number of each thread (one statement per ``IN_LIST_SIZE`` threads)."""
    last: dict[str, int] = {}
    for chunk in in_list_chunks(list(thread_ids)):
        query = sa.select(hotline_threads.c.id, hotline_threads.c.last_seq).where(hotline_threads.c.id.in_(chunk))
        last.update({r.id: int(r.last_seq) for r in conn.execute(query)})
    return last


def threads_posted_since(conn: Connection, since_s: float) -> list[tuple[str, int, float]]:
    """(id, last seq, when) of the threads posted to at or after ``since_s``: those only (indexed)."""
    query = sa.select(hotline_threads.c.id, hotline_threads.c.last_seq, hotline_threads.c.posted_s).where(
        hotline_threads.c.posted_s >= since_s
    )
    return [(row.id, int(row.last_seq), float(row.posted_s)) for row in conn.execute(query)]


def posted_horizon(conn: Connection) -> int:
    """A stamp at most that of every transaction posting into threads that this connection's next
    snapshot will not see, whenever it commits: read it first, then the threads
    (``threads_posted_from``), and use it for the next look. PostgreSQL: the oldest transaction
    still in progress (``pg_snapshot_xmin``: every one before it has ended); SQLite: one more than
    any stamp stored (the next writer's stamp)."""
    return int(conn.execute(_HORIZON[conn.dialect.name]).scalar_one())


def threads_posted_from(conn: Connection, horizon: int) -> list[tuple[str, int, int]]:
    """(id, last seq, stamp) of the threads posted to by transactions stamped ``horizon`` or later
    (``posted_horizon``): every thread whose posts committed since ``horizon`` was read, however
    long their transactions ran; those only (indexed)."""
    query = sa.select(hotline_threads.c.id, hotline_threads.c.last_seq, hotline_threads.c.posted_tx).where(
        hotline_threads.c.posted_tx >= horizon
    )
    return [(row.id, int(row.last_seq), int(row.posted_tx)) for row in conn.execute(query)]
