"""Merkle tree of the record, hashed as RFC 9162 (Certificate Transparency v2) §2.1 says.

Leaf hash ``SHA-256(0x00 || leaf)``, interior node ``SHA-256(0x01 || left || right)``, the root of
``n`` leaves splitting at the largest power of two below ``n``; the empty tree's root is
``SHA-256("")``. A record leaf is the 32-byte entry hash (docs/record.md, "Transparency log").

``MerkleTree`` keeps every complete, aligned subtree hash (one ``bytearray`` per level: 64 bytes a
leaf in all), so appending is amortised O(1) and any root, inclusion or consistency proof for a size
up to the current one costs O(log² n) hashes. ``verify_inclusion`` and ``verify_consistency`` are
RFC 9162 §2.1.3.2 and §2.1.4.2; they need nothing but ``hashlib``.

No library: the Python packages that do this are unmaintained or tied to a blockchain; this is the
few dozen lines of the RFC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree of leaf hashes (see the module docstring)."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.size = 0
        self.extend(leaf_hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes), folding every subtree it completes."""
        if len(leaf) != HASH_BYTES:
            raise ValueError("a leaf hash is 32 bytes")
        self._levels[0] += leaf
        self.size += 1
        level, index, current = 0, self.size - 1, leaf
        while index & 1:
            left = bytes(self._levels[level][(index - 1) * HASH_BYTES : index * HASH_BYTES])
            current = node_hash(left, current)
            level += 1
            index >>= 1
            if len(self._levels) == level:
                self._levels.append(bytearray())
            self._levels[level] += current

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order: level by level, each new node hashed once."""
        leaves = list(leaf_hashes)
        if any(len(leaf) != HASH_BYTES for leaf in leaves):
            raise ValueError("a leaf hash is 32 bytes")
        self._levels[0] += b"".join(leaves)
        start, end = self.size, self.size + len(leaves)  # the new nodes of this level: [start, end)
        self.size = end
        sha256, level = hashlib.sha256, 0
        while end - start and end > 1:
            below = self._levels[level]
            # Parents of complete pairs touching a new node: [start // 2, end // 2).
            parents = b"".join(
                sha256(b"\x01" + below[2 * i * HASH_BYTES : (2 * i + 2) * HASH_BYTES]).digest()
                for i in range(start >> 1, end >> 1)
            )
            level += 1
            if len(self._levels) == level:
                self._levels.append(bytearray())
            self._levels[level] += parents
            start, end = start >> 1, end >> 1

    def truncate(self, size: int) -> None:
        """Forget every leaf from ``size`` on (a write that did not commit)."""
        if not 0 <= size <= self.size:
            raise ValueError(f"cannot truncate a tree of {self.size} leaves to {size}")
        for level, hashes in enumerate(self._levels):
            del hashes[(size >> level) * HASH_BYTES :]
        self.size = size

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index`` (0-based)."""
        return self._hash(index, index + 1)

    def _hash(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``, a range the RFC's recursion produces (aligned splits)."""
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:
            level = size.bit_length() - 1
            offset = (start >> level) * HASH_BYTES
            return bytes(self._levels[level][offset : offset + HASH_BYTES])
        k = _split(size)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is not between 0 and {self.size}")

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size])."""
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} is not between 0 and {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._hash(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self._hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._hash(start, start + k)]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show leaf hash ``leaf`` at ``index`` of the tree ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree ``old_root`` is a prefix of ``new_root``?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0 or not proof:
        return False if old_size else not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
