"""Issue 20's performance side by side in one run: 1 and 2 API processes, 1 and 2 detector workers,
on the 3-node JetStream cluster of ``scripts/cluster`` and PostgreSQL.

Every keepclear process is started here (``keepclear serve --reuse-port`` on one port with
``bus_url``, ``keepclear worker detect --worker-index I --workers N``), each topology on a fresh
PostgreSQL schema; the cluster is this bench's own (``KEEPCLEAR_CLUSTER_PORT_OFFSET``; ``scripts/cluster
up`` is run first), and its streams KEEPCLEAR_TRACKS and KEEPCLEAR_EVENTS are purged before each
topology, so no run reads the one before. Three phases, each bounded by its options:

1. **hotline** (``--api``): ``--pairs`` sender/reader pairs of parties post over the hotline socket
   (``hotline_bench.drive``, one standing thread per pair); the kernel spreads the connections over
   the processes, and a reader on another process than its sender gets the messages over the bus. For
   each limit of ``--p99-ms`` (the issue's 50 ms, and a loose one that finds the capacity) a step
   search raises the offered rate (×``--growth``, then halving the interval) until p99 post →
   delivery reaches the limit, a message is lost or the rate is not kept. Printed per process count:
   the highest passing rate, its p50/p99, CPU per message of the servers (from /proc) and of the NATS
   nodes, the servers' CPU while idle, the bus's events per message (each process's /v1/metrics), and
   the ratio of 2 processes to 1 (aim ≥ 1.8×).
2. **ingest** (``--grid``, API processes × workers, with ``detect_in_workers``): ``--feed-clients``
   clients post column batches of ``--batch`` reports of ``--units`` aircraft to POST /v1/tracks as
   fast as they are answered for ``--ingest-s``, then the bench waits until the ingest queues are
   empty and the workers' consumers hold nothing (the drain): reports/s accepted (202), reports/s each
   worker took over flood and drain (``feed_reports_total`` of its status lines: its cells and halo,
   so the workers' sum may exceed the accepted), ticks/s and units probed/s (tracks in its table ×
   ticks/s), CPU-s/s of each group during the flood and CPU-µs per accepted report.
3. **latency**, in the same topologies: the units reported at ``--latency-rate`` reports/s in all
   while a converging pair of aircraft of parties a and b (6.7 km apart, closing) appears every
   ``--pair-every-s``: the time from the report that completes a pair to ``alert.raised`` for it on
   party b's ``/v1/stream``, p50/p99 (the issue's load is 100,000 reports/s; what the machine
   reaches is printed beside it).

On the shared 2-core development machine the client, the servers, the workers, the three NATS nodes,
PostgreSQL and other work share the cores: read every figure as a floor, and the ratios as what two
processes give where there are no spare cores for them.

    scripts/cluster up && .venv/bin/python bench/cluster_bench.py --quick
    .venv/bin/python bench/cluster_bench.py --phases hotline --api 1,2 --step-s 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
from benchdb import fresh_database
from hotline_bench import Run, Target, _service_target, drive, prepare_service
from hotline_server import UNBOUNDED_POSTS_ENV
from nats.js.errors import NotFoundError
from notify_bench import Reader
from service_bench import TARGET_REPORTS_PER_S, TIME_PLACEHOLDER, batches, populate

from keepclear.domain import Domain, Unit
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.nats_messages import STREAM as EVENTS_STREAM
from keepclear.services.runtime.nats_tracks import TRACK_STREAM
from keepclear.settings import Settings

REPO = Path(__file__).resolve().parents[1]
KEEPCLEAR = [sys.executable, "-m", "keepclear.cli.main"]
P99_LIMIT_MS = 50.0
RATIO_TARGET = 1.8
#: Longest a topology may take to be ready (a cold start compiles the probe's kernels).
START_S = 240.0
#: With ``--separate-ports`` API process k listens on the port + k × this (each its own address).
SEPARATE_PORT_STEP = 50
#: A pair converges from 0.03° either side of its latitude at 60 m/s each: 6.7 km apart, under 5 NM.
PAIR_OFFSET_DEG, PAIR_SPEED_MPS, PAIR_ALT_M = 0.03, 60.0, 7_000.0


def cluster_offset() -> int:
    return int(os.environ.get("KEEPCLEAR_CLUSTER_PORT_OFFSET", "0"))


def nats_servers(offset: int) -> list[str]:
    """The client URLs of ``scripts/cluster``'s three nodes at ``offset``."""
    return [f"nats://127.0.0.1:{4230 + offset + k}" for k in (1, 2, 3)]


def nats_pids() -> list[int]:
    """The NATS nodes' pids (their pid files in the cluster's run folder), for their CPU."""
    run_dir = Path(os.environ.get("KEEPCLEAR_CLUSTER_DIR", REPO / ".cluster"))
    pids = []
    for k in (1, 2, 3):
        try:
            pids.append(int((run_dir / f"n{k}.pid").read_text().strip()))
        except (OSError, ValueError):
            continue
    return pids


