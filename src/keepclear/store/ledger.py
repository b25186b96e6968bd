"""Tables and store functions of the signed ledger: entries, the chain head, keys, checkpoints.

Plain rows in and out: turning them into signed entries is the ledger's business (``keepclear.ledger``
sits beside the store and uses it, never the other way round). Appends run inside ``Database.write()``; the single ``ledger_head`` row is read ``FOR UPDATE`` (a
row lock on PostgreSQL, the writer lock on SQLite), so concurrent appenders — threads or processes —
queue and the chain stays linear.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.store.schema import in_list_chunks, metadata

ledger_head = sa.Table(
    "ledger_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("checkpoint_seq", sa.BigInteger, nullable=False),
    sa.Column("checkpoint_us", sa.BigInteger, nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    # On SQLite ``seq`` is the row id (INTEGER PRIMARY KEY): one b-tree fewer on every append.
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    # Not indexed: nothing looks an entry up by its hash (links and leaves are read by seq).
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("time_us", sa.BigInteger, nullable=False, index=True),
    sa.Column("payload_sha256", sa.String(64), nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False, unique=True),
    sa.Column("audience", sa.Text, nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    # NULL (both): an entry the deployment vouches for by its signed tree heads alone (batch signing).
    sa.Column("key_id", sa.String(64), nullable=True),
    sa.Column("signature", sa.String(128), nullable=True),
)

#: The ids an entry's payload names (``keepclear.ledger.refs``: ``alert_id``, ``incident_id``,
#: ``message_id``), one row per id and entry, keyed by id then time: the entries of one alert,
#: incident or message in a window are one range per id (an incident's evidence), however many others
#: the window holds. Written with the entries, in the same statement batch; filled for the entries
#: stored before it by migration 0020.
ledger_refs = sa.Table(
    "ledger_refs",
    metadata,
    sa.Column("ref", sa.String(128), primary_key=True),
    sa.Column("time_us", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

ledger_keys = sa.Table(
    "ledger_keys",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("custodial", sa.Boolean, nullable=False),
    sa.Column("from_seq", sa.BigInteger, nullable=False),
    sa.Column("until_seq", sa.BigInteger, nullable=True),
)

ledger_checkpoints = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
)

ledger_cosignatures = sa.Table(
    "ledger_cosignatures",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("party_id", sa.String(64), primary_key=True),
    sa.Column("witness_key", sa.Text, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
)


# Built once: statements are immutable, and reusing them skips SQLAlchemy's per-call construction.
_MOVE_HEAD = (
    ledger_head.update().where(ledger_head.c.id == 1).values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
#: The columns of an entry row, in the order of the tuples ``insert_entry_rows`` takes.
ENTRY_COLUMNS = tuple(c.name for c in ledger_entries.columns)
_INSERT_ENTRY_SQL = (
    f"INSERT INTO ledger_entries ({', '.join(ENTRY_COLUMNS)}) VALUES ({', '.join('?' for _ in ENTRY_COLUMNS)})"
)
_COPY_ENTRIES_SQL = f"COPY ledger_entries ({', '.join(ENTRY_COLUMNS)}) FROM STDIN"
_INSERT_REFS_SQL = "INSERT INTO ledger_refs (ref, time_us, seq) VALUES (?, ?, ?)"
_COPY_REFS_SQL = "COPY ledger_refs (ref, time_us, seq) FROM STDIN"
_CHECKPOINT_COLUMNS = tuple(c.name for c in ledger_checkpoints.columns)
_NOTE_CHECKPOINT = (
    ledger_head.update()
    .where(ledger_head.c.id == 1)
    .values(checkpoint_seq=sa.bindparam("checkpoint_seq"), checkpoint_us=sa.bindparam("checkpoint_us"))
)
_LOCK_HEAD = sa.select(ledger_head).where(ledger_head.c.id == 1).with_for_update()
_ACTIVE_KEY = sa.select(ledger_keys).where(
    ledger_keys.c.owner == sa.bindparam("owner"), ledger_keys.c.until_seq.is_(None)
)


@dataclass(frozen=True, slots=True)
class Head:
    """The chain head: last seq and hash (0 and 64 zeros before genesis), last checkpoint."""

    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_us: int


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A public key the chain has registered."""

    key_id: str
    owner: str
    public_key: str
    custodial: bool
    from_seq: int
    until_seq: int | None


