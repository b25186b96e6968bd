"""The record as a transparency log, against today's chain (every entry signed), side by side.

    .venv/bin/python bench/record_bench.py [--stores sqlite,postgres] [--storm 47000] [--sustained 60000]
        [--sizes 10000,100000,1000000] [--chain-sizes 10000,100000]

Figures, each measured here, in this process, on one core (PostgreSQL's server is another process):

1. **Sustained appends/s**: ``append_many`` batches of ``--batch`` entries (as the bus delivers a
   probe tick), ``--sustained`` entries in all, on each store; batch signing (the default) against
   ``entry_signatures="each"`` (the anchor: today's chain, one Ed25519 signature an entry). Also one
   entry a transaction, for reference.
2. **Storm to record**: ``--storm`` alert events handed to the bus recorder at once (``RecordSigner.record``)
   until committed.
3. **Proofs** at each size of ``--sizes``: inclusion and consistency proof size (hashes and bytes of
   the JSON file) and offline verification time, against the anchor — proving one entry with today's
   chain needs the whole export (bytes, and the time to verify it: measured at ``--chain-sizes``).
   Trees of ``--sizes`` are built in memory from synthetic leaves (storing 1M entries takes minutes);
   the 10k tree is also proven from a real ledger to check both agree in size.

Targets (issue 16): a 47,000-entry storm in the record in < 3 s; sustained >= 20,000 entries/s.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from benchdb import fresh_database

from keepclear.domain.events import Event
from keepclear.ledger import Ledger, LedgerConfig, verify_document
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.canonical import b64encode
from keepclear.ledger.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from keepclear.ledger.proofs import verify_proof
from keepclear.services.record.signer import RecordSigner, open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate

PARTIES = ["coalition", "russia"]


@contextmanager
def ledger_on(store: str, signatures: str) -> Iterator[Ledger]:
    """A migrated, empty ledger (checkpoints every 100 entries, as the service's default)."""
    with ledger_and_db(store, signatures) as (ledger, _):
        yield ledger


@contextmanager
def ledger_and_db(store: str, signatures: str) -> Iterator[tuple[Ledger, Database]]:
    """``ledger_on``'s ledger with its database (the record's signer needs both)."""
    with fresh_database(store) as url, tempfile.TemporaryDirectory() as keys:
        # PostgreSQL: a name of its own, so that Clocks finds this ledger's server backends
        db = Database(url if store == "sqlite" else f"{url}&application_name=kcbench_{os.getpid()}")
        migrate(db)
        config = LedgerConfig(checkpoint_every_entries=100, entry_signatures=signatures)
        ledger = open_ledger(db, ManualClock(1_764_720_000.0), Path(keys), config=config)
        ledger.append("party.added", None, {"party_id": "coalition"})  # genesis and keys out of the way
        ledger.append("message.posted", "coalition", {"text": "warm up"}, audience=PARTIES)
        try:
            yield ledger, db
        finally:
            db.dispose()


def alert(i: int) -> dict[str, Any]:
    """An alert change as the probe emits it (a realistic payload size)."""
    return {
        "alert_id": f"al-{i:07d}",
        "level": "warning",
        "los": False,
        "unit_ids": [f"u{i % 97}", f"u{(i * 7) % 101}"],
        "cpa_m": 1852.5 + i % 1000,
        "tcpa_s": 95.0,
        "zone_id": None,
    }


class Clocks:
    """Wall and this process's CPU seconds of a block (the machine may be shared: CPU time is what one
    core of this process spent), and with ``db`` on PostgreSQL the CPU seconds its server backends
    spent (``server_cpu``; read from /proc, so the server must run on this machine)."""

    def __init__(self, db: Database | None = None) -> None:
        self._db = db
        self.server_cpu = 0.0

    def __enter__(self) -> Clocks:
        self._server = _backend_cpu(self._db)
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        after = _backend_cpu(self._db)
        self.server_cpu = sum(cpu - self._server.get(pid, 0.0) for pid, cpu in after.items())


def _backend_cpu(db: Database | None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``db`` (its connections' application name)."""
    if db is None or db.engine.dialect.name != "postgresql":
        return {}
    with db.read() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = current_setting('application_name')")
        ).scalars()
        cpu = {}
        for pid in pids:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
                cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu


def sustained(store: str, signatures: str, total: int, batch: int) -> tuple[float, float, float]:
    """Entries per wall second, per CPU second of this process, and per CPU second of this process and
    PostgreSQL's backends together, appending ``total`` entries in batches of ``batch``."""
    with ledger_and_db(store, signatures) as (ledger, db):
        drafts = [EntryDraft("alert.level_changed", None, alert(i), None, PARTIES) for i in range(total)]
        with Clocks(db) as clocks:
            for offset in range(0, total, batch):
                ledger.append_many(drafts[offset : offset + batch])
        return total / clocks.wall, total / clocks.cpu, total / (clocks.cpu + clocks.server_cpu)


def single(store: str, signatures: str, total: int) -> float:
    """Entries/s with one entry a transaction."""
    with ledger_on(store, signatures) as ledger:
        start = time.perf_counter()
        for i in range(total):
            ledger.append("message.posted", "coalition", alert(i), audience=PARTIES)
        return total / (time.perf_counter() - start)


def storm(store: str, signatures: str, size: int) -> tuple[float, float, float]:
    """Wall, CPU and (PostgreSQL) server CPU seconds from handing ``size`` alert events to the record's
    signer (the bus subscriber of the service) to their entries committed."""
    with ledger_and_db(store, signatures) as (ledger, db):
        events = [Event("alert.raised", 1_764_720_000.0, None, alert(i), frozenset(PARTIES)) for i in range(size)]
        signer = RecordSigner(db, ledger)
        with Clocks(db) as clocks:
            signer.record(events)
        assert ledger.latest_head().seq >= size
        return clocks.wall, clocks.cpu, clocks.server_cpu


def timed(fn: Any, repeat: int) -> float:
    """Mean seconds of ``fn()`` over ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def proofs_at(size: int) -> dict[str, Any]:
    """Inclusion and consistency proofs of an in-memory tree of ``size`` synthetic leaves."""
    start = time.perf_counter()
    tree = MerkleTree(leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(size))
    build_s = time.perf_counter() - start
    index, old = size // 3, size // 2
    inclusion = tree.inclusion_proof(index, size)
    consistency = tree.consistency_proof(old, size)
    root, old_root, leaf = tree.root(size), tree.root(old), tree.leaf(index)
    assert verify_inclusion(index, size, leaf, inclusion, root)
    assert verify_consistency(old, size, old_root, root, consistency)
    return {
        "size": size,
        "build_s": build_s,
        "prove_us": timed(lambda: tree.inclusion_proof(index, size), 200) * 1e6,
        "inclusion_hashes": len(inclusion),
        "inclusion_bytes": len(json.dumps([b64encode(h) for h in inclusion])),
        "inclusion_verify_us": timed(lambda: verify_inclusion(index, size, leaf, inclusion, root), 2000) * 1e6,
        "consistency_hashes": len(consistency),
        "consistency_bytes": len(json.dumps([b64encode(h) for h in consistency])),
        "consistency_verify_us": timed(lambda: verify_consistency(old, size, old_root, root, consistency), 2000) * 1e6,
    }


def chain_anchor(size: int) -> dict[str, Any]:
    """Today's way to prove one entry: the whole export, verified. Also a real proof file's size."""
    with ledger_on("sqlite", "each") as ledger:
        chunk = 5000
        for offset in range(0, size - 2, chunk):
            n = min(chunk, size - 2 - offset)
            ledger.append_many([EntryDraft("alert.raised", None, alert(offset + i), None, PARTIES) for i in range(n)])
        text = json.dumps(ledger.export_document())
        start = time.perf_counter()
        report = verify_document(json.loads(text))
        verify_s = time.perf_counter() - start
        assert report.ok, report.problem
        proof = ledger.inclusion_proof(size // 3)
        proof_text = json.dumps(proof)
        proof_verify_us = timed(lambda: verify_proof(json.loads(proof_text)), 200) * 1e6
        return {
            "size": report.entries,
            "export_bytes": len(text),
            "verify_s": verify_s,
            "proof_file_bytes": len(proof_text),
            "proof_file_verify_us": proof_verify_us,
        }


#: Width and decimals of the append table's figures.
_COLUMNS = ((13, 0), (9, 0), (9, 0), (10, 0), (13, 2), (7, 2), (8, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--storm", type=int, default=47_000)
    parser.add_argument("--sustained", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--chain-sizes", default="10000,100000")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]

    print(
        f"## appends ({args.sustained} entries in batches of {args.batch}; single: one a transaction; storm: {args.storm})"
    )
    print(
        f"   load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall figures suffer;"
        " CPU = this process; +srv = and PostgreSQL's backends)"
    )
    print(
        f"{'store':<10}{'mode':<28}{'sust./s wall':>13}{'/s CPU':>9}{'/s +srv':>9}{'single/s':>10}"
        f"{'storm s wall':>13}{'s CPU':>7}{'s +srv':>8}"
    )
    for store in stores:
        rows = {}
        for signatures, label in (("each", "each entry signed (anchor)"), ("batch", "tree head per batch")):
            rate, rate_cpu, rate_all = sustained(store, signatures, args.sustained, args.batch)
            one = single(store, signatures, args.single)
            storm_wall, storm_cpu, storm_srv = storm(store, signatures, args.storm)
            row = (rate, rate_cpu, rate_all, one, storm_wall, storm_cpu, storm_cpu + storm_srv)
            rows[signatures] = row
            print(
                f"{store:<10}{label:<28}" + "".join(f"{v:>{w}.{d}f}" for v, (w, d) in zip(row, _COLUMNS, strict=True))
            )
        ratios = [b / a for a, b in zip(rows["each"], rows["batch"], strict=True)]
        print(
            f"{store:<10}{'ratio batch / anchor':<28}"
            + "".join(f"{r:>{w}.2f}" for r, (w, _) in zip(ratios, _COLUMNS, strict=True))
        )

    print("\n## proofs (in-memory trees of synthetic leaves; RFC 9162)")
    print(
        f"{'entries':>9}{'build s':>9}{'prove µs':>10}{'incl. hashes':>13}{'bytes':>7}{'verify µs':>10}"
        f"{'cons. hashes':>13}{'bytes':>7}{'verify µs':>10}"
    )
    for size in (int(s) for s in args.sizes.split(",") if s):
        p = proofs_at(size)
        print(
            f"{size:>9}{p['build_s']:>9.2f}{p['prove_us']:>10.1f}{p['inclusion_hashes']:>13}{p['inclusion_bytes']:>7}"
            f"{p['inclusion_verify_us']:>10.1f}{p['consistency_hashes']:>13}{p['consistency_bytes']:>7}"
            f"{p['consistency_verify_us']:>10.1f}"
        )

    print("\n## anchor: proving one entry with today's chain = the whole export (SQLite, every entry signed)")
    print(
        f"{'entries':>9}{'export MB':>11}{'verify s':>10}{'proof file bytes':>18}{'proof verify µs':>17}{'size ratio':>12}"
    )
    for size in (int(s) for s in args.chain_sizes.split(",") if s):
        c = chain_anchor(size)
        ratio = c["export_bytes"] / c["proof_file_bytes"]
        print(
            f"{c['size']:>9}{c['export_bytes'] / 1e6:>11.1f}{c['verify_s']:>10.2f}{c['proof_file_bytes']:>18}"
            f"{c['proof_file_verify_us']:>17.0f}{ratio:>12.0f}"
        )


if __name__ == "__main__":
    main()
