"""The Merkle tree's cache of blocks read back: proofs byte for byte those of the tree without it (and
of the oracle), fewer reads of the store (none for a second proof of the same region), at most its
bound of blocks, least recently used out first, and emptied by a truncate. The ledger's tree on both
stores: tests/record/test_record_merkle_blocks.py."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.ledger.merkle import BLOCK_CACHE_BYTES, MerkleTree
from merkleoracle import FullTree, Leaves, make_leaf


def _block_bytes(block_level: int) -> int:
    return 32 * (2 * (1 << block_level) - 1)


def _leaves(hashes: list[bytes]) -> Leaves:
    leaves = Leaves()
    leaves.hashes = list(hashes)
    return leaves


def _tree(leaves: Leaves, block_level: int = 2, **cache: int) -> MerkleTree:
    tree = MerkleTree(leaves=leaves, block_level=block_level, **cache)
    tree.extend(leaves.hashes)
    return tree


def _blocks_read(leaves: Leaves, block_level: int = 2) -> list[int]:
    """The blocks read since the log was cleared (each read is inside one block)."""
    return [start >> block_level for start, _ in leaves.reads]


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("extend"), st.integers(0, 30)),
        st.tuples(st.just("truncate"), st.floats(0, 1)),  # to that fraction of the size
        st.tuples(st.just("prove"), st.integers(1, 12)),  # that many proofs, of any kind
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.sampled_from([1, 2, 3, None]), _STEPS, st.randoms(use_true_random=False))
def test_proofs_with_the_cache_are_those_without_it_and_read_no_more(
    block_level: int, cache_blocks: int | None, steps: list[tuple[str, float]], rng: random.Random
) -> None:
    cache = {} if cache_blocks is None else {"cache_bytes": cache_blocks * _block_bytes(block_level)}
    cached_reads, plain_reads = Leaves(), Leaves()
    cached = MerkleTree(leaves=cached_reads, block_level=block_level, **cache)
    plain = MerkleTree(leaves=plain_reads, block_level=block_level, cache_bytes=0)
    limit = cached.cache_limit_blocks
    assert plain.cache_limit_blocks == 0 and limit == (cache_blocks or BLOCK_CACHE_BYTES // _block_bytes(block_level))
    oracle, count = FullTree(), 0
    for step, amount in steps:
        if step == "extend":
            new = [make_leaf(count + i) for i in range(int(amount))]
            count += len(new)  # leaves after a truncate are new ones: a stale block would show
            for store in (cached_reads, plain_reads):
                store.hashes += new
            cached.extend(new)
            plain.extend(new)
            for leaf in new:
                oracle.append(leaf)
        elif step == "truncate":
            before, kept = cached.size, cached.cached_blocks
            size = int(before * amount)
            for tree, store in ((cached, cached_reads), (plain, plain_reads)):
                tree.truncate(size)
                del store.hashes[size:]
            oracle.truncate(size)
            # a truncate that removes leaves empties the cache; one to the same size changes nothing
            assert cached.cached_blocks == ([] if size < before else kept)
        else:
            for _ in range(int(amount) if oracle.size else 0):
                size = rng.randint(1, oracle.size)
                index, old = rng.randrange(size), rng.randint(0, size)
                proofs = [
                    (tree.root(size), tree.inclusion_proof(index, size), tree.consistency_proof(old, size))
                    for tree in (cached, plain)
                ]
                assert proofs[0] == proofs[1]
                assert proofs[0] == (
                    oracle.root(size),
                    oracle.inclusion_proof(index, size),
                    oracle.consistency_proof(old, size),
                )
                assert cached.leaf(index) == plain.leaf(index) == oracle.hash(index, index + 1)
        assert len(cached.cached_blocks) <= limit
        assert len(cached_reads.reads) <= len(plain_reads.reads)
        upper_and_tail = plain.bytes_held
        assert cached.bytes_held == upper_and_tail + len(cached.cached_blocks) * _block_bytes(block_level)


def test_a_second_proof_of_the_same_region_reads_nothing() -> None:
    leaves = _leaves([make_leaf(i) for i in range(40)])
    tree = _tree(leaves)  # blocks of 4, the default cache
    assert tree.inclusion_proof(5, 30) == FullTree(leaves.hashes).inclusion_proof(5, 30)
    assert sorted(_blocks_read(leaves)) == [1, 7], "the leaf's block, and the one the size 30 ends in"
    leaves.reads.clear()
    assert tree.inclusion_proof(5, 30) == FullTree(leaves.hashes).inclusion_proof(5, 30)
    tree.inclusion_proof(6, 30)  # a neighbour, in the same block
    tree.consistency_proof(6, 30)  # the same two blocks
    tree.root(30)
    assert leaves.reads == [], "the blocks read by the first proof are kept"


def test_without_the_cache_every_proof_reads_its_blocks_again() -> None:
    leaves = _leaves([make_leaf(i) for i in range(40)])
    tree = _tree(leaves, cache_bytes=0)
    tree.inclusion_proof(5, 30)
    leaves.reads.clear()
    tree.inclusion_proof(5, 30)
    assert sorted(_blocks_read(leaves)) == [1, 7]
    assert tree.cached_blocks == [] and tree.cache_limit_blocks == 0


def test_the_cache_keeps_at_most_its_bound_least_recently_used_out_first() -> None:
    leaves = _leaves([make_leaf(i) for i in range(40)])
    tree = _tree(leaves, cache_bytes=2 * _block_bytes(2) + _block_bytes(2) - 1)  # room for 2 blocks, not 3
    assert tree.cache_limit_blocks == 2
    for index in (0, 4, 8):  # blocks 0, 1, 2 (each proof at the full size reads its leaf's block only)
        tree.inclusion_proof(index, 40)
    assert tree.cached_blocks == [1, 2]
    leaves.reads.clear()
    tree.inclusion_proof(5, 40)  # block 1 used: now the most recent
    assert leaves.reads == [] and tree.cached_blocks == [2, 1]
    tree.inclusion_proof(12, 40)  # block 3 read: block 2 goes
    assert _blocks_read(leaves) == [3] and tree.cached_blocks == [1, 3]
    assert tree.bytes_held == MerkleTree(leaves.hashes, leaves=leaves, block_level=2).bytes_held + 2 * _block_bytes(2)


def test_the_last_block_is_never_cached_and_a_block_larger_than_the_bound_not_at_all() -> None:
    leaves = _leaves([make_leaf(i) for i in range(22)])  # the last block, 5, holds two leaves
    tree = _tree(leaves)
    tree.inclusion_proof(21, 22)
    tree.inclusion_proof(20, 21)
    assert leaves.reads == [] and tree.cached_blocks == []  # the last block is in memory
    tree.truncate(19)  # into block 4: read back (two leaves of it now), and not kept
    assert tree.last_leaf() == leaves.hashes[18] and _blocks_read(leaves) == [4]
    assert tree.cached_blocks == []
    assert _tree(leaves, block_level=2, cache_bytes=_block_bytes(2) - 1).cache_limit_blocks == 0
    with pytest.raises(ValueError, match="cache_bytes"):
        MerkleTree(leaves=leaves, block_level=2, cache_bytes=-1)


def test_a_truncate_empties_the_cache_so_leaves_written_again_are_read_again() -> None:
    leaves = _leaves([make_leaf(i) for i in range(20)])
    tree = _tree(leaves)
    tree.inclusion_proof(13, 20)
    tree.inclusion_proof(5, 20)
    assert tree.cached_blocks == [3, 1]
    tree.truncate(10)  # a write that did not commit: blocks 2 on may come back different
    assert tree.cached_blocks == [] and tree.bytes_held <= 64 * (10 // 4) + 64 * 4
    del leaves.hashes[10:]
    other = [make_leaf(100 + i) for i in range(10)]
    leaves.hashes += other
    tree.extend(other)
    leaves.reads.clear()
    assert tree.inclusion_proof(13, 20) == FullTree(leaves.hashes).inclusion_proof(13, 20)
    assert _blocks_read(leaves) == [3], "block 3 is read again: its leaves are new"
