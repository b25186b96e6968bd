"""Large request bodies from a party with a valid key, against the probe's period and the others' answers.

A real `keepclear serve` in its own process ticks every second over ``--units`` aircraft reported by
a feed (a steady 1,000-report batch every 0.2 s); meanwhile party a's liaison posts ``--body-mb`` of
JSON as fast as it is answered (``batch``: an activity batch of polygons, parsed whole and refused
for holding too many activities, so what is measured is reading the body, not checking it;
``single``: the same bytes as one activity), and party b's liaison asks `GET /v1/me` every 50 ms.
Prints, per server, the longest gap between ticks, the ticks late, b's answer times and how long a's
bodies took. With ``--anchor-src`` the same loads run against a server from another source tree
(e.g. ``git archive <rev> src | tar -x -C /tmp/anchor``), interleaved, measured side by side.

    python bench/body_bench.py --seconds 15 --anchor-src /tmp/anchor/src
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from service_bench import (
    TIME_PLACEHOLDER,
    UNBOUNDED_ACTIVITY_WRITES_ENV,
    batches,
    populate,
    print_side_by_side,
    run_for,
    serve,
    stop_server,
)

from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


def _ring(vertices: int, lon_deg: float) -> list[list[float]]:
    points = [
        [lon_deg + 0.1 * math.cos(2 * math.pi * i / vertices), 35 + 0.1 * math.sin(2 * math.pi * i / vertices)]
        for i in range(vertices)
    ]
    return [*points, points[0]]


def large_bodies(body_mb: float) -> dict[str, bytes]:
    """An activity batch of polygons of about ``body_mb`` megabytes, more activities than a batch may
    hold (refused once parsed), and the same polygons as one activity (``single``)."""
    now_s = time.time()
    window = {"start": format_utc(now_s + 86_400), "end": format_utc(now_s + 90_000)}

    def activity(volumes: list[dict[str, Any]]) -> dict[str, Any]:
        return {"kind": "air-operation", **window, "contact": "duty", "addressees": ["b"], "volumes": volumes}

    per_volume = [
        {"geometry": {"type": "Polygon", "coordinates": [_ring(1000, 30 + 0.001 * i)]}, "lower_ft": 0, "upper_ft": 1000}
        for i in range(max(1, int(body_mb * 1e6 / 40_000)))
    ]
    return {
        "batch": json.dumps({"activities": [activity([v]) for v in per_volume]}).encode(),
        "single": json.dumps(activity(per_volume)).encode(),
    }


def run(load: str, args: argparse.Namespace, src: Path | None, bodies: dict[str, bytes]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kc-body-bench-"))
    keys = populate(folder, args.units)
    dep = Deployment.open(Settings(data_dir=folder), create=False)
    keys["a-liaison"] = dep.keys.create(Role.LIAISON, "a")[1]
    keys["b-liaison"] = dep.keys.create(Role.LIAISON, "b")[1]
    dep.close()
    reports = batches(args.units, 1000, shape="columns")["a"]
    settings = {"KEEPCLEAR_TICK_S": "1", "KEEPCLEAR_MAX_ACTIVITIES_PER_BATCH": "10", **UNBOUNDED_ACTIVITY_WRITES_ENV}
    server, base = serve(folder, src, settings)
    stop = threading.Event()
    me_s: list[float] = []
    body_s: list[float] = []
    statuses: dict[int, int] = {}

    def client(key: str) -> httpx.Client:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[key]}"}, timeout=120)

    def feed() -> None:
        with client("a") as http:
            k = 0
            while not stop.is_set():
                body = reports[k % len(reports)].replace(TIME_PLACEHOLDER.encode(), format_utc(time.time()).encode())
                http.post("/v1/tracks", content=body, headers={"content-type": "application/json"})
                k += 1
                stop.wait(0.2)

    def poster() -> None:
        path = "/v1/activities/batch" if load == "batch" else "/v1/activities"
        with client("a-liaison") as http:
            while not stop.is_set():
                started = time.perf_counter()
                answer = http.post(path, content=bodies[load], headers={"content-type": "application/json"})
                body_s.append(time.perf_counter() - started)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    def reader() -> None:
        with client("b-liaison") as http:
            while not stop.is_set():
                started = time.perf_counter()
                http.get("/v1/me")
                me_s.append(time.perf_counter() - started)
                stop.wait(0.05)

    try:
        with client("admin") as admin:
            threading.Thread(target=feed, daemon=True).start()
            time.sleep(3)  # the picture fills, the probe's period settles
            before = admin.get("/v1/metrics").json()
            run_for(args.seconds, stop, poster, reader)
            after = admin.get("/v1/metrics").json()
    finally:
        stop.set()
        stop_server(server)
    me_ms = sorted(s * 1e3 for s in me_s)
    return {
        "longest gap between ticks (s)": float(after["counters"]["tick_interval_max_s"]),
        "ticks late (> 1.5 periods)": after["counters"]["tick_late_total"] - before["counters"]["tick_late_total"],
        "b's GET /v1/me p50 (ms)": statistics.median(me_ms),
        "b's GET /v1/me p99 (ms)": me_ms[int(0.99 * (len(me_ms) - 1))],
        "b's GET /v1/me max (ms)": me_ms[-1],
        "a's bodies answered": len(body_s),
        "a's body answer p50 (s)": statistics.median(body_s) if body_s else float("nan"),
        "a's answers": ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--units", type=int, default=4000)
    parser.add_argument("--body-mb", type=float, default=8.0)
    parser.add_argument("--loads", default="batch,single")
    parser.add_argument("--anchor-src", type=Path, default=None, help="Source tree (its src/) of the anchor server")
    args = parser.parse_args()
    bodies = large_bodies(args.body_mb)
    print(f"bodies: batch {len(bodies['batch']) / 1e6:.1f} MB, single {len(bodies['single']) / 1e6:.1f} MB")
    servers: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.anchor_src is not None:
        servers.insert(0, ("anchor", args.anchor_src))
    for load in args.loads.split(","):
        results = {name: run(load, args, src, bodies) for name, src in servers}
        print(f"\n## load: {load} (a posts {len(bodies[load]) / 1e6:.1f} MB bodies back to back)\n")
        print_side_by_side(results)


if __name__ == "__main__":
    main()