def lock_head(conn: Connection) -> Head | None:
    """The head row, locked until the transaction ends; None before genesis."""
    row = conn.execute(_LOCK_HEAD).first()
    if row is None:
        return None
    return Head(row.seq, row.hash, row.checkpoint_seq, row.checkpoint_us)


def create_head(conn: Connection) -> bool:
    """Insert the empty head row if missing; False when another writer made it first."""
    try:
        with conn.begin_nested():
            conn.execute(ledger_head.insert().values(id=1, seq=0, hash="0" * 64, checkpoint_seq=0, checkpoint_us=0))
    except sa.exc.IntegrityError:
        return False
    return True


def _insert_many(
    conn: Connection, table: sa.Table, insert_sql: str, copy_sql: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    columns = [c.name for c in table.columns]
    if conn.dialect.name == "sqlite":
        # The driver's executemany straight away: SQLAlchemy's per-row parameter processing costs
        # as much as SQLite's insert itself on a storm.
        conn.exec_driver_sql(insert_sql, rows)
    elif conn.dialect.driver == "psycopg":
        # COPY, in this transaction: a third of the client's CPU of a multi-row INSERT, and less
        # of the server's.
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def insert_entry_rows(
    conn: Connection, rows: Sequence[tuple[Any, ...]], refs: Sequence[tuple[str, int, int]] = ()
) -> None:
    """Store consecutive entry rows (tuples in ``ENTRY_COLUMNS`` order) in one statement, the ids
    their payloads name (``refs``: ``(ref, time_us, seq)``, ``ledger_refs``) in another, and move the
    head to the last (call with the head locked)."""
    if rows:
        _insert_many(conn, ledger_entries, _INSERT_ENTRY_SQL, _COPY_ENTRIES_SQL, rows)
        if refs:
            _insert_many(conn, ledger_refs, _INSERT_REFS_SQL, _COPY_REFS_SQL, refs)
        conn.execute(_MOVE_HEAD, {"new_seq": rows[-1][0], "new_hash": rows[-1][2]})


def nonce_used(conn: Connection, nonce: str) -> bool:
    """True when a statement with ``nonce`` is already in the chain."""
    return conn.execute(sa.select(ledger_entries.c.seq).where(ledger_entries.c.nonce == nonce)).first() is not None


def list_entries(
    conn: Connection,
    *,
    from_seq: int = 1,
    kinds_prefix: tuple[str, ...] = (),
    kinds: Collection[str] = (),
    from_us: int | None = None,
    until_us: int | None = None,
    until_seq: int | None = None,
    refs: Collection[str] | None = None,
) -> list[sa.Row[Any]]:
    """Entries in seq order, optionally from ``from_seq`` through ``until_seq``, of kinds with a prefix or
    of ``kinds``, in a time window; with ``refs``, only those whose payload names one of them (below)."""
    if refs is not None:
        return _entries_naming(conn, refs, from_seq, until_seq, kinds_prefix, kinds, from_us, until_us)
    query = sa.select(ledger_entries).where(ledger_entries.c.seq >= from_seq).order_by(ledger_entries.c.seq)
    if until_seq is not None:
        query = query.where(ledger_entries.c.seq <= until_seq)
    if kinds_prefix:
        query = query.where(sa.or_(*(ledger_entries.c.kind.startswith(p, autoescape=True) for p in kinds_prefix)))
    if kinds:
        query = query.where(ledger_entries.c.kind.in_(sorted(str(k) for k in kinds)))
    if from_us is not None:
        query = query.where(ledger_entries.c.time_us >= from_us)
    if until_us is not None:
        query = query.where(ledger_entries.c.time_us < until_us)
    return list(conn.execute(query))


def _entries_naming(
    conn: Connection,
    refs: Collection[str],
    from_seq: int,
    until_seq: int | None,
    kinds_prefix: tuple[str, ...],
    kinds: Collection[str],
    from_us: int | None,
    until_us: int | None,
) -> list[sa.Row[Any]]:
    """``list_entries`` of the entries naming one of ``refs``: each id's range of ``ledger_refs`` in
    the window, then those entries by seq alone, the other conditions tested on their columns here
    (given them, SQLite would read every entry of the kinds through their index instead)."""
    seqs: set[int] = set()
    for chunk in in_list_chunks(sorted(set(refs))):
        named = sa.select(ledger_refs.c.seq).where(ledger_refs.c.ref.in_(chunk))
        if from_us is not None:
            named = named.where(ledger_refs.c.time_us >= from_us)
        if until_us is not None:
            named = named.where(ledger_refs.c.time_us < until_us)
        seqs.update(conn.execute(named).scalars())
    wanted_kinds = {str(k) for k in kinds}
    found: list[sa.Row[Any]] = []
    for chunk_of_seqs in in_list_chunks(
        sorted(s for s in seqs if s >= from_seq and (until_seq is None or s <= until_seq))
    ):
        query = sa.select(ledger_entries).where(ledger_entries.c.seq.in_(chunk_of_seqs)).order_by(ledger_entries.c.seq)
        found += (
            row
            for row in conn.execute(query)
            if (not kinds_prefix or row.kind.startswith(kinds_prefix))
            and (not wanted_kinds or row.kind in wanted_kinds)
            and (from_us is None or row.time_us >= from_us)
            and (until_us is None or row.time_us < until_us)
        )
    return found


def insert_key(conn: Connection, key: StoredKey) -> None:
    """Register a public key."""
    conn.execute(
        ledger_keys.insert().values(
            key_id=key.key_id,
            owner=key.owner,
            public_key=key.public_key,
            custodial=key.custodial,
            from_seq=key.from_seq,
            until_seq=key.until_seq,
        )
    )


def key_owner(conn: Connection, key_id: str) -> str | None:
    """The owner ``key_id`` was ever registered to, or None (a key is registered once, to one owner)."""
    owner: str | None = conn.execute(sa.select(ledger_keys.c.owner).where(ledger_keys.c.key_id == key_id)).scalar()
    return owner


def retire_key(conn: Connection, key_id: str, until_seq: int) -> None:
    """Mark ``key_id`` as replaced from ``until_seq`` on."""
    conn.execute(ledger_keys.update().where(ledger_keys.c.key_id == key_id).values(until_seq=until_seq))


def _stored_key(row: sa.Row[tuple[object, ...]]) -> StoredKey:
    return StoredKey(row.key_id, row.owner, row.public_key, row.custodial, row.from_seq, row.until_seq)


def active_key(conn: Connection, owner: str) -> StoredKey | None:
    """The key currently valid for ``owner`` (a party id or ``@deployment``)."""
    row = conn.execute(_ACTIVE_KEY, {"owner": owner}).first()
    return None if row is None else _stored_key(row)


def list_keys(conn: Connection) -> list[StoredKey]:
    """Every key ever registered, in registration order."""
    return [_stored_key(r) for r in conn.execute(sa.select(ledger_keys).order_by(ledger_keys.c.from_seq))]


def insert_checkpoints(conn: Connection, rows: Sequence[tuple[int, str, int, str, str, str | None]]) -> None:
    """Store checkpoints ``(seq, head_hash, time_us, key_id, signature, note)`` (each with its signed
    tree head), in seq order, and note the last on the head (call with the head locked)."""
    if rows:
        conn.execute(ledger_checkpoints.insert(), [dict(zip(_CHECKPOINT_COLUMNS, row, strict=True)) for row in rows])
        seq, time_us = rows[-1][0], rows[-1][2]
        conn.execute(_NOTE_CHECKPOINT, {"checkpoint_seq": seq, "checkpoint_us": time_us})


def last_checkpoint_sizes(conn: Connection, limit: int) -> list[tuple[int, bool]]:
    """The seq of each of the last ``limit`` checkpoints and whether it has its signed tree head, in
    seq order: read backwards along the key, and no note text, so bounded whatever the record's size
    (a proof or head asked for at a size that has none names the sizes that have one)."""
    c = ledger_checkpoints.c
    query = sa.select(c.seq, c.note.is_not(None)).order_by(c.seq.desc()).limit(limit)
    return [(int(seq), bool(signed)) for seq, signed in reversed(conn.execute(query).all())]


def checkpoints_page(conn: Connection, *, after_seq: int, until_seq: int, limit: int) -> list[sa.Row[Any]]:
    """Up to ``limit`` checkpoint rows with ``after_seq < seq <= until_seq``, in seq order: an export
    reads a chunk of them at a time (one every ``ledger_checkpoint_every_entries`` entries: a record
    of ten million entries has a hundred thousand, 50 MB of text)."""
    c = ledger_checkpoints.c
    query = sa.select(ledger_checkpoints).where(c.seq > after_seq, c.seq <= until_seq).order_by(c.seq).limit(limit)
    return list(conn.execute(query))


def set_checkpoint_note(conn: Connection, seq: int, note: str) -> None:
    """Give a checkpoint stored before the transparency log its signed tree head."""
    conn.execute(ledger_checkpoints.update().where(ledger_checkpoints.c.seq == seq).values(note=note))


_LEAF_HASHES = (
    sa.select(ledger_entries.c.hash)
    .where(ledger_entries.c.seq >= sa.bindparam("from_seq"), ledger_entries.c.seq < sa.bindparam("until_seq"))
    .order_by(ledger_entries.c.seq)
)


def leaf_hashes(conn: Connection, from_seq: int, until_seq: int | None = None) -> list[str]:
    """Entry hashes (hex) of ``from_seq`` up to ``until_seq`` (excluded; None: the last), in seq
    order: the transparency log's leaves. The ledger reads bounded ranges (a block, a chunk)."""
    until = 2**63 - 1 if until_seq is None else until_seq
    return list(conn.execute(_LEAF_HASHES, {"from_seq": from_seq, "until_seq": until}).scalars().all())


def entry_at(conn: Connection, seq: int) -> sa.Row[Any] | None:
    """The entry row of ``seq``, or None."""
    return conn.execute(sa.select(ledger_entries).where(ledger_entries.c.seq == seq)).first()


def checkpoint_at(conn: Connection, seq: int) -> sa.Row[Any] | None:
    """The checkpoint row of ``seq``, or None."""
    return conn.execute(sa.select(ledger_checkpoints).where(ledger_checkpoints.c.seq == seq)).first()


def last_checkpoint(conn: Connection) -> sa.Row[Any] | None:
    """The latest checkpoint row, or None."""
    return conn.execute(sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.seq.desc()).limit(1)).first()