def cpu_s(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has spent (all its threads), from /proc; 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def purge_streams(servers: list[str]) -> None:
    """Empty the bench cluster's track and event streams (a topology never reads the one before)."""

    async def purge() -> None:
        nc = await nats.connect(servers, connect_timeout=5)
        js = nc.jetstream(timeout=10)
        for stream in (TRACK_STREAM, EVENTS_STREAM):
            with suppress(NotFoundError):
                await js.purge_stream(stream)
        await nc.close()

    asyncio.run(purge())


class Proc:
    """One keepclear process of the bench: its log file, its CPU, the JSON lines of its stderr (time
    read, object), and whether it printed ``ready`` (a line holding the marker)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path, ready_marker: str) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        self.lines: list[tuple[float, dict[str, Any]]] = []
        self.ready = threading.Event()
        self._stdout = (folder / f"{name}.out").open("w")
        self.popen = subprocess.Popen(
            [*KEEPCLEAR, *args],
            env=env,
            stdout=self._stdout,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, args=(ready_marker,), daemon=True)
        self._reader.start()

    def _read(self, marker: str) -> None:
        assert self.popen.stderr is not None
        with self.log.open("w") as log:
            for line in self.popen.stderr:
                log.write(line)
                log.flush()
                if marker in line:
                    self.ready.set()
                if line.startswith("{"):
                    with suppress(ValueError):
                        self.lines.append((time.perf_counter(), json.loads(line)))

    def cpu_s(self) -> float:
        return cpu_s(self.popen.pid)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self._reader.join(timeout=5)
        self._stdout.close()


@dataclass
class Topology:
    """The processes of one topology and where clients reach them."""

    base: str
    apis: list[Proc]
    workers: list[Proc]
    worker_names: list[str]  # their names: their consumers are keepclear-detect-<name>
    folder: Path
    #: Each API process's own address with ``--separate-ports`` (the hotline phase); else ``[base]``.
    bases: list[str] = field(default_factory=list)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far by group: API processes, workers, NATS nodes, this client."""
        return {
            "api": sum(p.cpu_s() for p in self.apis),
            "workers": sum(p.cpu_s() for p in self.workers),
            "nats": sum(cpu_s(pid) for pid in nats_pids()),
            "client": time.process_time(),
        }


@contextmanager
def topology(
    args: argparse.Namespace, tag: str, api: int, workers: int, url: str, data_dir: Path, port: int, folder: Path
) -> Iterator[Topology]:
    """``api`` ``keepclear serve --reuse-port`` on ``port`` and ``workers`` detector workers (with
    ``detect_in_workers`` when there are any), all on ``url`` and the bench's cluster, until the block ends."""
    env = {
        **os.environ,
        "KEEPCLEAR_BUS_URL": ",".join(args.servers),
        "KEEPCLEAR_DATABASE_URL": url,
        "KEEPCLEAR_TICK_S": str(args.tick_s),
        "KEEPCLEAR_DETECT_IN_WORKERS": "true" if workers else "false",
        **UNBOUNDED_POSTS_ENV,  # the hotline phase posts thousands a second from a party
    }
    common = ["--data-dir", str(data_dir)]
    with ExitStack() as stack:
        procs: list[Proc] = []

        def start(name: str, command: list[str], marker: str) -> Proc:
            proc = Proc(name, [*common, *command], env, folder, marker)
            procs.append(proc)
            stack.callback(proc.stop)
            return proc

        separate = getattr(args, "separate", False) and not workers
        ports = [port + SEPARATE_PORT_STEP * k if separate else port for k in range(api)]
        apis = [
            start(f"{tag}-api{k}", ["serve", "--port", str(ports[k]), "--reuse-port"], "ready: http")
            for k in range(api)
        ]
        # a worker of --workers is named after its share (its consumer keepclear-detect-w<k>of<N>); the
        # streams are purged and the schema fresh for each topology, so the names may repeat
        names = [f"w{k}of{workers}" for k in range(workers)]
        found = [
            start(
                f"{tag}-w{k}",
                [
                    "worker",
                    "detect",
                    "--worker-index",
                    str(k),
                    "--workers",
                    str(workers),
                    "--status-every-s",
                    str(args.status_every_s),
                ],
                '"ready": true',
            )
            for k in range(workers)
        ]
        deadline = time.monotonic() + START_S
        for proc in procs:
            while not proc.ready.wait(0.2):
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{proc.name} did not start: {proc.log.read_text()[-3000:]}")
        bases = [f"http://127.0.0.1:{p}" for p in sorted(set(ports))]
        yield Topology(bases[0], apis, found, names, folder, bases)


def metrics_by_process(base: str, admin_key: str, processes: int, tries: int = 60) -> dict[int, dict[str, Any]]:
    """``/v1/metrics`` of each API process behind the shared port, by process id (a new connection each
    try, which the kernel hands to either)."""
    found: dict[int, dict[str, Any]] = {}
    for _ in range(tries):
        if len(found) >= processes:
            break
        try:
            answer = httpx.get(f"{base}/v1/metrics", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10)
            found[answer.json()["process_id"]] = answer.json()
        except (httpx.HTTPError, ValueError, KeyError):
            time.sleep(0.1)
    return found


def counter_sum(metrics: dict[int, dict[str, Any]], name: str) -> float:
    """``name`` of the metrics' counters summed over the processes."""
    return float(sum(m["counters"].get(name, 0) for m in metrics.values()))


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``values`` (nan when empty)."""
    if not values:
        return math.nan, math.nan
    p50, p99 = np.percentile(np.array(values), [50, 99])
    return float(p50), float(p99)


# --- phase 1: the hotline -------------------------------------------------------------------------


@dataclass
class Step:
    """One offered rate held for a step: what came of it."""

    offered: float
    achieved: float
    posted: int
    delivered: int
    errors: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    nats_cpu_s: float
    client_cpu_s: float

    limit_ms: float = P99_LIMIT_MS  # the p99 the step was held to

    @property
    def ok(self) -> bool:
        """Everything delivered once, the rate kept, p99 under the limit."""
        return (
            self.delivered == self.posted
            and self.errors == 0
            and self.duplicates == 0
            and self.p99_ms < self.limit_ms
            and self.achieved >= 0.95 * self.offered
        )


def hotline_step(
    topo: Topology, targets: list[Target], rate: float, seconds: float, prefix: str, seqs: dict[str, int]
) -> Step:
    """Post at ``rate`` messages/s in all, spread over ``targets``, for ``seconds``."""

    async def all_pairs() -> list[Run]:
        return list(
            await asyncio.gather(*(drive(t, seconds, rate / len(targets), prefix, seqs[t.thread_id]) for t in targets))
        )

    before = topo.cpu()
    # As in hotline_bench: the client's collector would only add pauses to its own clock readings.
    gc.disable()
    try:
        runs = asyncio.run(all_pairs())
    finally:
        gc.enable()
    after = topo.cpu()
    for t, run in zip(targets, runs, strict=True):
        seqs[t.thread_id] = run.last_seq
    posted = sum(len(r.sent_at) for r in runs)
    p50, p99 = percentiles([ms for r in runs for ms in r.delivered_ms])
    return Step(
        offered=rate,
        achieved=posted / max(r.send_seconds for r in runs),
        posted=posted,
        delivered=sum(len(r.delivered_keys) for r in runs),
        errors=sum(len(r.errors) for r in runs),
        duplicates=sum(r.duplicates for r in runs),
        p50_ms=p50,
        p99_ms=p99,
        server_cpu_s=after["api"] - before["api"],
        nats_cpu_s=after["nats"] - before["nats"],
        client_cpu_s=after["client"] - before["client"],
    )


def hotline_phase(
    args: argparse.Namespace, api: int, port: int
) -> tuple[float, dict[float, list[Step]], dict[str, float]]:
    """The step search on ``api`` processes for each p99 limit of ``--p99-ms``: the servers' CPU-s/s
    while idle, every step, passing or not, and the bus's events per message posted."""
    pairs = [(f"s{k}", f"r{k}") for k in range(args.pairs)]
    searches: dict[float, list[Step]] = {}
    with (
        fresh_database("postgres") as url,
        tempfile.TemporaryDirectory(prefix="kc-cluster-bench-") as tmp,
    ):
        folder = Path(tmp)
        keys = prepare_service(url, folder / "data", tuple(p for pair in pairs for p in pair))
        dep = Deployment.open(Settings(data_dir=folder / "data", database_url=url))
        admin_key = dep.keys.create(Role.ADMIN, None)[1]
        dep.close()
        purge_streams(args.servers)
        with topology(args, f"hot{api}", api, 0, url, folder / "data", port, folder) as topo:
            # With --separate-ports pair k posts and reads on process k % api: no message crosses.
            targets = [_service_target(topo.bases[k % len(topo.bases)], keys, pair) for k, pair in enumerate(pairs)]
            seqs = {t.thread_id: 0 for t in targets}
            before, idle_t0 = topo.cpu(), time.perf_counter()
            time.sleep(3.0)
            idle = (topo.cpu()["api"] - before["api"]) / (time.perf_counter() - idle_t0)
            print(f"  hotline {api} API: idle, the servers spend {idle:.2f} CPU-s/s", flush=True)
            if args.warmup_s:  # first connections, caches, the JIT: not counted
                hotline_step(topo, targets, args.start_rate, args.warmup_s, "warmup", seqs)
            per_base = api // len(topo.bases)
            bus_before = {k: v for b in topo.bases for k, v in metrics_by_process(b, admin_key, per_base).items()}
            for limit_ms in args.p99_ms:
                steps = searches[limit_ms] = []
                low, high, rate = 0.0, math.inf, args.start_rate
                for k in range(args.max_steps):
                    step = hotline_step(topo, targets, rate, args.step_s, f"p{limit_ms:g}s{k}", seqs)
                    step.limit_ms = limit_ms
                    steps.append(step)
                    print(
                        f"  hotline {api} API, p99 < {limit_ms:g} ms: offered {rate:6.0f}/s achieved {step.achieved:6.0f}/s"
                        f" p50 {step.p50_ms:6.1f} p99 {step.p99_ms:7.1f} ms delivered {step.delivered}/{step.posted}"
                        f" errors {step.errors} servers {step.server_cpu_s / max(1, step.posted) * 1e3:.2f} CPU-ms/msg"
                        f" {'pass' if step.ok else 'FAIL'}; load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    if step.ok:
                        low = rate
                    else:
                        high = rate
                    if high < math.inf and (
                        (low == 0 and rate < args.start_rate / 8) or high / max(low, 1) < args.resolution
                    ):
                        break
                    rate = rate * args.growth if high == math.inf else (low + high) / 2 if low else rate / 2
                    time.sleep(1.0)  # the servers settle between steps
            bus_after = {k: v for b in topo.bases for k, v in metrics_by_process(b, admin_key, per_base).items()}
    posted = sum(step.posted for steps in searches.values() for step in steps)
    bus = {
        name: (counter_sum(bus_after, name) - counter_sum(bus_before, name)) / max(1, posted)
        for name in ("bus_published_total", "bus_delivered_total")
    }
    bus["processes_seen"] = float(min(len(bus_before), len(bus_after)))
    print(
        f"  hotline {api} API: per message posted, {bus['bus_published_total']:.2f} events published to the bus,"
        f" {bus['bus_delivered_total']:.2f} delivered from it (metrics of {bus['processes_seen']:.0f} processes)",
        flush=True,
    )
    return idle, searches, bus


# --- phases 2 and 3: ingest, probe, alert latency --------------------------------------------------


def add_pairs(data_dir: Path, url: str, pairs: int) -> dict[str, str]:
    """Units pa<k> (party a) and pb<k> (party b) for the latency pairs; a liaison key for b (its stream)."""
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=url))
    try:
        for k in range(pairs):
            for party in ("a", "b"):
                dep.registry.add_unit(Unit(f"p{party}{k}", f"P{party.upper()}{k}", Domain.AIR, "fighter", f"f{party}"))
        return {"b-liaison": dep.keys.create(Role.LIAISON, "b")[1]}
    finally:
        dep.close()


