"""Merkle tree of the record, hashed as RFC 9162 (Certificate Transparency v2) §2.1 says.

Leaf hash ``SHA-256(0x00 || leaf)``, interior node ``SHA-256(0x01 || left || right)``, the root of
``n`` leaves splitting at the largest power of two below ``n``; the empty tree's root is
``SHA-256("")``. A record leaf is the 32-byte entry hash (docs/record.md, "Transparency log").

``MerkleTree`` keeps in memory only the levels at and above ``block_level`` L (the hashes of the
aligned blocks of 2^L leaves and of every subtree above them) and the leaves of the last block: 64
bytes for every 2^L leaves plus at most 64 · 2^L, where every level costs 64 bytes a leaf (ten
million entries: 640 MB; 2.5 MB at the default L = 8). Anything below L in an earlier block (a leaf,
a subtree inside a block) is computed from that block's leaf hashes, read back through the
``leaves(start, end)`` callback the tree is given and checked against the block's hash. A root reads
at most one block, an inclusion or consistency proof at most two (the leaf's or old size's block, and
that of the size proven unless it is block-aligned or the current size). Appending is amortised O(1)
and reads nothing; so does ``truncate`` (the new last block is read when next needed). Without a
callback the tree keeps every level (L = 0): the verifier of an export holds all the leaves anyway.

The blocks read back last are kept, their leaves and nodes, in a least-recently-used cache of at most
``cache_bytes`` (``BLOCK_CACHE_BYTES``, 1 MiB: 64 blocks of 256 leaves), so that proofs near the
same entries or heads (the recent ones, mostly) read and hash a block once, not at every proof. Only
complete blocks before the last are cached, each once it was checked against its hash: they cannot
change while the tree lives, so a cached block is not read or checked again (it holds what the tree
was built from, as the levels in memory do). ``truncate`` empties the cache (the leaves after the new
size may come back different); a tree rebuilt is a new tree with an empty cache. ``bytes_held``
counts the cache.

Not locked: its holder (``tlog.LogTree``) holds its lock around every call; ``bytes_held`` alone may
be read meanwhile (a gauge).

``verify_inclusion`` and ``verify_consistency`` are RFC 9162 §2.1.3.2 and §2.1.4.2. Pure: nothing but
``hashlib``.

No library: the Python packages that do this are unmaintained or tied to a blockchain; this is the
few dozen lines of the RFC.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Levels kept in memory start at this one when the tree can read leaves: blocks of 256 leaves, 1/256
#: of the 64 bytes a leaf of every level (ten million entries: 2.5 MB); a proof reads and hashes at
#: most two blocks (512 entry hashes, about twice the time of a proof from memory; at 10, five times:
#: bench/merkle_bench.py).
BLOCK_LEVEL = 8
#: Bytes of the blocks read back that a tree keeps (leaves and nodes: 64 bytes a leaf less 32, 16,352
#: a block of 256): 64 blocks at the default level, 16,384 entries' worth.
BLOCK_CACHE_BYTES = 1 << 20

#: ``leaves(start, end)``: the leaf hashes ``[start, end)`` (0-based) of the tree, in order.
LeafReader = Callable[[int, int], Sequence[bytes]]


class LeavesChanged(RuntimeError):
    """The leaves read back for a block are not those the tree was built from (a rewritten store)."""


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_leaves(leaves: Sequence[bytes]) -> None:
    if not set(map(len, leaves)) <= {HASH_BYTES}:
        raise ValueError("a leaf hash is 32 bytes")


class _Levels:
    """Every complete, aligned subtree hash of a sequence of leaf hashes (one ``bytearray`` a level:
    64 bytes a leaf in all); the whole tree when L = 0, else the upper levels or one block."""

    __slots__ = ("levels", "size")

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[bytearray] = [bytearray()]
        self.size = 0
        if leaves:
            self.extend(leaves)

    @property
    def bytes_held(self) -> int:
        return sum(len(level) for level in self.levels)

    def append(self, leaf: bytes) -> None:
        """Add one leaf, folding every subtree it completes."""
        self.levels[0] += leaf
        self.size += 1
        level, index, current = 0, self.size - 1, leaf
        while index & 1:
            left = bytes(self.levels[level][(index - 1) * HASH_BYTES : index * HASH_BYTES])
            current = node_hash(left, current)
            level += 1
            index >>= 1
            if len(self.levels) == level:
                self.levels.append(bytearray())
            self.levels[level] += current

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append several leaves in order: level by level, each new node hashed once."""
        self.levels[0] += b"".join(leaves)
        start, end = self.size, self.size + len(leaves)  # the new nodes of this level: [start, end)
        self.size = end
        sha256, level = hashlib.sha256, 0
        while end - start and end > 1:
            below = self.levels[level]
            # Parents of complete pairs touching a new node: [start // 2, end // 2).
            parents = b"".join(
                sha256(b"\x01" + below[2 * i * HASH_BYTES : (2 * i + 2) * HASH_BYTES]).digest()
                for i in range(start >> 1, end >> 1)
            )
            level += 1
            if len(self.levels) == level:
                self.levels.append(bytearray())
            self.levels[level] += parents
            start, end = start >> 1, end >> 1

    def truncate(self, size: int) -> None:
        for level, hashes in enumerate(self.levels):
            del hashes[(size >> level) * HASH_BYTES :]
        self.size = size

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree ``index`` of ``level`` (2^level leaves)."""
        offset = index * HASH_BYTES
        return bytes(self.levels[level][offset : offset + HASH_BYTES])

    def hash(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``, a range the RFC's recursion produces (aligned splits)."""
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:
            return self.node(size.bit_length() - 1, start // size)
        k = _split(size)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))


