"""Track ingest through a real `keepclear serve` on 127.0.0.1 while the probe ticks every second.

Prints, per column, the sustained ingest rate against the 100,000 reports/s target, the probe's
time per tick, the gaps between ticks and the server's memory. Two loads: ``steady`` (``--clients``
clients posting ``--batch``-report batches) and ``flood`` (``--flood-clients`` clients posting
``--flood-batch``-report batches as fast as they are answered: the tick must keep its period and
feeds must get 429 rather than a probe running behind), and on demand ``hostile`` (the flood with
each unit five times per batch: valid, but five times dearer to the pump per report). With ``--anchor-src`` the same loads also
run against a server from another source tree (e.g. ``git archive main src | tar -x -C /tmp/main``),
interleaved with this one's runs, so the figures are measured side by side on the same machine.
The server runs in its own process (as in production); the load comes from this process with
pre-encoded batches, so the figure measures the server, not the client.

    python bench/service_bench.py --seconds 15 [--anchor-src /tmp/main/src] [--loads steady,flood]
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from keepclear.api.server import free_port
from keepclear.domain import Domain, Force, Party
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store.schema import units as units_table

TARGET_REPORTS_PER_S = 100_000
#: Stands for the report time in the pre-encoded bodies: each request carries the time it is sent
#: (as a live feed does), so every report is newer than the unit's last and really updates the picture.
TIME_PLACEHOLDER = "2000-01-01T00:00:00.000Z"
#: The most ``activity_writes_per_party_per_s``, ``activity_write_burst``, their vertex bounds
#: (``activity_vertices_per_party_per_s``, ``activity_vertex_burst``) and the body bytes a party
#: sends (``body_bytes_per_party_per_s``, ``body_byte_burst``) allow: a benchmark that
#: notifies as fast as it can from one party measures the notification, not the parties' write rate
#: (as settings; ``UNBOUNDED_ACTIVITY_WRITES_ENV`` as a served process's environment).
UNBOUNDED_ACTIVITY_WRITES: dict[str, Any] = {
    "activity_writes_per_party_per_s": 1_000_000.0,
    "activity_write_burst": 10_000_000,
    "activity_vertices_per_party_per_s": 1_000_000_000.0,
    "activity_vertex_burst": 1_000_000_000,
    "body_bytes_per_party_per_s": 1e12,
    "body_byte_burst": 10**12,
}
UNBOUNDED_ACTIVITY_WRITES_ENV = {
    f"KEEPCLEAR_{name.upper()}": str(value) for name, value in UNBOUNDED_ACTIVITY_WRITES.items()
}


def populate(data_dir: Path, units: int, database_url: str | None = None) -> dict[str, str]:
    """Parties a and b with force fa, fb and ``units`` aircraft u0, u1, … alternately theirs; a feed key
    each and an admin key. SQLite in ``data_dir`` unless ``database_url``."""
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=database_url), create=True)
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
    units: int, batch: int, seed: int = 42, spread_deg: float | None = None, shape: str = "rows", repeats: int = 1
) -> dict[str, list[bytes]]:
    """Pre-encoded request bodies per party: every unit reported once per round, as ``rows`` or ``columns``
    (``repeats``: each unit that many times in its batch, same report: valid, but dearer to the pump)."""
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
        for k in range(0, len(ids), batch // repeats):
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
                for i in ids[k : k + batch // repeats] * repeats
            ]
            if shape == "columns":
                columns = {name: [r[name] for r in reports] for name in reports[0]}
                out[party].append(json.dumps({"columns": columns}).encode())
            else:
                out[party].append(json.dumps({"reports": reports}).encode())
    return out


def serve(folder: Path, src: Path | None, settings: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`keepclear serve` on ``folder`` in its own process (from source tree ``src``, or this one), with
    ``settings`` as environment variables: the process and its address, once it answers its health."""
    port = free_port()
    env = {**os.environ, **settings}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    server = subprocess.Popen(
        [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(folder), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):  # a first start may compile the probe (numba) on a busy machine
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, base


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop a server of ``serve``: it delivers the events still queued (ledger, hotline) before it
    exits, which after a dense scene can take minutes (not measured): killed after a minute."""
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@dataclass(frozen=True)
class Load:
    """One load: how many client threads post batches of how many reports."""

    name: str
    clients: int
    batch: int
    repeats: int = 1


def run_for(seconds: float, stop: threading.Event, *targets: Callable[[], None]) -> None:
    """Run each of ``targets`` on its own thread for ``seconds``, then set ``stop`` and wait for them."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()


def print_side_by_side(results: dict[str, dict[str, Any]]) -> None:
    """A markdown table of each server's figures (``results``: server name → figure → value), one
    column a server, in the order given (the anchor first)."""
    names = list(results)
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for figure in results[names[0]]:
        cells = [results[n][figure] for n in names]
        shown = [f"{c:.3g}" if isinstance(c, float) else str(c) for c in cells]
        print(f"| {figure} | " + " | ".join(shown) + " |")


def run(load: Load, args: argparse.Namespace, src: Path | None, bodies: dict[str, list[bytes]]) -> dict[str, Any]:
    """One server (from ``src``, or this tree), one load for ``args.seconds``: its figures."""
    folder = Path(tempfile.mkdtemp(prefix="kc-bench-"))
    keys = populate(folder, args.units)
    server, base = serve(folder, src, {"KEEPCLEAR_TICK_S": "1"})
    try:
        accepted = [0] * load.clients
        statuses: dict[int, int] = {}
        stop = threading.Event()

        def client(k: int) -> None:
            party = "ab"[k % 2]
            headers = {"Authorization": f"Bearer {keys[party]}", "content-type": "application/json"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
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
                        stop.wait(float(response.headers.get("retry-after", "1")))

        samples: list[dict[str, Any]] = []
        threads = [threading.Thread(target=client, args=(k,)) for k in range(load.clients)]
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=60)
        before = admin.get("/v1/metrics").json()
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
        stop_server(server)

    def durations(name: str) -> list[float]:
        return [float(s["task_duration_s"][name]) for s in samples if name in s["task_duration_s"]]

    probe_s = durations("probe") or [float("nan")]
    pump_s = durations("pump") or [float("nan")]
    return {
        "ingest accepted (reports/s)": sum(accepted) / elapsed,
        "probe per tick p50 (ms)": statistics.median(probe_s) * 1e3,
        "probe per tick max (ms)": max(probe_s) * 1e3,
        "pump chunk max (ms)": max(pump_s) * 1e3,
        "ticks per second": (final["ticks"] - before["ticks"]) / elapsed,
        "longest gap between ticks (s)": float(final["counters"].get("tick_interval_max_s", float("nan"))),
        "ticks late (> half a period)": float(final["counters"].get("tick_late_total", float("nan"))),
        "answers 202": statuses.get(202, 0),
        "answers 429": statuses.get(429, 0),
        "other answers": sum(n for code, n in statuses.items() if code not in (202, 429)),
        "ingest backlog max (s)": max(float(s["counters"].get("ingest_backlog_s", float("nan"))) for s in samples),
        "pump cost (us/report)": float(final["counters"].get("pump_cost_us_per_report", float("nan"))),
        "429 for backlog": float(final["counters"].get("ingest_batches_refused_backlog_total", float("nan"))),
        "429 for a late tick": float(final["counters"].get("ingest_batches_refused_probe_late_total", float("nan"))),
        "server RSS max (MiB)": max(int(s["rss_bytes"]) for s in samples) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--flood-batch", type=int, default=10_000)
    parser.add_argument("--flood-clients", type=int, default=6)
    parser.add_argument(
        "--loads",
        default="steady,flood",
        help="Loads to run, comma separated: steady, flood, hostile (the flood with each unit 5 times per batch)",
    )
    parser.add_argument("--anchor-src", type=Path, default=None, help="Source tree (its src/) of the anchor server")
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

    loads = {
        "steady": Load("steady", args.clients, args.batch),
        "flood": Load("flood", args.flood_clients, args.flood_batch),
        "hostile": Load("hostile", args.flood_clients, args.flood_batch, repeats=5),
    }
    chosen = [loads[name] for name in args.loads.split(",")]
    trees: list[tuple[str, Path | None]] = [("this", None)]
    if args.anchor_src is not None:
        trees.insert(0, ("anchor", args.anchor_src))
    columns: dict[str, dict[str, Any]] = {}
    for load in chosen:
        bodies = batches(args.units, load.batch, spread_deg=args.spread_deg, shape=args.shape, repeats=load.repeats)
        for tree, src in trees:  # interleaved: each load runs on the anchor, then on this tree
            columns[f"{load.name} {tree}"] = run(load, args, src, bodies)

    print(
        f"units {args.units}, {args.shape}; "
        + "; ".join(f"{load.name}: {load.clients} clients x {load.batch}-report batches" for load in chosen)
        + f"; {args.seconds:g} s each; one server process; tick_s 1; target {TARGET_REPORTS_PER_S:,} reports/s"
    )
    names = list(columns)
    figures = list(next(iter(columns.values())))
    print(f"{'figure':<32}" + "".join(f"{name:>16}" for name in names))
    for figure in figures:
        print(f"{figure:<32}" + "".join(f"{columns[name][figure]:>16,.1f}" for name in names))
    if args.anchor_src is not None:
        print(f"{'ratio this / anchor':<32}")
        for load in chosen:
            anchor, this = columns[f"{load.name} anchor"], columns[f"{load.name} this"]
            for figure in ("ingest accepted (reports/s)", "longest gap between ticks (s)"):
                ratio = this[figure] / anchor[figure] if anchor[figure] else float("nan")
                print(f"  {load.name} {figure:<30}{ratio:>10.2f}")


if __name__ == "__main__":
    main()
