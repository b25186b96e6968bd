"""Benchmark: track reports by cell from an API process's pump to a detector worker's consumer over JetStream.

``TrackPublisher`` (what ``serve`` runs with ``detect_in_workers``) publishes ``--reports`` reports
spread over the cells of a region in chunks of ``--chunk`` (as the ingest pump hands them over); a
``TrackFeed`` (what ``keepclear worker detect`` runs) of a worker owning one of those cells takes the
reports of its cells and halo. Prints reports/s published (acknowledged by the R3 stream) and
taken, with the CPU seconds this process spent. On the shared 2-core machine the client, the three
servers and everyone else share the cores: read the figures as a floor.

    scripts/cluster up && .venv/bin/python bench/track_bus_bench.py --reports 200000
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

import numpy as np

from keepclear.detect.cells import CellPlan, cells_in_view
from keepclear.domain import Domain
from keepclear.services.runtime.nats_bus import NatsBus
from keepclear.services.runtime.nats_tracks import TrackFeed, TrackPublisher, track_subjects
from keepclear.services.tactical.tracks import ReportColumns

SERVERS = ["nats://127.0.0.1:4231", "nats://127.0.0.1:4232", "nats://127.0.0.1:4233"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=10_000, help="reports per pump chunk")
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    servers = args.servers.split(",")
    plan = CellPlan()
    rng = np.random.default_rng(1)
    # 10,000 units over 20° x 30° around 40° N 30° E: a dozen cells
    lat = rng.uniform(30, 50, args.reports)
    lon = rng.uniform(15, 45, args.reports)
    values = np.column_stack(
        [
            time.time() + np.arange(args.reports) * 1e-4,
            lat,
            lon,
            np.full(args.reports, 7_000.0),
            rng.uniform(-200, 200, args.reports),
            rng.uniform(-200, 200, args.reports),
            np.zeros(args.reports),
        ]
    )
    run = uuid.uuid4().hex[:8]  # the stream keeps earlier runs' reports (600 s): count this run's only
    units = [f"{run}-u{k % 10_000}" for k in range(args.reports)]
    own = int(plan.grid.cell_of(np.array([40.5]), np.array([30.0]))[0])
    view = cells_in_view(plan, np.array([own]))
    expected = int(np.isin(plan.grid.cell_of(lat, lon), view).sum())
    publisher_bus, worker_bus = NatsBus(servers).connect(), NatsBus(servers).connect()
    taken = [0]
    done = threading.Event()

    def take(batches: list[ReportColumns]) -> None:
        taken[0] += sum(1 for b in batches for unit in b.unit_ids if unit.startswith(run))
        if taken[0] >= expected:
            done.set()

    feed = TrackFeed(worker_bus, f"bench-{run}", track_subjects(view.tolist(), plan.grid.cell_count), take)
    feed.start()
    publisher = TrackPublisher(publisher_bus, plan)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, args.reports, args.chunk):
        stop = min(start + args.chunk, args.reports)
        n = stop - start
        publisher([ReportColumns(units[start:stop], values[start:stop], ["a"] * n, [Domain.AIR] * n)])
    published_s = time.perf_counter() - t0
    complete = done.wait(300)
    total_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    feed.stop()
    print(
        json.dumps(
            {
                "reports": args.reports,
                "messages": publisher.messages_published_total,
                "published_per_s": round(args.reports / published_s),
                "worker_view_cells": len(view),
                "worker_reports": taken[0],
                "worker_expected": expected,
                "all_taken": complete,
                "taken_per_s": round(taken[0] / total_s),
                "cpu_s_this_process": round(cpu_s, 2),
                "wall_s": round(total_s, 2),
            }
        )
    )
    publisher_bus.close()
    worker_bus.close()


if __name__ == "__main__":
    main()