class _BlockCache:
    """The complete blocks read back last, least recently used first, at most ``limit`` of them."""

    __slots__ = ("blocks", "limit")

    def __init__(self, limit: int) -> None:
        self.blocks: OrderedDict[int, _Levels] = OrderedDict()
        self.limit = limit

    def get(self, index: int) -> _Levels | None:
        levels = self.blocks.get(index)
        if levels is not None:
            self.blocks.move_to_end(index)
        return levels

    def put(self, index: int, levels: _Levels) -> None:
        if self.limit:
            self.blocks[index] = levels
            if len(self.blocks) > self.limit:
                self.blocks.popitem(last=False)


class MerkleTree:
    """An append-only tree of leaf hashes holding the levels at and above ``block_level`` (see the
    module docstring).

    ``leaves``: reads leaf hashes back (needed for ``block_level`` > 0); ``block_level``: default
    ``BLOCK_LEVEL`` with a reader, 0 (every level in memory) without; ``cache_bytes``: the blocks read
    back kept at most (whole blocks: none when one is larger).
    """

    def __init__(
        self,
        leaf_hashes: Iterable[bytes] = (),
        *,
        leaves: LeafReader | None = None,
        block_level: int | None = None,
        cache_bytes: int = BLOCK_CACHE_BYTES,
    ) -> None:
        if block_level is None:
            block_level = 0 if leaves is None else BLOCK_LEVEL
        if block_level < 0 or (block_level and leaves is None):
            raise ValueError("a tree that keeps no leaves (block_level > 0) needs a reader of leaves")
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes is {cache_bytes}: at least 0")
        self.block_level = block_level
        self._block = 1 << block_level
        self._read = leaves
        #: Bytes of one block's leaves and nodes (the 2^(L+1) - 1 hashes of its subtree).
        self.block_bytes = (2 * self._block - 1) * HASH_BYTES
        self._cache = _BlockCache(cache_bytes // self.block_bytes if block_level else 0)
        self._upper = _Levels()  # leaf i of the upper levels: the hash of block i (complete blocks only)
        # The leaves of the block of the last leaf ([(size - 1) // block * block, size)); None: to be
        # read (after a truncate into an earlier block).
        self._tail: _Levels | None = _Levels()
        self.size = 0
        self.extend(leaf_hashes)

    @property
    def bytes_held(self) -> int:
        """Bytes of hashes held: the upper levels, the last block's leaves and nodes, the cached blocks."""
        tail = self._tail  # read without the holder's lock (a gauge): one look each
        cached = len(self._cache.blocks) * self.block_bytes
        return self._upper.bytes_held + (0 if tail is None else tail.bytes_held) + cached

    @property
    def cache_limit_blocks(self) -> int:
        """Blocks read back the tree keeps at most (``cache_bytes`` over ``block_bytes``)."""
        return self._cache.limit

    @property
    def cached_blocks(self) -> list[int]:
        """Indexes of the blocks kept, least recently used first."""
        return list(self._cache.blocks)

    # -- appending and truncating -----------------------------------------------------------
    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes): into the last block, folding the block's hash up when full."""
        if len(leaf) != HASH_BYTES:
            raise ValueError("a leaf hash is 32 bytes")
        tail = self._loaded_tail()
        if tail.size == self._block:  # the last block is complete: this leaf starts the next
            tail = self._tail = _Levels()
        tail.append(leaf)
        self.size += 1
        if tail.size == self._block:
            self._upper.append(tail.node(self.block_level, 0))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order (what ``append`` one by one would build, faster)."""
        leaves = leaf_hashes if isinstance(leaf_hashes, list) else list(leaf_hashes)
        if not leaves:
            return
        _check_leaves(leaves)
        block, tail = self._block, self._loaded_tail()
        completed: list[bytes] = []
        taken = 0
        if tail.size % block:  # fill the last block first
            taken = min(block - tail.size, len(leaves))
            tail.extend(leaves[:taken])
            if tail.size == block:
                completed.append(tail.node(self.block_level, 0))
        if taken < len(leaves):
            last = taken + (len(leaves) - taken - 1) // block * block  # where the new last block starts
            if block == 1:
                completed += leaves[taken:last]
            else:
                completed += (
                    _Levels(leaves[i : i + block]).node(self.block_level, 0) for i in range(taken, last, block)
                )
            tail = self._tail = _Levels(leaves[last:])
            if tail.size == block:
                completed.append(tail.node(self.block_level, 0))
        self._upper.extend(completed)
        self.size += len(leaves)

    def truncate(self, size: int) -> None:
        """Forget every leaf from ``size`` on (a write that did not commit). Reads nothing: should
        ``size`` end in an earlier block than the last, that block is read when next needed."""
        if not 0 <= size <= self.size:
            raise ValueError(f"cannot truncate a tree of {self.size} leaves to {size}")
        if size == self.size:
            return
        block = self._block
        self._cache.blocks.clear()
        self._upper.truncate(size // block)
        if size == 0:
            self._tail = _Levels()
        elif self._tail is not None and (size - 1) // block == (self.size - 1) // block:
            self._tail.truncate(size - (size - 1) // block * block)
        else:
            self._tail = None
        self.size = size

    def _loaded_tail(self) -> _Levels:
        if self._tail is None:
            if self.block_level == 0:  # a block is one leaf: the upper levels hold it
                self._tail = _Levels([self._upper.node(0, self.size - 1)])
            else:
                start = (self.size - 1) // self._block * self._block
                self._tail = self._read_block(start, self.size)
        return self._tail

    def _read_block(self, start: int, end: int) -> _Levels:
        """Leaves ``[start, end)`` of one block, read back; checked against the block's hash when whole."""
        assert self._read is not None, "block_level > 0 comes with a reader"
        leaves = list(self._read(start, end))
        if len(leaves) != end - start:
            raise LeavesChanged(f"leaves {start}..{end - 1}: {len(leaves)} read back, not {end - start}")
        _check_leaves(leaves)
        levels = _Levels(leaves)
        if end - start == self._block and levels.node(self.block_level, 0) != self._upper.node(0, start // self._block):
            raise LeavesChanged(f"leaves {start}..{end - 1}: not those the tree was built from")
        return levels

    # -- hashes, roots and proofs ------------------------------------------------------------
    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index`` (0-based; reads its block unless it is in the last one)."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} is not in a tree of {self.size} leaves")
        return self._hash(index, index + 1, {})

    def last_leaf(self) -> bytes | None:
        """The last leaf hash (None when empty): held in memory (read only after a truncate)."""
        if self.size == 0:
            return None
        tail = self._loaded_tail()
        return tail.node(0, tail.size - 1)

    def _block_levels(self, index: int, read: dict[int, _Levels]) -> _Levels:
        """The leaves and nodes of block ``index``: the last one's in memory, another from the cache or
        read (then cached), once per call."""
        if index == (self.size - 1) >> self.block_level:
            return self._loaded_tail()
        levels = read.get(index)
        if levels is None:
            levels = self._cache.get(index)
            if levels is None:  # a complete block (it is before the last): checked, then kept
                start = index << self.block_level
                levels = self._read_block(start, start + self._block)
                self._cache.put(index, levels)
            read[index] = levels
        return levels

    def _hash(self, start: int, end: int, read: dict[int, _Levels]) -> bytes:
        """MTH of leaves ``[start, end)``, a range the RFC's recursion produces: ``start`` is a multiple
        of a power of two at least ``end - start``, so a range shorter than a block is inside one."""
        size, level = end - start, self.block_level
        if size < self._block:
            index = start >> level
            return self._block_levels(index, read).hash(start - (index << level), end - (index << level))
        if size & (size - 1) == 0:
            return self._upper.node(size.bit_length() - 1 - level, start // size)
        k = _split(size)
        return node_hash(self._hash(start, start + k, read), self._hash(start + k, end, read))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is not between 0 and {self.size}")

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._hash(0, size, {})

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")
        proof: list[bytes] = []
        read: dict[int, _Levels] = {}
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._hash(start + k, end, read))
                end = start + k
            else:
                proof.append(self._hash(start, start + k, read))
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
        return self._subproof(old_size, 0, new_size, True, {})

    def _subproof(self, m: int, start: int, end: int, complete: bool, read: dict[int, _Levels]) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._hash(start, end, read)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete, read), self._hash(start + k, end, read)]
        return [*self._subproof(m - k, start + k, end, False, read), self._hash(start, start + k, read)]


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
