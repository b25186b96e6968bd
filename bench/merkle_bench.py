"""The record's Merkle tree: memory per entry, proof and append times, this code against anchors.

    git archive 8751c8f src | tar -x -C /tmp/anchor-merkle     # an anchor: every level in memory
    git archive 967b2e1 src | tar -x -C /tmp/anchor-967        # another: blocks, no cache of them
    .venv/bin/python bench/merkle_bench.py [--entries 200000] [--store sqlite] [--block-levels 8,10]
        [--cache-kib 1024] [--anchor /tmp/anchor-merkle/src [--anchor /tmp/anchor-967/src]] [--proofs 300]

One ledger of ``--entries`` entries (batch signing, a signed head every 100) is written once, then
each side (each anchor at its defaults, and this code at each of ``--block-levels`` with each of
``--cache-kib`` KiB of blocks read back kept, ``LedgerConfig.tree_cache_bytes``) opens it in a fresh
process:

- **sync**: the first proof builds the tree from the store (s), and what that costs in memory, traced
  (``tracemalloc``): bytes still held afterwards per entry (the tree), and the peak while building;
- **proofs** through the ledger's API, mean CPU µs of the process: an inclusion proof at the latest signed head of a
  random entry, one at a random older signed head (its last block read too), a consistency proof
  between a random signed head and the latest, ``consistency_hashes`` from a random size; then
  proofs near the head, as clients mostly ask (the blocks they read are those a cache keeps): an
  inclusion proof of one of the last 2,560 entries at the latest head, one of the 2,560 entries
  before one of the last 20 signed heads at that head, a consistency proof from one of those heads to
  the latest; and the tree's bytes (``ledger_tree_bytes``) after them all;
- **appends** afterwards (every side in turn, on the same store): CPU µs an entry in batches of
  1,000, and one entry a transaction.

Figures are of this machine at the time (one process at a time; the load average is printed).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, NamedTuple

from benchdb import fresh_database

from keepclear.ledger import LedgerConfig
from keepclear.ledger.book import EntryDraft
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate

SRC = Path(__file__).resolve().parents[1] / "src"
#: Proofs "near the head": of the last this many entries (10 blocks of 256), at one of the last signed heads.
NEAR_ENTRIES = 2560
RECENT_HEADS = 20
PARTIES = ["coalition", "russia"]
CLOCK_S = 1_764_720_000.0


class Side(NamedTuple):
    """One side of the comparison: its name, its keepclear's src folder, and this code's tree (None: the
    side's defaults)."""

    name: str
    path: str
    block_level: int | None
    cache_bytes: int | None


def _draft(i: int) -> EntryDraft:
    return EntryDraft("alert.raised", None, {"alert_id": f"al-{i:07d}", "level": "warning"}, None, PARTIES)


def write_ledger(url: str, keys: Path, entries: int) -> None:
    """``entries`` entries (genesis included) appended in batches of 5,000."""
    db = Database(url)
    migrate(db)
    ledger = open_ledger(db, ManualClock(CLOCK_S), keys)
    ledger.append("party.added", None, {"party_id": "coalition"})
    done = ledger.latest_head().seq
    while done < entries:
        ledger.append_many([_draft(done + i) for i in range(min(5000, entries - done))])
        done = ledger.latest_head().seq
    db.dispose()


def _open(url: str, keys: Path, block_level: int | None, cache_bytes: int | None) -> Any:
    """The ledger at ``url``: an anchor's defaults (``block_level`` None), else this code's tree."""
    if block_level is None:
        config = LedgerConfig()
    elif cache_bytes is None:
        config = LedgerConfig(tree_block_level=block_level)
    else:
        config = LedgerConfig(tree_block_level=block_level, tree_cache_bytes=cache_bytes)
    return open_ledger(Database(url), ManualClock(CLOCK_S), keys, config=config)


def _signed_sizes(url: str) -> list[int]:
    """The tree sizes that have a signed head, in order (read here: the ledger serves one at a time)."""
    db = Database(url)
    try:
        with db.read() as conn:
            query = "SELECT seq FROM ledger_checkpoints WHERE note IS NOT NULL ORDER BY seq"
            return [int(seq) for seq in conn.exec_driver_sql(query).scalars()]
    finally:
        db.dispose()


def _mean_us(calls: list[Any]) -> float:
    """Mean CPU µs of this process a call (the machine may be shared; SQLite runs in this process)."""
    start = time.process_time()
    for call in calls:
        call()
    return (time.process_time() - start) / len(calls) * 1e6


def read_side(url: str, keys: Path, block_level: int | None, cache_bytes: int | None, proofs: int) -> dict[str, Any]:
    """Sync time and memory, then proof times (see the module docstring)."""
    ledger = _open(url, keys, block_level, cache_bytes)
    heads = _signed_sizes(url)
    size = heads[-1]
    start = time.perf_counter()
    ledger.consistency_hashes(size, size)  # the first look builds the tree
    sync_s = time.perf_counter() - start

    gc.collect()
    tracemalloc.start()
    other = _open(url, keys, block_level, cache_bytes)
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    other.consistency_hashes(size, size)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    rng = random.Random(1)
    seqs = [rng.randint(1, size) for _ in range(proofs)]
    older = [rng.choice(heads[:-1]) for _ in range(proofs)]
    near = [rng.randint(max(1, size - NEAR_ENTRIES), size) for _ in range(proofs)]
    recent = [rng.choice(heads[-RECENT_HEADS:-1]) for _ in range(proofs)]
    result = {
        "entries": size,
        "sync_s": sync_s,
        "held_bytes": held - before,
        "peak_bytes": peak - before,
        "tree_bytes": getattr(other, "tree_bytes", None),
        "inclusion_us": _mean_us([lambda s=s: ledger.inclusion_proof(s, tree_size=size) for s in seqs]),
        "inclusion_older_us": _mean_us(
            [lambda h=h: ledger.inclusion_proof(rng.randint(1, h), tree_size=h) for h in older]
        ),
        "consistency_us": _mean_us([lambda h=h: ledger.consistency_proof(h, size) for h in older]),
        "hashes_us": _mean_us([lambda s=s: ledger.consistency_hashes(s, size) for s in seqs]),
        "near_us": _mean_us([lambda s=s: ledger.inclusion_proof(s, tree_size=size) for s in near]),
        "near_older_us": _mean_us(
            [lambda h=h: ledger.inclusion_proof(rng.randint(max(1, h - NEAR_ENTRIES), h), tree_size=h) for h in recent]
        ),
        "near_consistency_us": _mean_us([lambda h=h: ledger.consistency_proof(h, size) for h in recent]),
    }
    result["tree_bytes_after"] = getattr(ledger, "tree_bytes", None)
    return result


def append_side(url: str, keys: Path, block_level: int | None, cache_bytes: int | None) -> dict[str, Any]:
    """CPU µs an entry appending 20,000 in batches of 1,000, and 300 one a transaction."""
    ledger = _open(url, keys, block_level, cache_bytes)
    ledger.append("message.posted", None, {"text": "warm up"})  # builds the tree
    base = ledger.latest_head().seq
    drafts = [_draft(base + i) for i in range(20_000)]
    batch_us = _mean_us([lambda o=o: ledger.append_many(drafts[o : o + 1000]) for o in range(0, 20_000, 1000)]) / 1000
    single_us = _mean_us([lambda i=i: ledger.append("message.posted", None, {"i": i}) for i in range(300)])
    return {"batch_us": batch_us, "single_us": single_us}


def _run_side(mode: str, side: Side, url: str, keys: Path, proofs: int) -> dict[str, Any]:
    """One side in a fresh process with ``side.path`` as its keepclear."""
    argv = [sys.executable, __file__, "--worker", mode, "--url", url, "--keys", str(keys), "--proofs", str(proofs)]
    if side.block_level is not None:
        argv += ["--worker-block-level", str(side.block_level)]
    if side.cache_bytes is not None:
        argv += ["--worker-cache-bytes", str(side.cache_bytes)]
    path = side.path
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--block-levels", default="8,10")
    parser.add_argument("--cache-kib", default="1024", help="KiB of blocks this code's tree keeps, comma-separated")
    parser.add_argument("--anchor", action="append", help="an anchor's src folder (repeatable; /tmp/anchor-merkle/src)")
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--worker", choices=["read", "append"])
    parser.add_argument("--worker-block-level", type=int)
    parser.add_argument("--worker-cache-bytes", type=int)
    parser.add_argument("--url")
    parser.add_argument("--keys", type=Path)
    args = parser.parse_args()
    if args.worker:
        level, cache = args.worker_block_level, args.worker_cache_bytes
        if args.worker == "read":
            print(json.dumps(read_side(args.url, args.keys, level, cache, args.proofs)))
        else:
            print(json.dumps(append_side(args.url, args.keys, level, cache)))
        return

    anchors = args.anchor or ["/tmp/anchor-merkle/src"]
    sides = [Side(f"anchor {Path(path).parent.name}", path, None, None) for path in anchors]
    sides += [
        Side(f"L = {level}, cache {kib} KiB", str(SRC), int(level), int(kib) * 1024)
        for level in args.block_levels.split(",")
        if level
        for kib in args.cache_kib.split(",")
        if kib
    ]
    with fresh_database(args.store) as url, tempfile.TemporaryDirectory() as keys:
        start = time.perf_counter()
        write_ledger(url, Path(keys), args.entries)
        print(f"## {args.entries} entries on {args.store}, written in {time.perf_counter() - start:.1f} s")
        print(f"   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("   proofs: mean CPU µs; sync: wall s; memory traced: held per entry after the sync, peak during it")
        print("   random: any entry, any signed head; near: the last 2,560 entries and last 20 signed heads")
        print(
            f"{'tree':<26}{'sync s':>7}{'held B/e':>9}{'peak MB':>8}{'tree B':>9}{'after B':>9}"
            f"{'incl.':>7}{'older':>7}{'cons.':>7}{'hashes':>7}{'n.incl':>7}{'n.older':>8}{'n.cons':>7}"
        )
        for side in sides:
            r = _run_side("read", side, url, Path(keys), args.proofs)
            tree = "—" if r["tree_bytes"] is None else str(r["tree_bytes"])
            after = "—" if r["tree_bytes_after"] is None else str(r["tree_bytes_after"])
            print(
                f"{side.name:<26}{r['sync_s']:>7.2f}{r['held_bytes'] / r['entries']:>9.2f}"
                f"{r['peak_bytes'] / 1e6:>8.1f}{tree:>9}{after:>9}{r['inclusion_us']:>7.0f}"
                f"{r['inclusion_older_us']:>7.0f}{r['consistency_us']:>7.0f}{r['hashes_us']:>7.0f}"
                f"{r['near_us']:>7.0f}{r['near_older_us']:>8.0f}{r['near_consistency_us']:>7.0f}"
            )
        print(f"\n{'tree':<26}{'append CPU µs/entry (batches of 1,000)':>40}{'one a transaction':>19}")
        for side in sides:
            r = _run_side("append", side, url, Path(keys), args.proofs)
            print(f"{side.name:<26}{r['batch_us']:>40.1f}{r['single_us']:>19.0f}")


if __name__ == "__main__":
    main()
