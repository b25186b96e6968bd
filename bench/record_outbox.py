"""What the outbox costs a write: its record entry staged in the write's transaction and signed from
the outbox, against the former path (commit the write, then append the entry in a second transaction,
which a crash in between loses).

Each write inserts one state row (a scratch table, like a hotline message) and records one
``message.posted``-sized entry. Measured side by side on the same store:

- ``after commit`` (anchor): write transaction, then ``Ledger.append`` of the entry;
- ``outbox, signed per write``: write transaction with ``stage``, then ``RecordSigner.drain_once``
  (what a waiting caller gets: its entry signed when it returns);
- ``outbox, signed per 100``: the same writes, the signer draining once every 100 (what the
  signer's thread does under load: hotline posts do not wait).

    .venv/bin/python bench/record_outbox.py [N] [--postgres URL]

Rates per wall second and per CPU second of this process (the machine may be shared; PostgreSQL's
server work is not in the CPU figure).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from benchdb import POSTGRES_URL, fresh_database

from keepclear.domain.events import Event
from keepclear.ledger import Ledger, LedgerConfig
from keepclear.services.record.signer import RecordSigner, open_ledger
from keepclear.services.record.staging import stage
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate

PAYLOAD = {"thread_id": "t-1", "seq": 0, "kind": "text", "text": "Contact bearing 270, FL200, hold west of the line."}
PARTIES = frozenset({"coalition", "russia"})


def _scratch(db: Database, name: str) -> sa.Table:
    table = sa.Table(name, sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True), sa.Column("body", sa.Text))
    table.drop(db.engine, checkfirst=True)
    table.create(db.engine)
    return table


def run(db: Database, root: Path, n: int) -> list[tuple[str, float, float]]:
    clock = ManualClock(1509494400.0)
    ledger: Ledger = open_ledger(db, clock, root, config=LedgerConfig(checkpoint_every_entries=100))
    ledger.append("party.added", None, {"party_id": "coalition"})  # genesis and keys out of the timing
    ledger.append("message.posted", "coalition", PAYLOAD, audience=sorted(PARTIES))
    signer = RecordSigner(db, ledger)

    def event(i: int) -> Event:
        return Event("message.posted", clock.now_s(), "coalition", {**PAYLOAD, "seq": i}, PARTIES)

    def after_commit(table: sa.Table, i: int) -> None:
        with db.write() as conn:
            conn.execute(table.insert().values(n=i, body=PAYLOAD["text"]))
        ledger.append("message.posted", "coalition", {**PAYLOAD, "seq": i}, audience=sorted(PARTIES))

    def outbox_each(table: sa.Table, i: int) -> None:
        with db.write() as conn:
            conn.execute(table.insert().values(n=i, body=PAYLOAD["text"]))
            stage(conn, [event(i)])
        signer.drain_once()

    def outbox_batched(table: sa.Table, i: int) -> None:
        with db.write() as conn:
            conn.execute(table.insert().values(n=i, body=PAYLOAD["text"]))
            stage(conn, [event(i)])
        if i % 100 == 99:
            signer.drain_once()

    variants: list[tuple[str, Callable[[sa.Table, int], None]]] = [
        ("after commit (anchor)", after_commit),
        ("outbox, signed per write", outbox_each),
        ("outbox, signed per 100", outbox_batched),
    ]
    results = []
    for index, (name, write) in enumerate(variants):
        table = _scratch(db, f"bench_outbox_{index}")
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            write(table, i)
        signer.drain()
        results.append((name, n / (time.perf_counter() - start), n / (time.process_time() - start_cpu)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2000, help="writes per variant (default 2000)")
    parser.add_argument("--postgres", metavar="URL", help="also measure on this PostgreSQL database")
    args = parser.parse_args()
    stores = [("sqlite", None), *([("postgres", args.postgres)] if args.postgres else [])]
    print(f"| store | path | writes/s wall | writes/CPU-s | ratio to anchor (wall) |  (N = {args.n})")
    print("| --- | --- | ---: | ---: | ---: |")
    for store, url in stores:
        with tempfile.TemporaryDirectory() as folder, fresh_database(store, url or POSTGRES_URL) as scoped:
            root = Path(folder)
            db = Database(scoped)
            migrate(db)
            results = run(db, root, args.n)
            anchor = results[0][1]
            for name, rate, rate_cpu in results:
                print(f"| {store} | {name} | {rate:,.0f} | {rate_cpu:,.0f} | {rate / anchor:.2f} |")
            db.dispose()


if __name__ == "__main__":
    main()
