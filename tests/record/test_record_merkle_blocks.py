"""The Merkle tree that keeps only the levels from ``block_level`` up: the same roots and proofs as the
tree that keeps every level (the oracle, tests/merkleoracle.py), a bounded memory, and the ledger's tree in step with
the store through rollbacks, rewrites and catching up, on both stores."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.ledger import Ledger, LedgerConfig
from keepclear.ledger import tlog as tlog_module
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.canonical import b64encode
from keepclear.ledger.merkle import BLOCK_CACHE_BYTES, BLOCK_LEVEL, EMPTY_ROOT, LeavesChanged, MerkleTree, leaf_hash
from keepclear.ledger.note import parse_note
from keepclear.ledger.proofs import verify_proof
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import ledger as store
from merkleoracle import FullTree, Leaves, make_leaf


def _one_block_each(reads: list[tuple[int, int]], block_level: int) -> bool:
    block = 1 << block_level
    return all(0 < end - start <= block and start // block == (end - 1) // block for start, end in reads)


# -- property tests against the oracle --------------------------------------------------------------
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 5)),  # that many appends, one by one
        st.tuples(st.just("extend"), st.integers(0, 40)),
        st.tuples(st.just("truncate"), st.floats(0, 1)),  # to that fraction of the size
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.sampled_from([0, 1, 2, None]), _OPERATIONS, st.randoms(use_true_random=False))
def test_roots_and_proofs_are_those_of_the_full_tree(
    block_level: int, cache_blocks: int | None, operations: list[tuple[str, float]], rng: random.Random
) -> None:
    """With no cache of blocks read back, one or two blocks (evicting at every proof), or the default."""
    leaves, oracle = Leaves(), FullTree()
    block_bytes = 32 * (2 * (1 << block_level) - 1)
    cache = {} if cache_blocks is None else {"cache_bytes": cache_blocks * block_bytes}
    tree = MerkleTree(leaves=leaves, block_level=block_level, **cache)
    limit = tree.cache_limit_blocks
    assert limit == (BLOCK_CACHE_BYTES // block_bytes if cache_blocks is None else cache_blocks)
    count = 0
    for operation, amount in operations:
        truncated_into_an_earlier_block = False
        if operation == "truncate":
            size = int(tree.size * amount)
            truncated_into_an_earlier_block = size > 0 and (size - 1) >> block_level != (tree.size - 1) >> block_level
            tree.truncate(size)
            oracle.truncate(size)
            del leaves.hashes[size:]
        else:
            new = [make_leaf(count + i) for i in range(int(amount))]
            count += len(new)
            leaves.hashes += new
            leaves.reads.clear()
            if operation == "append":
                for leaf in new:
                    tree.append(leaf)
            else:
                tree.extend(new)
            for leaf in new:
                oracle.append(leaf)
            assert len(leaves.reads) <= 1, "appending reads at most the last block, once, after a truncate"
        assert tree.size == oracle.size == len(leaves.hashes)
        n = tree.size
        assert len(tree.cached_blocks) <= limit
        assert tree.bytes_held <= 64 * (n >> block_level) + 64 * (1 << block_level) + limit * block_bytes
        leaves.reads.clear()
        assert tree.last_leaf() == (leaves.hashes[-1] if n else None)
        assert len(leaves.reads) <= (1 if truncated_into_an_earlier_block else 0)
        if not n:
            assert tree.root() == EMPTY_ROOT
            continue
        for size in {n, rng.randint(1, n), rng.randint(1, n)}:
            leaves.reads.clear()
            assert tree.root(size) == oracle.root(size)
            assert len(leaves.reads) <= 1 and _one_block_each(leaves.reads, block_level)
            for index in {0, size - 1, rng.randrange(size)}:
                leaves.reads.clear()
                assert tree.inclusion_proof(index, size) == oracle.inclusion_proof(index, size)
                assert len(leaves.reads) <= 2 and _one_block_each(leaves.reads, block_level)
                assert tree.leaf(index) == leaves.hashes[index]
            for old in {1, size, rng.randint(1, size)}:
                leaves.reads.clear()
                assert tree.consistency_proof(old, size) == oracle.consistency_proof(old, size)
                assert len(leaves.reads) <= 2 and _one_block_each(leaves.reads, block_level)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.lists(st.integers(0, 20), min_size=1, max_size=4))
def test_every_size_and_pair_matches_the_full_tree(block_level: int, chunks: list[int]) -> None:
    leaves = Leaves()
    tree = MerkleTree(leaves=leaves, block_level=block_level)
    for chunk in chunks:
        new = [make_leaf(len(leaves.hashes) + i) for i in range(chunk)]
        leaves.hashes += new
        tree.extend(new)
    oracle = FullTree(leaves.hashes)
    for size in range(1, tree.size + 1):
        assert tree.root(size) == oracle.root(size)
        for index in range(size):
            assert tree.inclusion_proof(index, size) == oracle.inclusion_proof(index, size)
        for old in range(size + 1):
            assert tree.consistency_proof(old, size) == oracle.consistency_proof(old, size)
    if block_level == 0:
        assert not leaves.reads, "a tree of every level reads nothing back"


def test_the_default_block_level_and_a_tree_without_a_reader() -> None:
    assert MerkleTree(leaves=lambda start, end: []).block_level == BLOCK_LEVEL == 8
    assert MerkleTree().block_level == 0
    with pytest.raises(ValueError, match="needs a reader"):
        MerkleTree(block_level=3)


def test_leaves_read_back_that_are_not_the_trees_are_refused() -> None:
    leaves = Leaves()
    leaves.hashes = [make_leaf(i) for i in range(20)]
    tree = MerkleTree(leaves.hashes, leaves=leaves, block_level=2)
    leaves.hashes[5] = make_leaf(999)  # the store was rewritten inside block 1
    with pytest.raises(LeavesChanged, match="not those the tree was built from"):
        tree.inclusion_proof(4, 20)
    del leaves.hashes[10:]
    tree.truncate(11)  # into block 2, whose leaves are now missing
    with pytest.raises(LeavesChanged, match="read back"):
        tree.last_leaf()


# -- memory -------------------------------------------------------------------------------------------
def _held_bytes(build: Callable[[], object]) -> tuple[object, int]:
    """What ``build()`` returns and the bytes it still holds once built (traced allocations)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = build()
        gc.collect()
        return built, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("by", ["append", "extend"])
