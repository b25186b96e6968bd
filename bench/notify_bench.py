"""Activity notifications per second through a real ``keepclear serve``: checked, recorded, delivered.

One server process per store (SQLite, PostgreSQL) on 127.0.0.1. Party b first notifies
``--stored`` activities (the picture each new one is checked against); then ``--clients`` clients
of party a notify new activities addressed to b as fast as they are answered, for ``--seconds``:
each is read and validated, checked against every stored activity and zone (the strategic index),
stored, staged for the record in its transaction, and delivered on b's live stream, which a client
of b reads throughout, one activity a request (``POST /v1/activities``) and then ``--batch`` sizes
side by side in the same server (``POST /v1/activities/batch``: all or none, one transaction, each
activity checked, recorded and delivered as alone). Printed per store and batch size:
notifications (activities) answered 201 per second, post → answer
latency, post → delivery on b's stream latency, and how long after the last post the record's outbox
was empty (every notification signed into the ledger), and the server's CPU per notification (its
process's CPU over the run, less what it spends idle: the tick and pump threads).

Then, per store, the same app served in this process (Starlette's test client, one request at a
time, ``--stored`` activities first, each batch size): SQL statements per notification (every statement the
deployment's engine executes: the route, the check, the hotline notice, the record's signing) and
CPU milliseconds per notification of the server's threads (the test client's own thread left out).
These do not depend on the machine's load as the rate does.

The anchors are the issue's figures: InterUSS's DSS manages some 6-8 intent writes per second in
one busy cell; the aim is 500/s. Before this version (docs/scale.md) a notification took some 39
statements on PostgreSQL, 46 on SQLite, and 14 ms of CPU served in one process.

    python bench/notify_bench.py --seconds 20 [--stores sqlite,postgres] [--clients 8] [--stored 2000] [--batch 1,50]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from benchdb import fresh_database
from fastapi.testclient import TestClient
from service_bench import UNBOUNDED_ACTIVITY_WRITES, UNBOUNDED_ACTIVITY_WRITES_ENV

from keepclear.api.app import create_app
from keepclear.api.server import free_port
from keepclear.domain import Party
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

TARGET_PER_S = 500.0
DSS_PER_S = 7.0  # InterUSS DSS, one busy cell (the figure, 6-8/s)
LON, LAT = (35.5, 42.5), (32.5, 37.5)


def activity(rng: random.Random, activity_id: str, addressees: list[str]) -> dict[str, Any]:
    """A surveillance flight: a circle of 1-15 km somewhere in the theatre, 1-8 h within 30 days."""
    start_s = time.time() + 3600 + rng.uniform(0, 30 * 86400)
    return {
        "id": activity_id,
        "kind": "surveillance-flight",
        "start": format_utc(start_s),
        "end": format_utc(start_s + rng.uniform(1, 8) * 3600),
        "addressees": addressees,
        "contact": "duty officer",
        "volumes": [
            {
                "circle": {"lat": rng.uniform(*LAT), "lon": rng.uniform(*LON), "radius_m": rng.uniform(1000, 15000)},
                "lower_ft": 0,
                "upper_ft": rng.choice([5000, 15000, 30000]),
            }
        ],
    }


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_cpu_s(leave_out: int) -> float:
    """CPU seconds the threads of this process have used, but thread ``leave_out`` (a native id)."""
    total = 0.0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != leave_out:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def populate(data_dir: Path, database_url: str) -> dict[str, str]:
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=database_url), create=True)
    for party in ("a", "b"):
        dep.registry.add_party(Party(party, party.upper()))
    keys = {
        "a": dep.keys.create(Role.LIAISON, "a")[1],
        "b": dep.keys.create(Role.LIAISON, "b")[1],
        "admin": dep.keys.create(Role.ADMIN, None)[1],
    }
    dep.close()
    return keys


def activity_id_of(body: dict[str, Any]) -> str | None:
    """The activity id an ``activity.notified`` event's data names."""
    found = body.get("activity", body.get("payload", {}).get("activity", {}))
    return str(found["id"]) if isinstance(found, dict) and "id" in found else None