@dataclass
class Feeds:
    """Feed clients posting pre-encoded batches of both parties: what they were answered."""

    base: str
    keys: dict[str, str]
    bodies: dict[str, list[bytes]]
    clients: int
    batch: int  # reports a body
    rate: float | None = None  # reports/s in all, or None: as fast as answered
    accepted: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(self.clients)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def _client(self, k: int) -> None:
        party = "ab"[k % 2]
        bodies = self.bodies[party]
        per_party = max(1, (self.clients + 1 - k % 2) // 2)
        headers = {"Authorization": f"Bearer {self.keys[party]}", "content-type": "application/json"}
        interval_s = self.batch / (self.rate / self.clients) if self.rate else 0.0
        due = time.perf_counter() + random.uniform(0, interval_s)
        with httpx.Client(base_url=self.base, headers=headers, timeout=60) as http:
            j = k // 2
            while not self._stop.is_set():
                if interval_s:
                    if self._stop.wait(max(0.0, due - time.perf_counter())):
                        return
                    due += interval_s
                body = bodies[j % len(bodies)].replace(TIME_PLACEHOLDER.encode(), format_utc(time.time()).encode())
                j += per_party
                response = http.post("/v1/tracks", content=body)
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 202:
                        self.accepted += response.json()["accepted"]
                if response.status_code == 429:
                    self._stop.wait(float(response.headers.get("retry-after", "1")))


def worker_rates(proc: Proc, t0: float, t1: float) -> dict[str, float]:
    """A worker's ticks per second and tracks between its first status line after ``t0`` and its last
    before ``t1``."""
    lines = [(t, line) for t, line in proc.lines if t0 <= t <= t1 and "feed_reports_total" in line]
    if len(lines) < 2:
        return {"ticks_per_s": math.nan, "tracks": math.nan}
    (ta, a), (tb, b) = lines[0], lines[-1]
    return {"ticks_per_s": (b["ticks"] - a["ticks"]) / (tb - ta), "tracks": float(b["tracks"])}


def taken_total(proc: Proc) -> float:
    """The reports a worker has taken from the bus, as its last status line says."""
    lines = [line for _, line in proc.lines if "feed_reports_total" in line]
    return float(lines[-1]["feed_reports_total"]) if lines else 0.0


def pending_reports(servers: list[str], consumers: list[str]) -> int:
    """Messages of the track stream the workers' durable ``consumers`` have not yet acknowledged."""

    async def pending() -> int:
        nc = await nats.connect(servers, connect_timeout=5)
        js = nc.jetstream(timeout=10)
        total = 0
        for name in consumers:
            info = await js.consumer_info(TRACK_STREAM, name)
            total += info.num_pending + info.num_ack_pending
        await nc.close()
        return total

    return asyncio.run(pending())


def drain(args: argparse.Namespace, topo: Topology, admin_key: str) -> float:
    """Seconds until the API processes' ingest queues are empty and the workers have acknowledged every
    track message (their consumers' pending and unacknowledged counts 0), at most ``--drain-limit-s``
    (then nan)."""
    t0 = time.perf_counter()
    consumers = [f"keepclear-detect-{name}" for name in topo.worker_names]
    while time.perf_counter() - t0 < args.drain_limit_s:
        metrics = metrics_by_process(topo.base, admin_key, len(topo.apis))
        queued = sum(m["ingest_queued"] for m in metrics.values())
        if len(metrics) == len(topo.apis) and queued == 0 and pending_reports(args.servers, consumers) == 0:
            return time.perf_counter() - t0
        time.sleep(0.5)
    return math.nan


def ingest_window(
    args: argparse.Namespace, topo: Topology, keys: dict[str, str], bodies: dict[str, list[bytes]]
) -> dict[str, Any]:
    """The feed clients as fast as answered for ``--ingest-s``, then the wait until the workers have
    taken it all: reports accepted per second of the flood, taken per second of flood and drain (each
    worker its cells and halo), units probed per second, CPU per second of the flood and per report."""
    feeds = Feeds(topo.base, keys, bodies, args.feed_clients, args.batch)
    taken0 = [taken_total(w) for w in topo.workers]
    before, t0 = topo.cpu(), time.perf_counter()
    feeds.start()
    time.sleep(args.ingest_s)
    feeds.stop()
    elapsed = time.perf_counter() - t0
    after = topo.cpu()
    drained_s = drain(args, topo, keys["admin"])
    span_s = time.perf_counter() - t0
    after_all = topo.cpu()
    time.sleep(1.5 * args.status_every_s)  # the workers' status lines after the drain
    per_worker = [worker_rates(w, t0, t0 + elapsed) for w in topo.workers]
    for w, start, rates in zip(topo.workers, taken0, per_worker, strict=True):
        rates["taken_per_s"] = (taken_total(w) - start) / span_s
    return {
        "drained_s": drained_s,
        "accepted_per_s": feeds.accepted / elapsed,
        "answers": dict(feeds.statuses),
        "workers": per_worker,
        "taken_per_s": sum(w["taken_per_s"] for w in per_worker),
        "probed_per_s": sum(w["tracks"] * w["ticks_per_s"] for w in per_worker),
        "cpu_per_s": {group: (after[group] - before[group]) / elapsed for group in after},
        "cpu_us_per_report": {
            group: (after_all[group] - before[group]) / max(1, feeds.accepted) * 1e6 for group in after_all
        },
    }


def pair_of(body: dict[str, Any]) -> str | None:
    """``p<k>`` when an alert event's data is about latency pair k (units pa<k> and pb<k>)."""
    payload = body.get("payload", body)
    units = sorted(str(payload.get(u, "")) for u in ("unit_a", "unit_b"))
    if units[0].startswith("pa") and units[1] == "pb" + units[0][2:]:
        return "p" + units[0][2:]
    return None


def pair_reports(ks: list[int], party: str, places: np.ndarray, t0: dict[int, float], now: float) -> dict[str, Any]:
    """Reports of the pairs ``ks``' units of ``party`` at ``now``: a north-bound south of the pair's
    latitude, b south-bound north of it."""
    sign = 1.0 if party == "a" else -1.0
    reports = []
    for k in ks:
        lat, lon = places[k]
        age_s = now - t0.get(k, now)
        reports.append(
            {
                "unit_id": f"p{party}{k}",
                "time": format_utc(now),
                "lat_deg": float(lat - sign * PAIR_OFFSET_DEG + sign * PAIR_SPEED_MPS * age_s / 111_000),
                "lon_deg": float(lon),
                "alt_m": PAIR_ALT_M,
                "vel_north_mps": sign * PAIR_SPEED_MPS,
            }
        )
    return {"reports": reports}


def latency_window(
    args: argparse.Namespace, topo: Topology, keys: dict[str, str], bodies: dict[str, list[bytes]]
) -> dict[str, Any]:
    """Background reports at ``--latency-rate`` and a new converging pair every ``--pair-every-s``:
    report → alert on b's stream."""
    reader = Reader(topo.base, keys["b-liaison"], kind="alert.raised", ident=pair_of)
    time.sleep(1.0)  # the stream is open
    feeds = Feeds(topo.base, keys, bodies, args.feed_clients, args.batch, rate=args.latency_rate)
    rng = np.random.default_rng(7)
    places = np.column_stack(
        [
            rng.uniform(31, 29 + args.spread_deg, args.latency_pairs),
            rng.uniform(21, 19 + args.spread_deg, args.latency_pairs),
        ]
    )
    completed: dict[int, float] = {}  # pair → perf_counter when its b report was sent (the pair complete)
    first_seen_s: dict[int, float] = {}  # pair → wall time of its first reports
    before, t_start = topo.cpu(), time.perf_counter()
    feeds.start()
    clients = {
        p: httpx.Client(base_url=topo.base, headers={"Authorization": f"Bearer {keys[p]}"}, timeout=30) for p in "ab"
    }
    introduced = 0
    next_pair = time.perf_counter()
    try:
        while time.perf_counter() - t_start < args.latency_s:
            now_perf, now = time.perf_counter(), time.time()
            if introduced < args.latency_pairs and now_perf >= next_pair:
                first_seen_s[introduced] = now
                introduced += 1
                next_pair += args.pair_every_s
            live = [
                k
                for k in range(introduced)
                if f"p{k}" not in reader.arrived and now - first_seen_s[k] < args.alert_timeout_s
            ]
            if live:
                for p in "ab":
                    new = [k for k in live if k not in completed]
                    if p == "b":
                        for k in new:
                            completed[k] = time.perf_counter()
                    answer = clients[p].post("/v1/tracks", json=pair_reports(live, p, places, first_seen_s, now))
                    if answer.status_code != 202:
                        print(f"  pair reports of {p}: {answer.status_code} {answer.text[:200]}", flush=True)
            time.sleep(max(0.0, 0.5 - (time.perf_counter() - now_perf)))
        time.sleep(min(args.alert_timeout_s, 5.0))  # the last pairs' alerts
    finally:
        feeds.stop()
        for c in clients.values():
            c.close()
        reader.stop()
    elapsed = time.perf_counter() - t_start
    after = topo.cpu()
    latencies = [(reader.arrived[f"p{k}"] - t) * 1e3 for k, t in completed.items() if f"p{k}" in reader.arrived]
    p50, p99 = percentiles(latencies)
    return {
        "background_per_s": feeds.accepted / elapsed,
        "answers": dict(feeds.statuses),
        "pairs": len(completed),
        "alerted": len(latencies),
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": max(latencies, default=math.nan),
        "cpu_per_s": {group: (after[group] - before[group]) / elapsed for group in after},
    }


def detect_phase(
    args: argparse.Namespace, api: int, workers: int, port: int, bodies: dict[str, list[bytes]]
) -> dict[str, Any]:
    """One topology of API processes and workers: its ingest and latency figures."""
    with (
        fresh_database("postgres") as url,
        tempfile.TemporaryDirectory(prefix="kc-cluster-bench-") as tmp,
    ):
        folder = Path(tmp)
        keys = populate(folder / "data", args.units, database_url=url)
        keys.update(add_pairs(folder / "data", url, args.latency_pairs))
        purge_streams(args.servers)
        tag = f"det{api}x{workers}-{os.getpid()}"
        with topology(args, tag, api, workers, url, folder / "data", port, folder) as topo:
            out: dict[str, Any] = {}
            if "ingest" in args.phases:
                out["ingest"] = ingest_window(args, topo, keys, bodies)
                i = out["ingest"]
                print(
                    f"  ingest {api} API x {workers} workers: accepted {i['accepted_per_s']:,.0f}/s, workers took "
                    f"{i['taken_per_s']:,.0f}/s ({', '.join(format(w['taken_per_s'], ',.0f') for w in i['workers'])}),"
                    f" probed {i['probed_per_s']:,.0f} units/s, answers {i['answers']}, backlog taken"
                    f" {i['drained_s']:.1f} s after; CPU µs a report: "
                    + ", ".join(f"{g} {v:.0f}" for g, v in i["cpu_us_per_report"].items())
                    + f"; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            if "latency" in args.phases:
                out["latency"] = latency_window(args, topo, keys, bodies)
                lat = out["latency"]
                print(
                    f"  latency {api} API x {workers} workers: background {lat['background_per_s']:,.0f}/s, "
                    f"{lat['alerted']}/{lat['pairs']} pairs alerted, p50 {lat['p50_ms']:.0f} p99 {lat['p99_ms']:.0f} ms; "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        return out


# --- the run and its table -------------------------------------------------------------------------


def best(steps: list[Step]) -> Step | None:
    passing = [s for s in steps if s.ok]
    return max(passing, key=lambda s: s.achieved) if passing else None


def print_hotline(
    results: dict[int, tuple[float, dict[float, list[Step]], dict[str, float]]], args: argparse.Namespace
) -> None:
    print(f"\nhotline: post → delivery over the hotline socket, {args.pairs} sender/reader pairs, steps of {args.step_s:g} s;"
          " the highest rate with p99 under the limit, nothing lost, the rate kept"
          + ("; each process on a port of its own, no message crossing" if args.separate else ""))  # fmt: skip
    head = (
        f"{'p99 limit':>9} {'API procs':>9} {'msgs/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'server CPU-ms/msg':>18}"
        f" {'NATS CPU-ms/msg':>16} {'idle CPU-s/s':>12} {'first failing':>22}"
    )
    print(head)
    print("-" * len(head))
    for limit_ms in args.p99_ms:
        top: dict[int, Step | None] = {}
        for api, (idle, searches, _bus) in results.items():
            steps = searches.get(limit_ms, [])
            b = top[api] = best(steps)
            failing = [s for s in steps if not s.ok]
            fail = min(failing, key=lambda s: s.offered) if failing else None
            fail_text = f"{fail.offered:.0f}/s: p99 {fail.p99_ms:.0f} ms" if fail else "none"
            if b is None:
                print(
                    f"{limit_ms:>9g} {api:>9} {'none':>8} {'':>7} {'':>7} {'':>18} {'':>16} {idle:>12.2f} {fail_text:>22}"
                )
                continue
            print(
                f"{limit_ms:>9g} {api:>9} {b.achieved:>8.0f} {b.p50_ms:>7.1f} {b.p99_ms:>7.1f}"
                f" {b.server_cpu_s / b.posted * 1e3:>18.2f} {b.nats_cpu_s / b.posted * 1e3:>16.2f} {idle:>12.2f}"
                f" {fail_text:>22}"
            )
        one, two = top.get(1), top.get(2)
        if one and two:
            print(
                f"{'':>9} ratio 2/1: msgs/s {two.achieved / one.achieved:.2f}x (aim >= {RATIO_TARGET}x), server CPU"
                f" per message {(two.server_cpu_s / two.posted) / (one.server_cpu_s / one.posted):.2f}x"
            )
    for api, (_idle, _searches, bus) in results.items():
        print(
            f"{api} API: per message posted {bus['bus_published_total']:.2f} events published to the bus,"
            f" {bus['bus_delivered_total']:.2f} delivered from it to another process"
        )


def print_detect(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\ningest, probe and alert latency: {args.units:,} aircraft over {args.spread_deg:g}° x {args.spread_deg:g}°,"
          f" {args.feed_clients} feed clients x {args.batch}-report column batches, tick_s {args.tick_s:g}")  # fmt: skip
    head = (
        f"{'API x wrk':>9} {'accepted/s':>11} {'429':>5} {'taken/s':>9} {'probed/s':>9} {'CPU/s api':>9} {'wrk':>5}"
        f" {'nats':>5} {'client':>6} {'drain s':>7} {'µs/rep':>6} {'bg rep/s':>9} {'alerted':>8} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        i, lat = r.get("ingest", {}), r.get("latency", {})
        cpu = i.get("cpu_per_s", {})
        print(
            f"{name:>9} {i.get('accepted_per_s', math.nan):>11,.0f} {i.get('answers', {}).get(429, 0):>5}"
            f" {i.get('taken_per_s', math.nan):>9,.0f} {i.get('probed_per_s', math.nan):>9,.0f}"
            f" {cpu.get('api', math.nan):>9.2f} {cpu.get('workers', math.nan):>5.2f} {cpu.get('nats', math.nan):>5.2f}"
            f" {cpu.get('client', math.nan):>6.2f} {i.get('drained_s', math.nan):>7.1f}"
            f" {sum(i.get('cpu_us_per_report', {}).get(g, math.nan) for g in ('api', 'workers', 'nats')):>6.0f}"
            f" {lat.get('background_per_s', math.nan):>9,.0f}"
            f" {str(lat.get('alerted', '')) + '/' + str(lat.get('pairs', '')):>8}"
            f" {lat.get('p50_ms', math.nan):>7.0f} {lat.get('p99_ms', math.nan):>7.0f}"
        )
    base = results.get("1x1", {}).get("ingest")
    if base:
        for name, r in results.items():
            if name != "1x1" and "ingest" in r:
                i = r["ingest"]
                print(
                    f"ratio {name}/1x1: accepted {i['accepted_per_s'] / base['accepted_per_s']:.2f}x,"
                    f" probed {i['probed_per_s'] / base['probed_per_s']:.2f}x"
                )
    print(f"target: {TARGET_REPORTS_PER_S:,} reports/s at 10,000 units (issue 20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short windows and steps (a smoke run: ~5 minutes)")
    parser.add_argument("--phases", default="hotline,ingest,latency", help="comma separated: hotline, ingest, latency")
    parser.add_argument(
        "--port", type=int, default=None, help="the keepclear port (default 18000 + the cluster offset)"
    )
    parser.add_argument("--tick-s", type=float, default=1.0, help="probe tick of serve and workers (default 1)")
    parser.add_argument("--status-every-s", type=float, default=1.0, help="workers' status lines (default 1)")
    g = parser.add_argument_group("hotline")
    g.add_argument("--api", default="1,2", help="API process counts (default 1,2)")
    g.add_argument("--pairs", type=int, default=4, help="sender/reader pairs of parties (default 4)")
    g.add_argument(
        "--separate-ports",
        dest="separate",
        action="store_true",
        help="each API process on a port of its own, each pair's sender and reader on the same one: no"
        " message crosses processes (to tell the cost of crossing from that of sharing the cores)",
    )
    g.add_argument(
        "--p99-ms",
        default="50,1000",
        help="p99 limits, one search each: the issue's 50 ms, and a loose one for the capacity (default 50,1000)",
    )
    g.add_argument("--start-rate", type=float, default=100.0, help="first offered rate, messages/s (default 100)")
    g.add_argument("--growth", type=float, default=1.5, help="rate factor while steps pass (default 1.5)")
    g.add_argument("--resolution", type=float, default=1.15, help="stop when fail/pass rates are this close")
    g.add_argument("--warmup-s", type=float, default=3.0, help="seconds of an uncounted first step (default 3)")
    g.add_argument("--step-s", type=float, default=10.0, help="seconds a step posts (default 10)")
    g.add_argument("--max-steps", type=int, default=8, help="steps at most per process count (default 8)")
    g = parser.add_argument_group("ingest and latency")
    g.add_argument("--grid", default="1x1,2x1,1x2,2x2", help="API processes x workers (default 1x1,2x1,1x2,2x2)")
    g.add_argument("--units", type=int, default=10_000)
    g.add_argument("--spread-deg", type=float, default=20.0, help="side of the square the units fly in (default 20)")
    g.add_argument("--batch", type=int, default=1000, help="reports a request (default 1000)")
    g.add_argument("--feed-clients", type=int, default=4, help="feed client threads (default 4)")
    g.add_argument("--ingest-s", type=float, default=20.0, help="seconds of flood (default 20)")
    g.add_argument(
        "--drain-limit-s", type=float, default=120.0, help="longest wait for the workers' backlog after the flood"
    )
    g.add_argument("--latency-s", type=float, default=30.0, help="seconds of pairs (default 30)")
    g.add_argument("--latency-rate", type=float, default=10_000.0, help="background reports/s (default 10,000)")
    g.add_argument("--latency-pairs", type=int, default=40, help="pairs at most (default 40)")
    g.add_argument("--pair-every-s", type=float, default=0.7, help="seconds between new pairs (default 0.7)")
    g.add_argument("--alert-timeout-s", type=float, default=10.0, help="a pair is reported this long at most")
    g.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.step_s, args.max_steps, args.ingest_s, args.latency_s = 4.0, 6, 8.0, 12.0
    args.phases = set(args.phases.split(","))
    args.p99_ms = [float(x) for x in args.p99_ms.split(",")]
    offset = cluster_offset()
    args.servers = nats_servers(offset)
    port = args.port or 18000 + offset
    up = subprocess.run(
        [str(REPO / "scripts" / "cluster"), "up", "--no-keepclear"], capture_output=True, text=True, check=False
    )
    print(up.stdout.strip() or up.stderr.strip())
    if up.returncode != 0:
        sys.exit("cluster_bench: scripts/cluster up failed")
    print(f"cluster_bench: NATS {args.servers[0]}…, keepclear on 127.0.0.1:{port}; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    hotline: dict[int, tuple[float, dict[float, list[Step]], dict[str, float]]] = {}
    if "hotline" in args.phases:
        for api in (int(a) for a in args.api.split(",")):
            hotline[api] = hotline_phase(args, api, port)
            port += 1
    detect: dict[str, dict[str, Any]] = {}
    if args.phases & {"ingest", "latency"}:
        bodies = batches(args.units, args.batch, spread_deg=args.spread_deg, shape="columns")
        for name in args.grid.split(","):
            api, workers = (int(x) for x in name.split("x"))
            detect[name] = detect_phase(args, api, workers, port, bodies)
            port += 1
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (2-core machine shared with other sessions)")
    if hotline:
        print_hotline(hotline, args)
    if detect:
        print_detect(detect, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "hotline": {
                        api: {
                            "idle_cpu_s_per_s": idle,
                            "bus_per_message": bus,
                            **{limit: [vars(s) for s in steps] for limit, steps in searches.items()},
                        }
                        for api, (idle, searches, bus) in hotline.items()
                    },
                    "detect": detect,
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