def test_the_memory_held_is_bounded_by_the_block_level(by: str) -> None:
    """64 bytes for every 2^L leaves, the last block's 64 · 2^L, and a few objects: not 64 bytes a leaf."""
    n, block_level = 50_000, 3
    hashes = [make_leaf(i) for i in range(n)]

    def build() -> MerkleTree:
        tree = MerkleTree(leaves=lambda start, end: hashes[start:end], block_level=block_level)
        if by == "append":
            for leaf in hashes:
                tree.append(leaf)
        else:
            for start in range(0, n, 999):
                tree.extend(hashes[start : start + 999])
        return tree

    tree, held = _held_bytes(build)
    assert isinstance(tree, MerkleTree) and tree.size == n
    bound = 64 * n // (1 << block_level) + 64 * (1 << block_level)
    assert tree.bytes_held <= bound
    slack = 4096  # the tree's objects, a bytearray per level, over-allocation of the last ones
    assert held <= bound * 1.15 + slack, f"{held} bytes held for {n} leaves (bound {bound}): not {64 * n} any more"
    assert tree.root() == FullTree(hashes).root(n)


# -- the ledger's tree, small blocks, on each store ---------------------------------------------------
#: Two blocks of 4 leaves: 7 hashes (4 leaves, 2 + 1 nodes) each.
SMALL_CACHE_BYTES = 2 * 7 * 32


@pytest.fixture
def small_blocks(deployment: Deployment, tmp_path: Path) -> Ledger:
    """A ledger whose tree keeps blocks of 4 entries and at most 2 blocks read back (so that proofs
    evict), checkpoints every 3 entries (batch signing)."""
    config = LedgerConfig(checkpoint_every_entries=3, tree_block_level=2, tree_cache_bytes=SMALL_CACHE_BYTES)
    return open_ledger(deployment.db, deployment.clock, tmp_path / "blocks", config=config)


def _drafts(n: int, tag: str) -> list[EntryDraft]:
    return [EntryDraft("alert.raised", None, {"alert_id": f"{tag}{i}"}, None, ["a", "b"]) for i in range(n)]


def _stored_tree(ledger: Ledger) -> FullTree:
    with ledger._db.read() as conn:
        return FullTree([leaf_hash(bytes.fromhex(h)) for h in store.leaf_hashes(conn, 1)])


