"""CPU per track report on the scale-out path, stage by stage, in one process (issue 20).

What ``bench/cluster_bench.py --phases ingest`` measures end to end, taken apart so that each
stage's cost per report can be compared between two builds (``PYTHONPATH=<other checkout>/src``
runs another build's code with this script) and profiled (``--profile STAGE``):

1. **post**: ``--batches`` column batches of ``--batch`` reports of ``--units`` aircraft posted to
   POST /v1/tracks of the real app, in this process (an ASGI client: no sockets, no HTTP parsing):
   the body read, validated, judged, the durable history written (PostgreSQL), the answer made.
2. **pump**: ``Runtime.pump`` with ``detect_in_workers``: the reports into the API process's own
   track table and published by cell on the JetStream track stream (R3 on ``scripts/cluster``),
   every message acknowledged. The NATS nodes' CPU is printed beside this process's.
3. **take**: a durable consumer of every track subject (``TrackFeed``, what ``keepclear worker
   detect`` runs) hands the messages to a ``TacticalService``'s track table: a worker whose view
   holds every cell, and what each API process's picture does with the others' reports.

Every stage's figure is CPU seconds of this process (all its threads) per report, over the stage.

    scripts/cluster up --no-keepclear
    .venv/bin/python bench/ingest_cpu_bench.py --batches 200
    PYTHONPATH=/tmp/base/src .venv/bin/python bench/ingest_cpu_bench.py --batches 200   # another build
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
from benchdb import fresh_database
from cluster_bench import cpu_s, nats_pids, nats_servers
from nats.js.errors import NotFoundError
from service_bench import TIME_PLACEHOLDER, batches, populate

import keepclear
from keepclear.api.app import create_app
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.nats_bus import NatsBus
from keepclear.services.runtime.nats_tracks import TRACK_STREAM, TrackFeed
from keepclear.services.tactical.service import TacticalService
from keepclear.settings import Settings


def purge_tracks(servers: list[str]) -> None:
    """Empty the track stream: the take stage reads only this run's reports."""

    async def purge() -> None:
        nc = await nats.connect(servers, connect_timeout=5)
        with contextlib.suppress(NotFoundError):
            await nc.jetstream(timeout=10).purge_stream(TRACK_STREAM)
        await nc.close()

    asyncio.run(purge())


class Stage:
    """CPU of this process and of the NATS nodes over a ``with`` block, optionally under cProfile."""

    def __init__(self, name: str, profile: str | None) -> None:
        self.name = name
        self._profile = cProfile.Profile() if profile == name else None
        self.cpu_s = self.nats_cpu_s = self.wall_s = 0.0

    def __enter__(self) -> Stage:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        self._n0 = sum(cpu_s(p) for p in nats_pids())
        if self._profile:
            self._profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._profile:
            self._profile.disable()
            pstats.Stats(self._profile).sort_stats("cumulative").print_stats(45)
            pstats.Stats(self._profile).sort_stats("tottime").print_stats(30)
        self.wall_s = time.perf_counter() - self._t0
        self.cpu_s = time.process_time() - self._c0
        self.nats_cpu_s = sum(cpu_s(p) for p in nats_pids()) - self._n0


async def post_all(
    app: Any, bodies: dict[str, list[bytes]], keys: dict[str, str], count: int, interval_s: float
) -> int:
    """Post ``count`` bodies, alternately of parties a and b, one at a time, each unit reported every
    ``interval_s`` of report time from a minute ago (as many kept by the history as at that rate,
    however fast the posts go); reports accepted."""
    accepted = 0
    start_s = time.time() - 60.0
    per_round = len(bodies["a"]) + len(bodies["b"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for k in range(count):
            party = "ab"[k % 2]
            body = bodies[party][(k // 2) % len(bodies[party])]
            at_s = start_s + (k // per_round) * interval_s
            body = body.replace(TIME_PLACEHOLDER.encode(), format_utc(at_s).encode())
            answer = await client.post(
                "/v1/tracks",
                content=body,
                headers={"Authorization": f"Bearer {keys[party]}", "content-type": "application/json"},
            )
            if answer.status_code != 202:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
            accepted += answer.json()["accepted"]
    return accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--spread-deg", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000, help="reports a request (default 1000)")
    parser.add_argument("--batches", type=int, default=200, help="requests posted (default 200)")
    parser.add_argument(
        "--report-interval-s",
        type=float,
        default=1 / 3,
        help="report time between a unit's reports (default 1/3 s: 30,000 reports/s of 10,000 units)",
    )
    parser.add_argument("--profile", choices=["post", "pump", "take"], default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    offset = int(os.environ.get("KEEPCLEAR_CLUSTER_PORT_OFFSET", "0"))
    servers = nats_servers(offset)
    purge_tracks(servers)
    bodies = batches(args.units, args.batch, spread_deg=args.spread_deg, shape="columns")
    stages: dict[str, Stage] = {}
    with fresh_database("postgres") as url, tempfile.TemporaryDirectory(prefix="kc-ingest-cpu-") as tmp:
        data = Path(tmp) / "data"
        keys = populate(data, args.units, database_url=url)
        settings = Settings(
            data_dir=data,
            database_url=url,
            bus_url=",".join(servers),
            detect_in_workers=True,
            ingest_queue_reports=args.batches * args.batch + 1,
            ingest_backlog_s=60.0,  # the posts are all queued before the pump runs
            tick_s=60.0,
        )
        app = create_app(settings)
        runtime = app.state.runtime
        asyncio.run(post_all(app, bodies, keys, 4, args.report_interval_s))  # first connections, caches: not counted
        runtime.pump()
        purge_tracks(servers)
        with Stage("post", args.profile) as stages["post"]:
            history_rows = runtime.history.rows_written
            reports = asyncio.run(post_all(app, bodies, keys, args.batches, args.report_interval_s))
        history_rows = runtime.history.rows_written - history_rows
        with Stage("pump", args.profile) as stages["pump"]:
            moved = runtime.pump()
        assert moved == reports, (moved, reports)
        taker = TacticalService(
            runtime.deployment.db,
            runtime.deployment.clock,
            runtime.deployment.bus,
            runtime.config.tactical,
            watch_zones=False,
        )
        bus = NatsBus(servers).connect()
        taken = [0]
        done = threading.Event()

        def take(batches: list[Any]) -> None:
            taker.consume(batches)
            taken[0] += sum(len(b) for b in batches)
            if taken[0] >= reports:
                done.set()

        feed = TrackFeed(bus, f"ingest-cpu-{uuid.uuid4().hex[:8]}", ["keepclear.tracks.>"], take)
        with Stage("take", args.profile) as stages["take"]:
            feed.start()
            done.wait(600)
        feed.stop()
        bus.close()
        runtime.deployment.close()
    out = {
        "build": str(Path(keepclear.__file__).resolve().parents[1]),
        "reports": reports,
        "taken": taken[0],
        "history_rows_written": history_rows,
        **{
            name: {
                "cpu_us_per_report": round(s.cpu_s / reports * 1e6, 2),
                "nats_cpu_us_per_report": round(s.nats_cpu_s / reports * 1e6, 2),
                "wall_s": round(s.wall_s, 2),
            }
            for name, s in stages.items()
        },
    }
    print(json.dumps(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
