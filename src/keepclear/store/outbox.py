"""The record's outbox: entries waiting to be signed into the ledger.

A writer inserts its rows with ``stage`` inside the transaction that changes the state they record,
so both commit or neither does. The signer takes rows in id order (``take``), appends them to the
ledger and deletes them (``remove``) in one transaction of its own: each row becomes exactly one
entry, whether the process dies before, during or after that transaction. A row the ledger refuses
is retried later (``postpone``) and, after a bounded number of tries, parked as ``failed``: it stays
here, counted and shown, until an operator looks at it.

The outbox is bounded: ``stage`` refuses (``OutboxFull``, a 503 to an HTTP client) rows that would
take it past ``OUTBOX_MAX_ROWS`` rows, waiting and parked together, and the write with them, so
that a signer that cannot keep up, or cannot sign at all, stops the writes rather than the table
growing without end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.errors import UnavailableError
from keepclear.store.schema import IN_LIST_SIZE, metadata

#: The most rows the outbox holds (waiting and parked): ten seconds of the signer's sustained rate,
#: and the size of the event queue in front of the record.
OUTBOX_MAX_ROWS = 200_000
#: What a refused writer is told to wait (the signer drains thousands of rows a second).
RETRY_AFTER_S = 5.0

record_outbox = sa.Table(
    "record_outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=True),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("audience", sa.Text, nullable=True),
    sa.Column("staged_s", sa.Double, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_try_s", sa.Double, nullable=False, server_default="0"),
    sa.Column("failed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_record_outbox_failed_next", "failed", "next_try_s"),
)


# Built once: the signer runs them on every drain.
_TAKE = (
    sa.select(record_outbox)
    .where(record_outbox.c.failed.is_(False), record_outbox.c.next_try_s <= sa.bindparam("now_s"))
    .order_by(record_outbox.c.id)
    .limit(sa.bindparam("limit"))
    .with_for_update()
)
_SPAN = sa.select(sa.func.min(record_outbox.c.id), sa.func.max(record_outbox.c.id))
_COUNT_UP_TO = sa.select(sa.func.count()).select_from(
    sa.select(record_outbox.c.id).limit(sa.bindparam("limit")).subquery()
)
_REMOVE = record_outbox.delete().where(record_outbox.c.id.in_(sa.bindparam("ids", expanding=True)))


class OutboxFull(UnavailableError):
    """The outbox holds ``OUTBOX_MAX_ROWS`` rows: the write that would stage more is refused."""


@dataclass(frozen=True, slots=True)
class StagedEntry:
    """One waiting entry: kind, acting party, time, canonical payload text, audience (None: everyone)."""

    id: int
    kind: str
    party_id: str | None
    time_s: float
    payload: str
    audience: tuple[str, ...] | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits: rows still to sign, rows parked as failed, and when the oldest waiting one was staged."""

    waiting: int
    failed: int
    oldest_staged_s: float | None


def stage(
    conn: Connection,
    rows: Sequence[tuple[str, str | None, float, str, Sequence[str] | None]],
    staged_s: float,
    *,
    max_rows: int | None = OUTBOX_MAX_ROWS,
) -> None:
    """Insert ``(kind, party_id, time_s, payload_text, audience)`` rows, in order (inside the writer's
    transaction); ``OutboxFull`` when the outbox would then hold more than ``max_rows`` (None: no bound).

    The bound is soft by the few rows of writers staging at the same moment on PostgreSQL.
    """
    if rows:
        if max_rows is not None:
            _make_room(conn, len(rows), max_rows)
        conn.execute(
            record_outbox.insert(),
            [
                {
                    "kind": kind,
                    "party_id": party_id,
                    "time_s": time_s,
                    "payload": payload,
                    "audience": None if audience is None else "\n".join(audience),
                    "staged_s": staged_s,
                }
                for kind, party_id, time_s, payload, audience in rows
            ],
        )


def _make_room(conn: Connection, adding: int, max_rows: int) -> None:
    """Refuse ``adding`` rows that would take the outbox past ``max_rows``.

    Ids grow, so ``max - min + 1`` bounds the row count from above at the cost of two index lookups:
    the usual, nearly empty outbox needs no more. Only past the bound are the rows counted (at most
    ``max_rows`` of them).
    """
    low, high = conn.execute(_SPAN).one()
    if low is None or high - low + 1 + adding <= max_rows:
        return
    held = int(conn.execute(_COUNT_UP_TO, {"limit": max_rows}).scalar_one())
    if held + adding > max_rows:
        raise OutboxFull(
            f"record: the outbox holds {held} entries not yet signed into the ledger (at most {max_rows});"
            f" this write and its {adding} entries were not made: retry later",
            RETRY_AFTER_S,
        )


def take(conn: Connection, now_s: float, limit: int) -> list[StagedEntry]:
    """Up to ``limit`` rows due for signing, oldest first, locked until the transaction ends (PostgreSQL)."""
    return [_staged(row) for row in conn.execute(_TAKE, {"now_s": now_s, "limit": limit})]


def _staged(row: Any) -> StagedEntry:
    audience = None if row.audience is None else tuple(a for a in row.audience.split("\n") if a)
    return StagedEntry(row.id, row.kind, row.party_id, row.time_s, row.payload, audience, row.attempts)


def remove(conn: Connection, ids: Sequence[int]) -> None:
    """Delete signed rows."""
    ids = list(ids)
    for start in range(0, len(ids), IN_LIST_SIZE):
        conn.execute(_REMOVE, {"ids": ids[start : start + IN_LIST_SIZE]})


def postpone(conn: Connection, entry_id: int, error: str, next_try_s: float, *, failed: bool) -> None:
    """Count a failed try of ``entry_id``: try again from ``next_try_s``, or park it as ``failed``."""
    conn.execute(
        record_outbox.update()
        .where(record_outbox.c.id == entry_id)
        .values(attempts=record_outbox.c.attempts + 1, last_error=error[:2000], next_try_s=next_try_s, failed=failed)
    )


def backlog(conn: Connection) -> Backlog:
    """How many rows wait, how many are parked, and the oldest waiting row's staging time."""
    waiting, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(record_outbox.c.staged_s)).where(record_outbox.c.failed.is_(False))
    ).one()
    failed = conn.execute(sa.select(sa.func.count()).where(record_outbox.c.failed.is_(True))).scalar_one()
    return Backlog(int(waiting), int(failed), None if oldest is None else float(oldest))


def failed_entries(conn: Connection, limit: int = 100) -> list[tuple[int, str, int, str | None]]:
    """Parked rows: id, kind, tries, last error (for the operator)."""
    query = (
        sa.select(record_outbox.c.id, record_outbox.c.kind, record_outbox.c.attempts, record_outbox.c.last_error)
        .where(record_outbox.c.failed.is_(True))
        .order_by(record_outbox.c.id)
        .limit(limit)
    )
    return [(r.id, r.kind, r.attempts, r.last_error) for r in conn.execute(query)]
