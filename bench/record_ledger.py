"""Ledger throughput on SQLite: signed appends against plain inserts of the same rows, and offline verify.

No anchor is named by the issue; the plain insert (same table, same single-writer path, no hashing or
signing) shows what the chain and the signature cost on top of the store.

    .venv/bin/python bench/record_ledger.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from keepclear.ledger import Ledger, LedgerConfig, verify_document
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        db = Database(f"sqlite:///{root / 'k.db'}")
        migrate(db)
        clock = ManualClock(1509494400.0)
        ledger: Ledger = open_ledger(db, clock, root, config=LedgerConfig(checkpoint_every_entries=100))
        payload = {"message_id": "m", "text": "Contact bearing 270, FL200, request you hold west of the line.", "n": 0}

        start = time.perf_counter()
        for i in range(N):
            ledger.append("message.posted", "coalition", {**payload, "n": i}, audience=["coalition", "russia"])
        signed_s = time.perf_counter() - start

        scratch = sa.Table(
            "bench_plain", sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True), sa.Column("payload", sa.Text)
        )
        scratch.create(db.engine)
        start = time.perf_counter()
        for i in range(N):
            with db.write() as conn:
                conn.execute(scratch.insert().values(n=i, payload=json.dumps({**payload, "n": i}, sort_keys=True)))
        plain_s = time.perf_counter() - start

        start = time.perf_counter()
        document = ledger.export_document()
        export_s = time.perf_counter() - start
        text = json.dumps(document)
        start = time.perf_counter()
        report = verify_document(json.loads(text))
        verify_s = time.perf_counter() - start
        assert report.ok, report.problem

        rows = [
            ("plain insert (anchor)", N, plain_s, 1.0),
            ("signed append", N, signed_s, signed_s / plain_s),
            ("export", report.entries, export_s, export_s / plain_s),
            ("verify (offline)", report.entries, verify_s, verify_s / plain_s),
        ]
        print(f"{'operation':<24}{'entries':>9}{'total s':>10}{'per entry µs':>14}{'entries/s':>11}{'× anchor':>10}")
        for name, count, seconds, ratio in rows:
            print(
                f"{name:<24}{count:>9}{seconds:>10.3f}{seconds / count * 1e6:>14.1f}{count / seconds:>11.0f}{ratio:>10.2f}"
            )
        print(f"export size: {len(text) / 1e6:.2f} MB, {report.checkpoints} checkpoints")


if __name__ == "__main__":
    main()
