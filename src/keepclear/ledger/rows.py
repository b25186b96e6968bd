"""Between the ledger's objects and the store's rows: an entry's row, and entries and checkpoints read back.

The rows are tuples in ``store.ledger.ENTRY_COLUMNS`` order (the batch path, ``batch``, writes the same
tuples directly); ``store`` knows nothing of the ledger's model (tests/test_layers.py), so the
conversions live on this side.
"""

from __future__ import annotations

from typing import Any

from keepclear.ledger.model import Checkpoint, Entry, Statement
from keepclear.store.ledger import Head


def chained(
    head: Head, statement: Statement, text: str, key_id: str | None, signature: str | None
) -> tuple[Head, Entry, tuple[Any, ...]]:
    """The entry that follows ``head``, its row, and the head after it (nothing is written)."""
    entry = Entry(head.seq + 1, head.hash, statement, text, key_id, signature)
    entry_hash = entry.hash()
    return Head(entry.seq, entry_hash, head.checkpoint_seq, head.checkpoint_us), entry, entry_row(entry, entry_hash)


def checkpoint_values(checkpoint: Checkpoint) -> tuple[int, str, int, str, str, str | None]:
    c = checkpoint
    return c.seq, c.head_hash, c.time_us, c.key_id, c.signature, c.note


def entry_row(entry: Entry, entry_hash: str) -> tuple[Any, ...]:
    """The row of ``entry`` (``store.ledger.ENTRY_COLUMNS`` order)."""
    s = entry.statement
    audience = None if s.audience is None else "\n".join(s.audience)
    return (
        entry.seq,
        entry.prev_hash,
        entry_hash,
        s.party_id,
        s.kind,
        s.time_us,
        s.payload_sha256,
        s.nonce,
        audience,
        entry.payload,
        entry.key_id,
        entry.signature,
    )


def entry_from_row(row: Any) -> Entry:
    audience = None if row.audience is None else tuple(a for a in row.audience.split("\n") if a)
    statement = Statement(row.party_id, row.kind, row.time_us, row.payload_sha256, row.nonce, audience)
    return Entry(row.seq, row.prev_hash, statement, row.payload, row.key_id, row.signature)


def checkpoint_from_row(row: Any) -> Checkpoint:
    return Checkpoint(row.seq, row.head_hash, row.time_us, row.key_id, row.signature, row.note)