def _signed_heads(ledger: Ledger) -> list[tuple[int, str]]:
    """Every signed tree head of ``ledger`` (size, note), oldest first, read from its store."""
    with ledger._db.read() as conn:
        rows = store.checkpoints_page(conn, after_seq=0, until_seq=2**62, limit=2**31)
    return [(row.seq, row.note) for row in rows if row.note is not None]


def _assert_matches_the_store(ledger: Ledger) -> None:
    """Every signed head's root, some inclusion proofs and consistency proofs equal the oracle's."""
    oracle = _stored_tree(ledger)
    heads = _signed_heads(ledger)
    for seq, note in heads:
        assert parse_note(note).head.root == oracle.root(seq), seq
    size = heads[-1][0]
    for seq in sorted({1, 2, size // 2 or 1, size}):
        document = ledger.inclusion_proof(seq, tree_size=size)
        assert document["proof"] == [b64encode(h) for h in oracle.inclusion_proof(seq - 1, size)]
        assert verify_proof(document).ok
    for old in sorted({1, size // 3 or 1, size - 1 or 1}):
        assert ledger.consistency_hashes(old, oracle.size) == oracle.consistency_proof(old, oracle.size)
    assert ledger.tree_leaves == oracle.size


def test_the_ledger_proves_across_blocks(small_blocks: Ledger) -> None:
    small_blocks.append_many(_drafts(13, "a"))
    for i in range(6):
        small_blocks.append("message.posted", None, {"i": i})
    small_blocks.checkpoint()
    _assert_matches_the_store(small_blocks)
    assert small_blocks.tree_bytes <= 64 * (small_blocks.tree_leaves // 4) + 64 * 4 + SMALL_CACHE_BYTES


def test_a_write_that_does_not_commit_truncates_the_tree(small_blocks: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    small_blocks.append_many(_drafts(6, "a"))
    size = small_blocks.tree_leaves
    small_blocks.inclusion_proof(1, tree_size=small_blocks.latest_head().seq)
    assert _cached(small_blocks) == [0]
    # The whole transaction fails after its batch crossed two blocks.
    with pytest.raises(RuntimeError, match="no commit"), small_blocks.writing() as conn:
        small_blocks.append_many_in(conn, _drafts(9, "b"))
        assert small_blocks.tree_leaves == size + 9
        raise RuntimeError("no commit")
    assert small_blocks.tree_leaves == size
    assert _cached(small_blocks) == [], "a truncate empties the cache of blocks"
    # A batch fails inside a transaction that goes on (the record's one-by-one retry).
    with small_blocks.writing() as conn:
        small_blocks.append_many_in(conn, _drafts(2, "c"))
        kept = small_blocks.tree_leaves
        with monkeypatch.context() as patch:
            patch.setattr(store, "insert_entry_rows", _refuse)
            with pytest.raises(RuntimeError, match="refused"), conn.begin_nested():
                small_blocks.append_many_in(conn, _drafts(7, "d"))
        assert small_blocks.tree_leaves == kept
        small_blocks.append_many_in(conn, _drafts(3, "e"))
    small_blocks.checkpoint()
    _assert_matches_the_store(small_blocks)


def _refuse(conn: object, rows: object, refs: object = ()) -> None:
    raise RuntimeError("refused")


def _cached(ledger: Ledger) -> list[int]:
    """The blocks the ledger's tree keeps (read back), least recently used first."""
    return ledger._tlog.tree.cached_blocks


def test_a_rewritten_store_rebuilds_the_tree(small_blocks: Ledger, deployment: Deployment) -> None:
    small_blocks.append_many(_drafts(17, "a"))
    small_blocks.checkpoint()
    small_blocks.inclusion_proof(7, tree_size=small_blocks.latest_head().seq)
    assert 1 in _cached(small_blocks)  # entries 5 to 8, rewritten below
    with deployment.db.write() as conn:  # the operator rewrites history from seq 7 on
        hashes = store.leaf_hashes(conn, 1)
        conn.execute(store.ledger_entries.delete().where(store.ledger_entries.c.seq >= 7))
        conn.execute(store.ledger_checkpoints.delete().where(store.ledger_checkpoints.c.seq >= 7))
        conn.execute(store.ledger_head.update().values(seq=6, hash=hashes[5], checkpoint_seq=6))
    small_blocks.append_many(_drafts(15, "rewritten"))
    assert _cached(small_blocks) == [], "the tree rebuilt keeps no block of the one before"
    small_blocks.checkpoint()
    size, oracle = small_blocks.latest_head().seq, _stored_tree(small_blocks)
    document = small_blocks.inclusion_proof(7, tree_size=size)  # block 1, kept before the rewrite: read again
    assert document["proof"] == [b64encode(h) for h in oracle.inclusion_proof(6, size)]
    _assert_matches_the_store(small_blocks)


def test_a_second_proof_of_the_same_region_reads_no_block(
    small_blocks: Ledger, reads: list[tuple[int, int | None]]
) -> None:
    small_blocks.append_many(_drafts(30, "a"))
    small_blocks.checkpoint()
    sizes = [seq for seq, _ in _signed_heads(small_blocks)]
    latest, older = sizes[-1], next(s for s in reversed(sizes) if s % 4 and s <= sizes[-1] - 8)

    def blocks_read() -> list[tuple[int, int | None]]:
        return [r for r in reads if r[1] is not None and r[1] - r[0] <= 4]  # the sync's look is 4,096

    for prove in (
        lambda: small_blocks.inclusion_proof(2, tree_size=older),  # an older head: its last block too
        lambda: small_blocks.inclusion_proof(3, tree_size=older),  # a neighbour
        lambda: small_blocks.consistency_proof(older, latest),
        lambda: small_blocks.consistency_hashes(older - 1, latest),
    ):
        reads.clear()
        first = prove()
        assert len(blocks_read()) <= 2
        reads.clear()
        assert prove() == first
        assert blocks_read() == [], "the blocks of the first proof are kept"
    assert len(_cached(small_blocks)) == 2  # the bound: two blocks of 4
    with small_blocks._db.read() as conn:
        hashes = [leaf_hash(bytes.fromhex(h)) for h in store.leaf_hashes(conn, 1)]
    uncached = MerkleTree(hashes, leaves=lambda start, end: [], block_level=2).bytes_held
    assert small_blocks.tree_bytes == uncached + SMALL_CACHE_BYTES, "the gauge counts the blocks kept"


def test_another_process_catches_up_a_chunk_at_a_time(
    small_blocks: Ledger, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tlog_module, "SYNC_CHUNK_ENTRIES", 5)
    small_blocks.append_many(_drafts(23, "a"))
    small_blocks.checkpoint()
    other = Ledger(small_blocks._db, small_blocks._keys, deployment.clock, small_blocks._config)
    assert other.tree_leaves == 0
    _assert_matches_the_store(other)  # built from the store at its first proof
    small_blocks.append_many(_drafts(11, "b"))
    small_blocks.checkpoint()
    _assert_matches_the_store(other)  # caught up


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int | None]]]:
    """Every ``leaf_hashes`` range the ledger reads."""
    seen: list[tuple[int, int | None]] = []
    real = store.leaf_hashes

    def logged(conn: object, from_seq: int, until_seq: int | None = None) -> list[str]:
        seen.append((from_seq, until_seq))
        return real(conn, from_seq, until_seq)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "leaf_hashes", logged)
    yield seen


def test_appends_read_no_leaves_and_a_proof_at_most_two_blocks(
    small_blocks: Ledger, reads: list[tuple[int, int | None]]
) -> None:
    small_blocks.append("message.posted", None, {"i": 0})  # genesis: the tree is built (empty store)
    reads.clear()
    for i in range(9):
        small_blocks.append("message.posted", None, {"i": i})
    small_blocks.append_many(_drafts(20, "a"))
    assert reads == [], "the write path reads no leaves"
    head = small_blocks.latest_head().seq
    reads.clear()
    small_blocks.inclusion_proof(5, tree_size=head)
    blocks = [r for r in reads if r[1] is not None and r[1] - r[0] == 4]
    assert len(blocks) <= 2 and len(reads) - len(blocks) == 1  # the blocks, and the sync's one look


def test_a_block_rewritten_under_the_tree_fails_the_proof_and_the_tree_is_rebuilt(
    small_blocks: Ledger, deployment: Deployment
) -> None:
    small_blocks.append_many(_drafts(17, "a"))
    head = small_blocks.latest_head().seq
    with deployment.db.write() as conn:  # an entry inside block 1 changes; the last one does not
        conn.execute(store.ledger_entries.update().where(store.ledger_entries.c.seq == 6).values(hash="ab" * 32))
    with pytest.raises(LeavesChanged):
        small_blocks.inclusion_proof(5, tree_size=head)
    assert small_blocks.tree_leaves == 0
    assert small_blocks.consistency_hashes(5, head) == _stored_tree(small_blocks).consistency_proof(5, head)
