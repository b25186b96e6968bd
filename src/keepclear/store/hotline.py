"""Stored hotline: threads, members, messages in per-thread order, receipts, ack requests, availability.

Sequence numbers come from ``hotline_threads.last_seq``, bumped with ``UPDATE ... RETURNING`` inside
the writer transaction: on SQLite the single writer path serialises it, on PostgreSQL the row lock
does (even across processes), and the unique (thread, seq) key refuses anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from keepclear.domain.hotline import (
    Availability,
    Message,
    MessageKind,
    PartyAvailability,
    PhraseUse,
    Receipt,
    ReceiptKind,
    Thread,
)
from keepclear.domain.limits import PERSON_MAX_CHARS
from keepclear.errors import NotFoundError
from keepclear.store.registry import lock_party
from keepclear.store.schema import in_list_chunks, metadata

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
)

hotline_members = sa.Table(
    "hotline_members",
    metadata,
    sa.Column("thread_id", sa.String(64), sa.ForeignKey("hotline_threads.id"), primary_key=True),
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True, index=True),
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
    members = conn.execute(
        sa.select(hotline_members.c.party_id)
        .where(hotline_members.c.thread_id == thread_id)
        .order_by(hotline_members.c.party_id)
    ).scalars()
    return Thread(row.id, row.title, tuple(members), bool(row.standing), row.created_s)


def _threads_of_query(party_id: str) -> sa.Select[Any]:
    return (
        sa.select(hotline_threads)
        .join(hotline_members, hotline_members.c.thread_id == hotline_threads.c.id)
        .where(hotline_members.c.party_id == party_id)
        .order_by(hotline_threads.c.created_s, hotline_threads.c.id)
    )


def _with_members(conn: Connection, rows: Sequence[Row[Any]], member: str | None = None) -> list[tuple[Thread, int]]:
    """Each thread row as a ``Thread`` with its members, and its last seq.

    ``member``: the rows are every thread of that party (no fewer), whose members are then read in one statement
    that names the party, not the threads (a party may be a member of more threads than a statement
    takes bound parameters: 65,535 on PostgreSQL); otherwise one statement per ``IN_LIST_SIZE`` threads.
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


def threads_with_last_seq(conn: Connection, party_id: str, *, standing_only: bool = False) -> list[tuple[Thread, int]]:
    """Every thread ``party_id`` is a member of (``standing_only``: its standing threads, one per other
    party), oldest first, each with its last seq; two statements, however many threads."""
    query = _threads_of_query(party_id)
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


_BUMP_LAST_SEQ = (
    hotline_threads.update()
    .where(hotline_threads.c.id == sa.bindparam("b_id"))
    .values(last_seq=hotline_threads.c.last_seq + sa.bindparam("b_count", type_=sa.Integer))
    .returning(hotline_threads.c.last_seq)
)


def reserve_seqs(conn: Connection, counts: dict[str, int]) -> dict[str, int]:
    """Reserve ``counts[thread]`` sequence numbers in each thread; returns each thread's last seq *before*.

    The update locks the thread rows until commit, so concurrent writers (other processes on
    PostgreSQL included) queue behind it. Give back what goes unused with ``set_last_seqs``.
    """
    before: dict[str, int] = {}
    for thread_id in sorted(counts):
        last = conn.execute(_BUMP_LAST_SEQ, {"b_id": thread_id, "b_count": counts[thread_id]}).scalar()
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


# ---- messages


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
    """Store ``messages`` (their seqs reserved with ``reserve_seqs`` in the same transaction)."""
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
    row = conn.execute(
        sa.select(hotline_messages).where(hotline_messages.c.thread_id == thread_id, hotline_messages.c.seq == seq)
    ).first()
    if row is None:
        raise NotFoundError(f"message {seq} of thread {thread_id!r} does not exist")
    return _message(row)


def messages_after(conn: Connection, thread_id: str, after_seq: int, limit: int | None = None) -> list[Message]:
    """Messages of ``thread_id`` with seq above ``after_seq``, in order."""
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


# ---- receipts


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
        .where(
            hotline_messages.c.seq > sa.func.coalesce(cursor.c.through_seq, 0),
            sa.or_(hotline_messages.c.sender_party.is_(None), hotline_messages.c.sender_party != party_id),
        )
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
                sa.or_(hotline_messages.c.sender_party.is_(None), hotline_messages.c.sender_party != party_id),
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


# ---- acknowledgement requests


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
    """The acknowledgement requests of message ``seq``, by party."""
    return list(
        conn.execute(
            sa.select(hotline_ack_requests)
            .where(hotline_ack_requests.c.thread_id == thread_id, hotline_ack_requests.c.seq == seq)
            .order_by(hotline_ack_requests.c.party_id)
        )
    )


# ---- availability


def get_availability(conn: Connection, party_id: str) -> PartyAvailability:
    """What ``party_id`` last declared (available since 0 when it never declared anything)."""
    row = conn.execute(sa.select(hotline_availability).where(hotline_availability.c.party_id == party_id)).first()
    if row is None:
        return PartyAvailability(party_id, Availability.AVAILABLE, 0.0)
    return PartyAvailability(row.party_id, Availability(row.availability), row.since_s, row.person, row.reason)


def set_availability(conn: Connection, value: PartyAvailability) -> None:
    """Store what ``value.party_id`` now declares."""
    conn.execute(hotline_availability.delete().where(hotline_availability.c.party_id == value.party_id))
    conn.execute(
        hotline_availability.insert().values(
            party_id=value.party_id,
            availability=value.availability.value,
            since_s=value.since_s,
            person=value.person,
            reason=value.reason,
        )
    )
