"""The record's transparency log: the Merkle tree of the store's entries kept in step, and its proofs.

A ``Ledger`` holds one ``LogTree``. Its ``MerkleTree`` keeps the levels from ``block_level`` up (64
bytes for every 2^L entries, plus the last block's leaves: ``merkle`` says why) and reads the leaves of
any other block back from the store (``store.ledger.leaf_hashes``, one bounded range) through the
connection of whoever holds it (``held``), keeping the blocks read last (``cache_bytes``, 1 MiB). Appends follow the ledger's writes and never read; a write
that does not commit is undone by truncating (``undone_on_failure``); a store that no longer holds
what the tree was built from (restored, rewritten) is noticed at the next sync and the tree rebuilt,
read a chunk at a time, its cache of blocks gone with it. The proof documents (docs/record.md, "Proofs") are made here, for the
``Ledger``'s entries and signed heads.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from typing import Any

from keepclear.errors import NotFoundError, ValidationError
from keepclear.ledger.canonical import b64encode
from keepclear.ledger.keys import public_key_from_b64
from keepclear.ledger.merkle import BLOCK_CACHE_BYTES, BLOCK_LEVEL, LeavesChanged, MerkleTree, leaf_hash
from keepclear.ledger.model import DEPLOYMENT, Entry
from keepclear.ledger.note import vkey
from keepclear.ledger.spec import CONSISTENCY_FORMAT, INCLUSION_FORMAT
from keepclear.store import ledger as store

#: Entries read at a time to catch the tree up with the store (at most ~0.5 MB of hex strings).
SYNC_CHUNK_ENTRIES = 4096


class LogTree:
    """The Merkle tree of every entry the store holds (see the module docstring)."""

    def __init__(self, block_level: int = BLOCK_LEVEL, cache_bytes: int = BLOCK_CACHE_BYTES) -> None:
        #: Held by a writer for its whole transaction and by a reader while it syncs or proves.
        self.lock = threading.RLock()
        self._block_level = block_level
        self._cache_bytes = cache_bytes
        self._tree: MerkleTree | None = None
        self._conn: Any = None  # the connection of whoever holds the tree, for reading blocks back
        self._generation = 0  # trees built so far: a rollback mark holds only for its own tree

    @property
    def leaves(self) -> int:
        """Leaves of the tree (every entry once it was built; 0 before)."""
        tree = self._tree
        return 0 if tree is None else tree.size

    @property
    def bytes_held(self) -> int:
        """Bytes of hashes the tree holds in memory (see ``MerkleTree.bytes_held``)."""
        tree = self._tree
        return 0 if tree is None else tree.bytes_held

    @property
    def tree(self) -> MerkleTree:
        """The tree as it is, in a write after ``at_head`` (it runs ahead of the store within it)."""
        assert self._tree is not None, "the tree is synced by the write's head"
        return self._tree

    @contextlib.contextmanager
    def held(self, conn: Any) -> Iterator[None]:
        """Hold the tree (its lock), reading the store through ``conn`` meanwhile. Should a block read
        back not be what the tree was built from, the tree is dropped (rebuilt at the next sync)."""
        with self.lock:
            outer, self._conn = self._conn, conn
            try:
                yield
            except LeavesChanged:
                self._tree = None
                raise
            finally:
                self._conn = outer

    def _read(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``[start, end)`` (entries ``start + 1`` to ``end``) through the holder's connection."""
        if self._conn is None:
            raise RuntimeError("the Merkle tree reads the store only while held")
        return _leaf_hashes(store.leaf_hashes(self._conn, start + 1, end + 1))

    def _new(self) -> MerkleTree:
        self._generation += 1
        return MerkleTree(leaves=self._read, block_level=self._block_level, cache_bytes=self._cache_bytes)

    def forget(self) -> None:
        """Drop the tree: the next sync rebuilds it from the store."""
        with self.lock:
            self._tree = None

    def synced(self, conn: Any) -> MerkleTree:
        """The tree of every entry ``conn`` sees: caught up a chunk at a time, rebuilt should the store no
        longer hold the entry of its last leaf (restored or rewritten)."""
        with self.held(conn):
            tree = self._tree if self._tree is not None else self._new()
            self._tree = tree
            from_seq = max(tree.size, 1)  # the entry of the tree's last leaf first, to check it
            while True:
                hashes = store.leaf_hashes(conn, from_seq, from_seq + SYNC_CHUNK_ENTRIES)
                new = hashes
                if tree.size and from_seq == tree.size:
                    if not hashes or not self._last_leaf_is(tree, hashes[0]):
                        tree = self._tree = self._new()
                        from_seq = 1
                        continue
                    new = hashes[1:]
                tree.extend(_leaf_hashes(new))
                if len(hashes) < SYNC_CHUNK_ENTRIES:
                    return tree
                from_seq = tree.size + 1

    def at_head(self, conn: Any, seq: int, head_hash: str) -> MerkleTree:
        """The tree synced to the locked head ``seq``/``head_hash`` of a write: as it is when its last
        leaf is the head's (no read), else ``synced``."""
        with self.held(conn):
            tree = self._tree
            if tree is not None and 0 < seq == tree.size and self._last_leaf_is(tree, head_hash):
                return tree
            return self.synced(conn)

    @staticmethod
    def _last_leaf_is(tree: MerkleTree, entry_hash: str) -> bool:
        try:
            return tree.last_leaf() == leaf_hash(bytes.fromhex(entry_hash))
        except LeavesChanged:  # its last block, read back after a rollback, is not what it was
            return False

    @contextlib.contextmanager
    def undone_on_failure(self) -> Iterator[None]:
        """Hold the tree; should the block raise (a write that will not commit), truncate the tree
        back to its size at the start (reading nothing), or drop it if it was rebuilt meanwhile."""
        with self.lock:
            generation, size = self._generation, self.leaves
            try:
                yield
            except BaseException:
                tree = self._tree
                if tree is not None:
                    if generation == self._generation and size <= tree.size:
                        tree.truncate(size)
                    else:
                        self._tree = None
                raise

    # -- proofs (the caller holds ``lock`` and reads through ``conn``) ----------------------------
    def inclusion(self, conn: Any, entry: Entry, size: int, origin: str) -> dict[str, Any]:
        """The inclusion proof document of ``entry`` in the signed head of ``size``."""
        head = signed_head(conn, size)
        if entry.seq > size:
            raise ValidationError([f"seq: entry {entry.seq} is after the tree head of size {size}"])
        with self.held(conn):
            proof = self.synced(conn).inclusion_proof(entry.seq - 1, size)
        return {
            "format": INCLUSION_FORMAT,
            "version": 1,
            "seq": entry.seq,
            "tree_size": size,
            "entry": entry.to_json(),
            "proof": [b64encode(h) for h in proof],
            "checkpoint": head.note,
            "log_keys": log_keys(conn, origin),
        }

    def consistency(self, conn: Any, old_size: int, new_size: int, origin: str) -> dict[str, Any]:
        """The consistency proof document from the signed head of ``old_size`` to that of ``new_size``."""
        old_head, new_head = signed_head(conn, old_size), signed_head(conn, new_size)
        with self.held(conn):
            proof = self.synced(conn).consistency_proof(old_size, new_size)
        return {
            "format": CONSISTENCY_FORMAT,
            "version": 1,
            "old": old_head.note,
            "new": new_head.note,
            "proof": [b64encode(h) for h in proof],
            "log_keys": log_keys(conn, origin),
        }

    def consistency_hashes(self, conn: Any, old_size: int, new_size: int) -> list[bytes]:
        """The RFC 9162 consistency proof between any two sizes of the tree (signed heads or not)."""
        with self.held(conn):
            tree = self.synced(conn)
            if not 0 <= old_size <= new_size <= tree.size:
                raise ValidationError([f"old: sizes {old_size} and {new_size} are not within 0..{tree.size}"])
            return tree.consistency_proof(old_size, new_size)


