"""What the durable track history costs the ingest path, measured side by side in one process.

Each round submits the same 1,000-report batches (every unit once, report times 0.5 s apart from
round to round, as the service bench's four feeds do) through ``TrackIngest.submit`` twice:

- anchor: the history in memory only, thinned on the same thread (what the pump did before);
- durable: the same, plus the kept reports written to the store in one transaction per batch
  before ``submit`` returns (what a feed now waits for before its 202).

The figure is reports/s through ``submit`` (judging, queueing, thinning, writing); the queue is
drained between batches so it never fills. Rounds alternate anchor and durable so both see the same
machine load.

    python bench/history_bench.py --units 10000 --rounds 20 [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from keepclear.domain import Domain, Force, Party
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.tactical.history import HistoryLimits, TrackHistory
from keepclear.services.tactical.tracks import ReportColumns, TrackIngest, UnitDirectory
from keepclear.settings import Settings
from keepclear.store.schema import units as units_table
from keepclear.store.track_history import history_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kc-history-bench-"))
    dep = Deployment.open(Settings(data_dir=folder, database_url=args.database_url), clock=WallClock(), create=True)
    dep.registry.add_party(Party("a", "A"))
    dep.registry.add_force(Force("fa", "Force a", "a"))
    with dep.db.write() as conn:
        conn.execute(
            units_table.insert(),
            [
                {"id": f"u{i}", "callsign": f"U{i}", "domain": Domain.AIR.value, "kind": "aircraft", "force_id": "fa"}
                for i in range(args.units)
            ],
        )
    directory = UnitDirectory(dep.db)
    history_db = history_database(dep.db)
    memory = TrackHistory(HistoryLimits())
    durable = TrackHistory(HistoryLimits(), history_db)
    anchor_ingest = TrackIngest(directory, dep.clock)
    durable_ingest = TrackIngest(directory, dep.clock, on_accepted=durable.add)
    rng = np.random.default_rng(1)
    base = np.column_stack(
        [
            np.zeros(args.units),
            rng.uniform(50, 54, args.units),
            rng.uniform(2, 8, args.units),
            rng.uniform(3000, 12000, args.units),
            rng.uniform(-250, 250, (args.units, 2)),
            np.zeros(args.units),
        ]
    )
    ids = [f"u{i}" for i in range(args.units)]
    spent = {"anchor": 0.0, "durable": 0.0}
    reports = 0
    t0_s = time.time() - 300.0
    for round_ in range(args.rounds):
        values = base.copy()
        values[:, 0] = t0_s + 0.5 * round_
        batches = [
            ReportColumns(ids[s : s + args.batch], np.ascontiguousarray(values[s : s + args.batch]))
            for s in range(0, args.units, args.batch)
        ]
        order = ("anchor", "durable") if round_ % 2 == 0 else ("durable", "anchor")
        for name in order:
            started = time.perf_counter()
            for batch in batches:
                if name == "anchor":
                    anchor_ingest.submit(batch, "a")
                    memory.add(anchor_ingest.drain())
                else:
                    durable_ingest.submit(batch, "a")
                    durable_ingest.drain()
            spent[name] += time.perf_counter() - started
        reports += args.units

    store = "PostgreSQL" if not dep.db.is_sqlite else "SQLite (history in its own file)"
    print(f"units {args.units}, batches of {args.batch}, {args.rounds} rounds 0.5 s apart, {store}")
    print(
        f"rows written {durable.rows_written:,} in {durable.writes:,} transactions (history keeps 1 per unit per 2 s)"
    )
    print(f"{'path':<44}{'reports/s':>12}{'ms/batch':>10}{'ratio':>8}")
    anchor_rate = reports / spent["anchor"]
    batches_total = reports / args.batch
    for name, label in (("anchor", "submit + in-memory history (anchor)"), ("durable", "submit + durable history")):
        rate = reports / spent[name]
        print(f"{label:<44}{rate:>12,.0f}{1e3 * spent[name] / batches_total:>10.2f}{rate / anchor_rate:>8.2f}")
    history_db.dispose()
    dep.close()


if __name__ == "__main__":
    main()
