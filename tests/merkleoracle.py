"""The oracle of the Merkle tree tests: the tree as it was before blocks (commit 8751c8f), every level
in memory, and a store of leaf hashes that logs what the bounded tree reads back from it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from keepclear.ledger.merkle import EMPTY_ROOT

HASH_BYTES = 32


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    return 1 << ((size - 1).bit_length() - 1)


class FullTree:
    """Every complete, aligned subtree hash (64 bytes a leaf): the old ``MerkleTree``, kept as the oracle."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[bytearray] = [bytearray()]
        self.size = 0
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        self.levels[0] += leaf
        self.size += 1
        level, index, current = 0, self.size - 1, leaf
        while index & 1:
            current = _node(bytes(self.levels[level][(index - 1) * HASH_BYTES : index * HASH_BYTES]), current)
            level, index = level + 1, index >> 1
            if len(self.levels) == level:
                self.levels.append(bytearray())
            self.levels[level] += current

    def truncate(self, size: int) -> None:
        for level, hashes in enumerate(self.levels):
            del hashes[(size >> level) * HASH_BYTES :]
        self.size = size

    def hash(self, start: int, end: int) -> bytes:
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:
            level = size.bit_length() - 1
            return bytes(self.levels[level][(start >> level) * HASH_BYTES : ((start >> level) + 1) * HASH_BYTES])
        k = _split(size)
        return _node(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int) -> bytes:
        return EMPTY_ROOT if size == 0 else self.hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        proof, start, end = [], 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self.hash(start + k, end))
                end = start + k
            else:
                proof.append(self.hash(start, start + k))
                start += k
        return proof[::-1]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return [] if old in (0, new) else self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        if m == end - start:
            return [] if complete else [self.hash(start, end)]
        k = _split(end - start)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self.hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.hash(start, start + k)]


def make_leaf(i: int) -> bytes:
    """A distinct 32-byte leaf hash for ``i``."""
    return hashlib.sha256(i.to_bytes(8, "big")).digest()


class Leaves:
    """The store the bounded tree reads back from: every leaf appended, each read logged."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self.reads: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> list[bytes]:
        self.reads.append((start, end))
        return self.hashes[start:end]
