"""The ``Ledger``'s signed heads and the proofs it serves: checkpoints, tree heads, inclusion, consistency.

The deployment signs the head (a checkpoint and its C2SP signed tree head, docs/record.md
"Checkpoints and signed tree heads") as appends go (``core``) and here on demand: at every export or
head request. The proofs are made from the in-memory tree (``tlog``) under its lock; a party's
inclusion proof is served only for an entry it may read.
"""

from __future__ import annotations

from typing import Any

from keepclear.errors import NotFoundError, ValidationError
from keepclear.ledger.core import LedgerCore
from keepclear.ledger.keys import key_id_of
from keepclear.ledger.model import Checkpoint
from keepclear.ledger.rows import checkpoint_from_row, entry_from_row
from keepclear.ledger.spec import payload_readable
from keepclear.ledger.tlog import log_keys
from keepclear.store import ledger as store
from keepclear.store.ledger import Head


class SignedHeads(LedgerCore):
    """Signing and reading the heads; the transparency log's proofs and size."""

    @property
    def tree_leaves(self) -> int:
        """Leaves of the Merkle tree: every entry of the ledger once the tree was built (0 before)."""
        return self._tlog.leaves

    @property
    def tree_bytes(self) -> int:
        """Bytes of hashes the Merkle tree holds in memory: 64 for every 2^``tree_block_level``
        entries, at most 64 · 2^``tree_block_level`` for the last block, and the blocks read back it
        keeps (at most ``tree_cache_bytes``)."""
        return self._tlog.bytes_held

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (None when the last checkpoint already covers it).

        A last checkpoint stored before the transparency log gets its signed tree head here.
        """
        with self._write() as conn:
            head = self._head(conn)
            checkpoint = self._maybe_checkpoint(conn, head, force=True)
            last = store.last_checkpoint(conn)
            if checkpoint is None and last is not None and last.note is None:
                key = self._private_key(last.key_id) if self._keys.has(last.key_id) else self._deployment_key(conn)
                if key_id_of(key.public_key()) == last.key_id:
                    store.set_checkpoint_note(conn, last.seq, self._head_note(conn, last.seq, key))
                else:  # the key that signed it is gone: sign the same head anew
                    store.delete_checkpoint(conn, last.seq)
                    checkpoint = self._maybe_checkpoint(conn, Head(head.seq, head.hash, 0, 0), force=True)
            return checkpoint

    def latest_head(self) -> Checkpoint:
        """The latest checkpoint (signed tree head), signing the current head first when needed."""
        self.checkpoint()
        with self._db.read() as conn:
            row = store.last_checkpoint(conn)
        assert row is not None
        return checkpoint_from_row(row)

    def deployment_vkeys(self) -> list[str]:
        """The signed-note verifier keys of every deployment key (oldest first), named by the origin."""
        with self._db.read() as conn:
            return log_keys(conn, self._origin_of(conn))

    def inclusion_proof(
        self, seq: int, *, tree_size: int | None = None, for_party: str | None = None
    ) -> dict[str, Any]:
        """Proof that entry ``seq`` is in the tree of a signed head (default: the latest).

        With ``for_party``, an entry whose payload that party may not read does not exist for it
        (``NotFoundError``): a party proves only what it may see.
        """
        size = self.latest_head().seq if tree_size is None else tree_size
        with self._tlog.lock, self._db.read() as conn:
            row = store.entry_at(conn, seq)
            entry = None if row is None else entry_from_row(row)
            if entry is None or (for_party is not None and not payload_readable(entry.statement, for_party)):
                raise NotFoundError(f"entry {seq}: no such entry")
            return self._tlog.inclusion(conn, entry, size, self._origin_of(conn))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """Proof that the signed head of ``old_size`` is a prefix of that of ``new_size`` (default: latest)."""
        new = self.latest_head().seq if new_size is None else new_size
        if not 1 <= old_size <= new:
            raise ValidationError([f"old: tree size {old_size} is not between 1 and {new}"])
        with self._tlog.lock, self._db.read() as conn:
            return self._tlog.consistency(conn, old_size, new, self._origin_of(conn))

    def consistency_hashes(self, old_size: int, new_size: int) -> list[bytes]:
        """The RFC 9162 consistency proof between any two sizes of the tree (signed heads or not): what a
        witness checks against the head it holds itself."""
        with self._tlog.lock, self._db.read() as conn:
            return self._tlog.consistency_hashes(conn, old_size, new_size)