class Reader:
    """A party's live stream (``/v1/stream`` with ``key``): when (``time.perf_counter``) the first
    event of ``kind`` arrived for each id ``ident`` reads from its data (None: not counted); by
    default party b's ``activity.notified`` by activity id."""

    def __init__(
        self,
        base: str,
        key: str,
        kind: str = "activity.notified",
        ident: Callable[[dict[str, Any]], str | None] = activity_id_of,
    ) -> None:
        self.arrived: dict[str, float] = {}
        self._kind, self._ident = kind, ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base, key), daemon=True)
        self._thread.start()

    def _run(self, base: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        try:
            with (
                httpx.Client(base_url=base, headers=headers, timeout=None) as http,
                http.stream("GET", "/v1/stream") as r,
            ):
                kind = ""
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == self._kind:
                        found = self._ident(json.loads(line[6:]))
                        if found is not None:
                            self.arrived.setdefault(found, time.perf_counter())
        except httpx.HTTPError:
            return  # the server stopped

    def stop(self) -> None:
        self._stop.set()


def run_store(store: str, args: argparse.Namespace) -> dict[str, float]:
    with fresh_database(store) as url, tempfile.TemporaryDirectory(prefix="kc-notify-") as folder:
        keys = populate(Path(folder), url)
        port = free_port()
        # the clients notify as fast as they can from one party: not held back by its write rate
        env = {**os.environ, "KEEPCLEAR_DATABASE_URL": url, **UNBOUNDED_ACTIVITY_WRITES_ENV}
        server = subprocess.Popen(
            [sys.executable, "-m", "keepclear.cli.main", "--data-dir", folder, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(1200):
                try:
                    if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            store_picture(base, keys, args)
            results: dict[str, float] = {}
            for size in args.batch_sizes:
                results |= {
                    f"{name} [batch {size}]": v for name, v in measure(base, keys, args, server.pid, size).items()
                }
            return results
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def store_picture(base: str, keys: dict[str, str], args: argparse.Namespace) -> None:
    """Party b's ``--stored`` activities, notified first: what a's are checked against."""
    rng = random.Random(args.seed)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['b']}"}, timeout=60) as b:
        for i in range(args.stored):
            response = b.post("/v1/activities", json=activity(rng, f"b-{i}", ["a"]))
            assert response.status_code == 201, response.text


def post_notifications(http: httpx.Client | TestClient, bodies: list[dict[str, Any]]) -> httpx.Response:
    """One activity to POST /v1/activities, several as one batch to POST /v1/activities/batch."""
    if len(bodies) == 1:
        return http.post("/v1/activities", json=bodies[0])
    return http.post("/v1/activities/batch", json={"activities": bodies})


def measure(
    base: str, keys: dict[str, str], args: argparse.Namespace, server_pid: int, batch_size: int
) -> dict[str, float]:
    """``--clients`` clients of a notify for ``--seconds``, ``batch_size`` activities a request."""
    reader = Reader(base, keys["b"])
    time.sleep(1.0)  # the stream is open
    idle_from_s, idle_cpu_s = time.perf_counter(), process_cpu_s(server_pid)
    time.sleep(2.0)  # what the server spends idle (tick, pump), taken off its CPU below
    idle_cpu_per_s = (process_cpu_s(server_pid) - idle_cpu_s) / (time.perf_counter() - idle_from_s)
    sent: dict[str, float] = {}
    answered_ms: list[float] = []
    statuses: dict[int, int] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def client(k: int) -> None:
        local = random.Random(args.seed + 1 + k)
        headers = {"Authorization": f"Bearer {keys['a']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            n = 0
            while not stop.is_set():
                ids = [f"a-{batch_size}y{k}x{n + i}" for i in range(batch_size)]
                n += batch_size
                bodies = [activity(local, activity_id, ["b"]) for activity_id in ids]
                started = time.perf_counter()
                response = post_notifications(http, bodies)
                took = time.perf_counter() - started
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 201:
                        sent.update(dict.fromkeys(ids, started))
                        answered_ms.append(took * 1000)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    started = time.perf_counter()
    cpu_before = time.process_time()
    server_cpu_before = process_cpu_s(server_pid)
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    server_cpu_s = process_cpu_s(server_pid) - server_cpu_before - idle_cpu_per_s * elapsed
    last_post = time.perf_counter()
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=60)
    drained_s = math.nan
    delivered_all_s = math.nan
    while time.perf_counter() - last_post < 120:
        if math.isnan(delivered_all_s) and all(i in reader.arrived for i in sent):
            delivered_all_s = time.perf_counter() - last_post
        record = admin.get("/v1/metrics").json()["record"]
        if record["waiting"] == 0 and math.isnan(drained_s):
            drained_s = time.perf_counter() - last_post
        if not math.isnan(drained_s) and not math.isnan(delivered_all_s):
            break
        time.sleep(0.1)
    reader.stop()
    delivery_ms = [(reader.arrived[i] - s) * 1000 for i, s in sent.items() if i in reader.arrived]
    return {
        "notifications answered 201 /s": len(sent) / elapsed,
        "ratio to the 500/s aim": len(sent) / elapsed / TARGET_PER_S,
        "ratio to InterUSS DSS (~7/s)": len(sent) / elapsed / DSS_PER_S,
        "post -> 201 p50 ms (the request's)": statistics.median(answered_ms),
        "post -> 201 p99 ms (the request's)": float(sorted(answered_ms)[int(0.99 * (len(answered_ms) - 1))]),
        "post -> b's stream p50 ms": statistics.median(delivery_ms) if delivery_ms else math.nan,
        "post -> b's stream p99 ms": float(sorted(delivery_ms)[int(0.99 * (len(delivery_ms) - 1))])
        if delivery_ms
        else math.nan,
        "delivered to b / answered": len(delivery_ms) / max(1, len(sent)),
        "all delivered, s after the last post": delivered_all_s,
        "record outbox empty, s after the last post": drained_s,
        "other answers": float(sum(n for code, n in statuses.items() if code != 201)),
        "server CPU ms per notification": server_cpu_s * 1000 / max(1, len(sent)),
        "client CPU s (this process)": time.process_time() - cpu_before,
    }


def in_process(store: str, args: argparse.Namespace) -> dict[str, float]:
    """Statements and CPU per notification served in this process, one request at a time, for each
    batch size (see the docstring)."""
    results: dict[str, float] = {}
    with fresh_database(store) as url, tempfile.TemporaryDirectory(prefix="kc-notify-") as folder:
        keys = populate(Path(folder), url)
        settings = Settings(data_dir=Path(folder), database_url=url, **UNBOUNDED_ACTIVITY_WRITES)
        app = create_app(settings)
        statements = [0]
        counting = threading.Event()

        def count(*_: object) -> None:
            if counting.is_set():
                statements[0] += 1

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)  # every engine: SQLite has two
        rng = random.Random(args.seed)
        with TestClient(app) as client:
            for i in range(args.stored):
                response = client.post(
                    "/v1/activities", json=activity(rng, f"b-{i}", ["a"]), headers=_bearer(keys["b"])
                )
                assert response.status_code == 201, response.text
            client.headers.update(_bearer(keys["a"]))
            me = threading.get_native_id()
            time.sleep(1.0)  # the stored ones signed
            idle_from_s, idle_cpu_s = time.perf_counter(), threads_cpu_s(me)
            time.sleep(2.0)
            idle_cpu_per_s = (threads_cpu_s(me) - idle_cpu_s) / (time.perf_counter() - idle_from_s)
            for size in args.batch_sizes:
                count_n = max(size, args.in_process - args.in_process % size)
                bodies = [activity(rng, f"a-{size}y{i}", ["b"]) for i in range(count_n)]
                statements[0] = 0
                counting.set()
                started, cpu_s = time.perf_counter(), threads_cpu_s(me)
                for first in range(0, count_n, size):
                    response = post_notifications(client, bodies[first : first + size])
                    assert response.status_code == 201, response.text
                time.sleep(0.5)  # the last ones signed into the record
                elapsed = time.perf_counter() - started
                cpu_s = threads_cpu_s(me) - cpu_s - idle_cpu_per_s * elapsed
                counting.clear()
                cpu_ms = cpu_s * 1000 / count_n
                results |= {
                    f"in-process: SQL statements per notification [batch {size}]": statements[0] / count_n,
                    f"in-process: server CPU ms per notification [batch {size}]": cpu_ms,
                    f"in-process: one core's ceiling /s [batch {size}]": 1000 / cpu_ms,
                    f"in-process: ceiling / the 500/s aim [batch {size}]": 1000 / cpu_ms / TARGET_PER_S,
                }
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    return results


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--stored", type=int, default=2000, help="activities of b notified first")
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--in-process", type=int, default=300, help="notifications served in this process")
    parser.add_argument(
        "--batch", default="1,50", help="activities a request, side by side (1: POST /v1/activities; more: /batch)"
    )
    args = parser.parse_args()
    args.batch_sizes = [int(size) for size in args.batch.split(",") if size]
    stores = [s for s in args.stores.split(",") if s]
    results = {store: {**run_store(store, args), **in_process(store, args)} for store in stores}
    print(f"activity notifications through keepclear serve: {args.clients} clients of a for {args.seconds:g} s,"
          f" {args.stored:,} activities of b stored first; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  {'':64}" + "".join(f"{s:>12}" for s in stores))
    for name in next(iter(results.values())):
        print(f"  {name:64}" + "".join(f"{results[s][name]:>12.2f}" for s in stores))


if __name__ == "__main__":
    main()
