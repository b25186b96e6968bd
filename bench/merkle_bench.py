"""The record's Merkle tree: memory per entry, proof and append times, this code against an anchor.

    git archive 8751c8f src | tar -x -C /tmp/anchor-merkle     # the anchor: every level in memory
    .venv/bin/python bench/merkle_bench.py [--entries 200000] [--store sqlite] [--block-levels 8,10]
        [--anchor /tmp/anchor-merkle/src] [--proofs 300]

One ledger of ``--entries`` entries (batch signing, a signed head every 100) is written once, then
each side (the anchor, and this code at each of ``--block-levels``) opens it in a fresh process:

- **sync**: the first proof builds the tree from the store (s), and what that costs in memory, traced
  (``tracemalloc``): bytes still held afterwards per entry (the tree), and the peak while building;
- **proofs** through the ledger's API, mean CPU µs of the process: an inclusion proof at the latest signed head of a
  random entry, one at a random older signed head (its last block read too), a consistency proof
  between a random signed head and the latest, ``consistency_hashes`` from a random size;
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
from typing import Any

from benchdb import fresh_database

from keepclear.ledger import LedgerConfig
from keepclear.ledger.book import EntryDraft
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate

SRC = Path(__file__).resolve().parents[1] / "src"
PARTIES = ["coalition", "russia"]
CLOCK_S = 1_764_720_000.0


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


def _open(url: str, keys: Path, block_level: int | None) -> Any:
    config = LedgerConfig() if block_level is None else LedgerConfig(tree_block_level=block_level)
    return open_ledger(Database(url), ManualClock(CLOCK_S), keys, config=config)


def _mean_us(calls: list[Any]) -> float:
    """Mean CPU µs of this process a call (the machine may be shared; SQLite runs in this process)."""
    start = time.process_time()
    for call in calls:
        call()
    return (time.process_time() - start) / len(calls) * 1e6


def read_side(url: str, keys: Path, block_level: int | None, proofs: int) -> dict[str, Any]:
    """Sync time and memory, then proof times (see the module docstring)."""
    ledger = _open(url, keys, block_level)
    heads = [h.seq for h in ledger.heads() if h.note is not None]
    size = heads[-1]
    start = time.perf_counter()
    ledger.consistency_hashes(size, size)  # the first look builds the tree
    sync_s = time.perf_counter() - start

    gc.collect()
    tracemalloc.start()
    other = _open(url, keys, block_level)
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    other.consistency_hashes(size, size)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    rng = random.Random(1)
    seqs = [rng.randint(1, size) for _ in range(proofs)]
    older = [rng.choice(heads[:-1]) for _ in range(proofs)]
    return {
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
    }


def append_side(url: str, keys: Path, block_level: int | None) -> dict[str, Any]:
    """CPU µs an entry appending 20,000 in batches of 1,000, and 300 one a transaction."""
    ledger = _open(url, keys, block_level)
    ledger.append("message.posted", None, {"text": "warm up"})  # builds the tree
    base = ledger.latest_head().seq
    drafts = [_draft(base + i) for i in range(20_000)]
    batch_us = _mean_us([lambda o=o: ledger.append_many(drafts[o : o + 1000]) for o in range(0, 20_000, 1000)]) / 1000
    single_us = _mean_us([lambda i=i: ledger.append("message.posted", None, {"i": i}) for i in range(300)])
    return {"batch_us": batch_us, "single_us": single_us}


def _run_side(mode: str, path: str, url: str, keys: Path, block_level: int | None, proofs: int) -> dict[str, Any]:
    """One side in a fresh process with ``path`` as its keepclear."""
    argv = [sys.executable, __file__, "--worker", mode, "--url", url, "--keys", str(keys), "--proofs", str(proofs)]
    if block_level is not None:
        argv += ["--worker-block-level", str(block_level)]
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--block-levels", default="8,10")
    parser.add_argument("--anchor", default="/tmp/anchor-merkle/src")
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--worker", choices=["read", "append"])
    parser.add_argument("--worker-block-level", type=int)
    parser.add_argument("--url")
    parser.add_argument("--keys", type=Path)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "read":
            print(json.dumps(read_side(args.url, args.keys, args.worker_block_level, args.proofs)))
        else:
            print(json.dumps(append_side(args.url, args.keys, args.worker_block_level)))
        return

    sides: list[tuple[str, str, int | None]] = [("anchor (every level)", args.anchor, None)]
    sides += [(f"blocks, L = {level}", str(SRC), int(level)) for level in args.block_levels.split(",") if level]
    with fresh_database(args.store) as url, tempfile.TemporaryDirectory() as keys:
        start = time.perf_counter()
        write_ledger(url, Path(keys), args.entries)
        print(f"## {args.entries} entries on {args.store}, written in {time.perf_counter() - start:.1f} s")
        print(f"   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("   proofs: mean CPU µs; sync: wall s; memory traced: held per entry after the sync, peak during it")
        print(
            f"{'tree':<22}{'sync s':>8}{'held B/entry':>13}{'peak MB':>9}{'tree B':>10}"
            f"{'incl. µs':>10}{'older µs':>10}{'cons. µs':>10}{'hashes µs':>10}"
        )
        for name, path, level in sides:
            r = _run_side("read", path, url, Path(keys), level, args.proofs)
            tree = "—" if r["tree_bytes"] is None else str(r["tree_bytes"])
            print(
                f"{name:<22}{r['sync_s']:>8.2f}{r['held_bytes'] / r['entries']:>13.2f}{r['peak_bytes'] / 1e6:>9.1f}"
                f"{tree:>10}{r['inclusion_us']:>10.0f}{r['inclusion_older_us']:>10.0f}{r['consistency_us']:>10.0f}"
                f"{r['hashes_us']:>10.0f}"
            )
        print(f"\n{'tree':<22}{'append CPU µs/entry (batches of 1,000)':>40}{'one a transaction':>19}")
        for name, path, level in sides:
            r = _run_side("append", path, url, Path(keys), level, args.proofs)
            print(f"{name:<22}{r['batch_us']:>40.1f}{r['single_us']:>19.0f}")


if __name__ == "__main__":
    main()
