"""Witnesses on the ``Ledger``'s side: recording a party's cosignature of a signed head, and reading them.

A party's client checks that a head extends the one it saw and cosigns it (``services.record.witness``,
docs/record.md "Witnessing"); the ledger keeps a cosignature only of a head it signed, verifying with
the party's current key. A head every party cosigned is agreed.
"""

from __future__ import annotations

from keepclear.errors import ValidationError
from keepclear.ledger.canonical import b64encode
from keepclear.ledger.core import SignatureRefused
from keepclear.ledger.heads import SignedHeads
from keepclear.ledger.keys import public_key_from_b64
from keepclear.ledger.model import Checkpoint
from keepclear.ledger.note import MAX_COSIGNATURE_TIME_S, parse_note, vkey
from keepclear.ledger.rows import checkpoint_from_row
from keepclear.ledger.tlog import signed_head
from keepclear.store import ledger as store


def witness_name(party_id: str) -> str:
    """The name a party's witness cosignatures carry (signed-note key name)."""
    return f"keepclear.witness/{party_id}"


class Witnessing(SignedHeads):
    """``add_cosignature`` and ``cosignatures``."""

    def add_cosignature(self, party_id: str, cosigned_note: str) -> int:
        """Record ``party_id``'s witness cosignature of one of this log's signed heads; returns its size.

        ``cosigned_note`` is the head as the log signed it with the party's ``cosignature/v1`` line
        (name ``witness_name(party_id)``, the party's current ledger key) added. Refused when the head
        is not the one this log signed at that size (``ValidationError``) or the cosignature does not
        verify (``SignatureRefused``). A second cosignature of the same head by the party is ignored.
        """
        try:
            note = parse_note(cosigned_note)
        except ValueError as exc:
            raise ValidationError([f"note: {exc}"]) from None
        name = witness_name(party_id)
        with self._write() as conn:
            row = store.checkpoint_at(conn, note.head.size)
            if row is None or row.note is None or parse_note(row.note).text != note.text:
                raise ValidationError([f"note: not the head this log signed at tree size {note.head.size}"])
            key = store.active_key(conn, party_id)
            public_key = None if key is None else public_key_from_b64(key.public_key)
            found = None if public_key is None else note.cosignature(name, public_key)
            if public_key is None or found is None:
                raise SignatureRefused(f"note: no valid cosignature/v1 line of {name} with {party_id}'s current key")
            timestamp, signed = found
            if timestamp > MAX_COSIGNATURE_TIME_S:
                raise ValidationError(
                    [f"note: cosignature time {timestamp} is past the latest kept ({MAX_COSIGNATURE_TIME_S} s)"]
                )
            line = f"\u2014 {signed.name} {b64encode(signed.key_hash + signed.signature)}"
            store.insert_cosignature(
                conn, note.head.size, party_id, vkey(name, public_key), line, timestamp * 1_000_000
            )
        return note.head.size

    def cosignatures(self, tree_size: int | None = None) -> tuple[Checkpoint, dict[str, str]]:
        """A signed head (default: the largest any party cosigned, else the latest) and its cosignature
        lines by party."""
        if tree_size is None:
            with self._db.read() as conn:
                cosigned = store.last_cosigned_size(conn)  # not every cosignature: one row, by the key
            tree_size = cosigned if cosigned is not None else self.latest_head().seq
        with self._db.read() as conn:
            row = signed_head(conn, tree_size)
            lines = {c.party_id: c.line for c in store.list_cosignatures(conn, row.seq)}
        return checkpoint_from_row(row), lines
