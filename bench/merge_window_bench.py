"""What finding the open incidents a batch of alert changes merges with costs when ``--reported``
(50,000) incidents parties reported lie in its ± 600 s window beside 50 keepclear opened, per store.

``store.incidents.open_incidents_concerned`` of one window (and one unit), the median of
``--repeat`` (20), on the incidents written through the store of the tree on ``PYTHONPATH`` (run it
once per tree: ``git archive <rev> src | tar -x -C /tmp/anchor``):

    PYTHONPATH=/tmp/anchor/src:bench python bench/merge_window_bench.py [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchdb import fresh_database

BATCH = 5000


def _one(store_name: str, reported: int, repeat: int) -> tuple[int, float]:
    from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
    from keepclear.store import Database, migrate
    from keepclear.store import incidents as store

    def incident(n: int, reported_by: str | None) -> Incident:
        return Incident(
            id=f"inc-{n:07d}",
            kind=IncidentKind.REPORTED if reported_by else IncidentKind.SEPARATION_LOST,
            status=ReviewStatus.OPEN,
            time_s=1000.0 + (n % 1200) - 600,
            opened_s=0.0,
            reported_by=reported_by,
            parties=("a", "b"),
            unit_ids=(f"u{n % 7}",),
            alert_ids=(),
            zone_id=None,
            zone_kind=None,
            summary="bench",
        )

    with fresh_database(store_name) as url:
        db = Database(url)
        migrate(db)
        made = [incident(n, "russia") for n in range(reported)] + [incident(reported + n, None) for n in range(50)]
        for start in range(0, len(made), BATCH):
            with db.write() as conn:
                store.insert_incidents(conn, made[start : start + BATCH])
        with db.write() as conn:
            conn.exec_driver_sql("ANALYZE" if store_name == "sqlite" else "ANALYZE incidents")
        times_ms = []
        found = []
        for _ in range(repeat):
            started = time.perf_counter()
            with db.read() as conn:
                found = store.open_incidents_concerned(
                    conn, alert_ids=[], incident_ids=[], time_windows=[(400.0, 1600.0)], window_units={"u1"}
                )
            times_ms.append(1000 * (time.perf_counter() - started))
        db.dispose()
    return len(found), statistics.median(times_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reported", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    for store_name in args.stores.split(","):
        found, median_ms = _one(store_name, args.reported, args.repeat)
        print(f"{store_name:<9} reported {args.reported:>7,}  found {found}  median {median_ms:.2f} ms")


if __name__ == "__main__":
    main()