def insert_cosignature(
    conn: Connection, tree_size: int, party_id: str, witness_key: str, line: str, time_us: int
) -> bool:
    """Record a party's cosignature of the head of ``tree_size``; False when it already cosigned it."""
    try:
        with conn.begin_nested():
            conn.execute(
                ledger_cosignatures.insert(),
                {
                    "tree_size": tree_size,
                    "party_id": party_id,
                    "witness_key": witness_key,
                    "line": line,
                    "time_us": time_us,
                },
            )
    except sa.exc.IntegrityError:
        return False
    return True


def list_cosignatures(conn: Connection, tree_size: int) -> list[sa.Row[Any]]:
    """The cosignatures of the head of ``tree_size`` (one a party at most), by party."""
    c = ledger_cosignatures.c
    return list(conn.execute(sa.select(ledger_cosignatures).where(c.tree_size == tree_size).order_by(c.party_id)))


def last_cosigned_size(conn: Connection) -> int | None:
    """The largest tree size any party cosigned, or None: the end of the key, one row read."""
    return conn.execute(sa.select(sa.func.max(ledger_cosignatures.c.tree_size))).scalar()


def delete_checkpoint(conn: Connection, seq: int) -> None:
    """Remove a checkpoint (only one stored before the transparency log, to sign its head anew)."""
    conn.execute(ledger_checkpoints.delete().where(ledger_checkpoints.c.seq == seq))
