"""Track ingest through a real `keepclear serve` on 127.0.0.1 while the probe ticks every second.

Prints the sustained ingest rate against the 100,000 reports/s target, the probe's time per tick
and the server's memory. The server runs in its own process (as in production); the load comes
from this process with pre-encoded batches, so the figure measures the server, not the client.

    python bench/service_bench.py --seconds 20 --units 10000 [--shape rows] [--spread-deg 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from keepclear.api.server import free_port
from keepclear.domain import Domain, Force, Party
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store.schema import units as units_table

TARGET_REPORTS_PER_S = 100_000
#: Stands for the report time in the pre-encoded bodies: each request carries the time it is sent
#: (as a live feed does), so every report is newer than the unit's last and really updates the picture.
TIME_PLACEHOLDER = "2000-01-01T00:00:00.000Z"


def populate(data_dir: Path, units: int) -> dict[str, str]:
    dep = Deployment.open(Settings(data_dir=data_dir), create=True)
    reg = dep.registry
    for party in ("a", "b"):
        reg.add_party(Party(party, party.upper()))
        reg.add_force(Force(f"f{party}", f"Force {party}", party))
    with dep.db.write() as conn:  # bulk insert: the registry path emits an event per unit, not needed here
        conn.execute(
            units_table.insert(),
            [
                {
                    "id": f"u{i}",
                    "callsign": f"U{i}",
                    "domain": Domain.AIR.value,
                    "kind": "aircraft",
                    "force_id": f"f{'ab'[i % 2]}",
                }
                for i in range(units)
            ],
        )
    keys = {
        "a": dep.keys.create(Role.FEED, "a")[1],
        "b": dep.keys.create(Role.FEED, "b")[1],
        "admin": dep.keys.create(Role.ADMIN, None)[1],
    }
    dep.close()
    return keys


def batches(
    units: int, batch: int, seed: int = 42, spread_deg: float | None = None, shape: str = "rows"
) -> dict[str, list[bytes]]:
    """Pre-encoded request bodies per party: every unit reported once per round, as ``rows`` or ``columns``."""
    rng = np.random.default_rng(seed)
    if spread_deg is None:
        lat = rng.uniform(50, 54, units)
        lon = rng.uniform(2, 8, units)
    else:
        lat = rng.uniform(30, 30 + spread_deg, units)
        lon = rng.uniform(20, 20 + spread_deg, units)
    alt = rng.uniform(3000, 12000, units)
    trk = rng.uniform(0, 2 * np.pi, units)
    gs = rng.uniform(120, 260, units)
    now = TIME_PLACEHOLDER
    out: dict[str, list[bytes]] = {"a": [], "b": []}
    for party, start in (("a", 0), ("b", 1)):
        ids = list(range(start, units, 2))
        for k in range(0, len(ids), batch):
            reports = [
                {
                    "unit_id": f"u{i}",
                    "time": now,
                    "lat_deg": float(lat[i]),
                    "lon_deg": float(lon[i]),
                    "alt_m": float(alt[i]),
                    "vel_east_mps": float(gs[i] * np.sin(trk[i])),
                    "vel_north_mps": float(gs[i] * np.cos(trk[i])),
                    "vel_up_mps": 0.0,
                }
                for i in ids[k : k + batch]
            ]
            if shape == "columns":
                columns = {name: [r[name] for r in reports] for name in reports[0]}
                out[party].append(json.dumps({"columns": columns}).encode())
            else:
                out[party].append(json.dumps({"reports": reports}).encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--spread-deg",
        type=float,
        default=None,
        help="Side of the square the units spread over (default: the reference box 4x6 deg, BlueSky's density x N/1000)",
    )
    parser.add_argument(
        "--shape",
        choices=["rows", "columns"],
        default="columns",
        help="Batch body: one object per report, or one array per field (the high-rate shape; default)",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kc-bench-"))
    keys = populate(folder, args.units)
    bodies = batches(args.units, args.batch, spread_deg=args.spread_deg, shape=args.shape)
    port = free_port()
    env = {**os.environ, "KEEPCLEAR_TICK_S": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(folder), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        accepted = [0] * args.clients
        statuses: dict[int, int] = {}
        stop = threading.Event()

        def client(k: int) -> None:
            party = "ab"[k % 2]
            headers = {"Authorization": f"Bearer {keys[party]}", "content-type": "application/json"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                j = k
                while not stop.is_set():
                    body = bodies[party][j % len(bodies[party])].replace(
                        TIME_PLACEHOLDER.encode(), format_utc(time.time()).encode()
                    )
                    j += 1
                    response = http.post("/v1/tracks", content=body)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 202:
                        accepted[k] += response.json()["accepted"]
                    elif response.status_code == 429:
                        time.sleep(float(response.headers.get("retry-after", "1")))

        samples: list[dict[str, object]] = []
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=30)
        started = time.perf_counter()
        for t in threads:
            t.start()
        while time.perf_counter() - started < args.seconds:
            time.sleep(1.0)
            samples.append(admin.get("/v1/metrics").json())
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        final = admin.get("/v1/metrics").json()
    finally:
        server.terminate()
        server.wait(timeout=600)  # it delivers the events still queued (ledger, hotline) before it exits

    rate = sum(accepted) / elapsed
    probe_times = [float(s["task_duration_s"].get("probe", "nan")) for s in samples if "probe" in s["task_duration_s"]]  # type: ignore[union-attr]
    compute_ms = [float(s["counters"]["probe_compute_ms"]) for s in samples if s["counters"].get("probe_compute_ms")]  # type: ignore[index,union-attr]
    rss_mb = max(int(s["rss_bytes"]) for s in samples) / 2**20  # type: ignore[call-overload]
    print(
        f"units {args.units}, batch {args.batch} reports as {args.shape}, {args.clients} client threads,"
        f" {elapsed:.1f} s, one server process"
    )
    print(f"{'figure':<34}{'value':>14}{'target':>14}{'ratio':>9}")
    print(
        f"{'ingest accepted (reports/s)':<34}{rate:>14,.0f}{TARGET_REPORTS_PER_S:>14,}{rate / TARGET_REPORTS_PER_S:>9.2f}"
    )
    if probe_times:
        print(f"{'probe per tick p50 (ms)':<34}{statistics.median(probe_times) * 1e3:>14.1f}")
        print(f"{'probe per tick max (ms)':<34}{max(probe_times) * 1e3:>14.1f}")
        if compute_ms:
            print(f"{'  of which computing p50 (ms)':<34}{statistics.median(compute_ms):>14.1f}")
    else:
        print(f"{'probe per tick (ms)':<34}{'not wired':>14}")
    print(f"{'ticks (per second)':<34}{final['ticks']:>14}{final['ticks'] / elapsed:>14.2f}")
    interval_s = float(final["counters"].get("tick_interval_max_s", float("nan")))  # type: ignore[attr-defined]
    print(f"{'longest gap between ticks (s)':<34}{interval_s:>14.2f}{1.0:>14.2f}{interval_s:>9.2f}")
    tasks = sorted({name for sample in samples for name in sample["task_duration_s"]})  # type: ignore[attr-defined]
    slowest = {name: max(float(s["task_duration_s"].get(name, 0.0)) for s in samples) for name in tasks}  # type: ignore[attr-defined]
    print(f"{'tick tasks, slowest run (ms)':<34}" + ", ".join(f"{n} {v * 1e3:.0f}" for n, v in slowest.items()))
    print(f"{'server RSS max (MiB)':<34}{rss_mb:>14.0f}")
    print(f"{'HTTP statuses':<34}{json.dumps(statuses):>14}")
    print(f"{'gauges at end':<34}{json.dumps(final['counters'])}")


if __name__ == "__main__":
    main()