#: Checkpoints a refusal of a size without a signed head reads to name those that have one.
NAMED_SIZES = 10


def signed_head(conn: Any, size: int) -> Any:
    """The checkpoint row of ``size`` with its signed tree head (``NotFoundError`` when none, naming the
    signed sizes among the last ``NAMED_SIZES`` checkpoints: one row read by its key, then at most
    ``NAMED_SIZES + 1`` seqs, whatever the record's size; any party may ask again and again)."""
    row = store.checkpoint_at(conn, size)
    if row is None or row.note is None:
        last = store.last_checkpoint_sizes(conn, NAMED_SIZES + 1)
        sizes = [seq for seq, signed in last[-NAMED_SIZES:] if signed]
        named = (", ".join(map(str, sizes)) if sizes else "none") + (" ..." if len(last) > NAMED_SIZES else "")
        raise NotFoundError(f"tree size {size}: no signed tree head of that size (latest signed sizes: {named})")
    return row


def log_keys(conn: Any, origin: str) -> list[str]:
    """The signed-note verifier keys of every deployment key (oldest first), named by ``origin``."""
    return [vkey(origin, public_key_from_b64(k.public_key)) for k in store.list_keys(conn) if k.owner == DEPLOYMENT]


def _leaf_hashes(entry_hashes: list[str]) -> list[bytes]:
    """The Merkle leaf hashes of entry hashes (hex): ``merkle.leaf_hash``, inlined for blocks read back."""
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + bytes.fromhex(h)).digest() for h in entry_hashes]
