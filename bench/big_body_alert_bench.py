"""Report → alert on the other party's stream, with and without a hostile liaison's big bodies.

A real `keepclear serve` (SQLite, its own process) ticks every second. Every ``--pair-every-s`` a
new converging pair appears (units pa<k> of party a and pb<k> of party b, 6.7 km apart, closing, each
pair far from the others); both are reported every 0.5 s until b's stream shows ``alert.raised`` for
the pair. For each pair the figures place the delay: ``in`` is from sending the report that completes
the pair to its ``/v1/tracks`` answer (202), ``tick`` from that answer to the alert's own ``time``
(the tick that raised it, server clock), ``out`` from that time to the event's arrival on b's
``/v1/stream``; ``GET /v1/health`` every 50 ms stands for the event loop's lag.

Phase ``baseline``: only that. Phase ``load``: meanwhile a SEPARATE process (this script with
``--load-child``) posts ``--polygons`` activities of one ``--vertices``-vertex polygon each as one
``POST /v1/activities/batch`` (about 15 MB) from ``--threads`` threads with party a's liaison key,
each as soon as the last was answered; the feed and the stream reader stay in this process.

    python bench/big_body_alert_bench.py --seconds 40
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from service_bench import populate, print_side_by_side, serve, stop_server

from keepclear.domain import Domain
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store.schema import units as units_table

#: A pair's units start this far (degrees of latitude) each side of its place, closing at this speed.
PAIR_OFFSET_DEG, PAIR_SPEED_MPS, PAIR_ALT_M = 0.03, 60.0, 7_000.0
#: Most pairs a phase can introduce (units registered up front).
MAX_PAIRS = 200


def big_batch(polygons: int, vertices: int) -> bytes:
    """An activity batch of ``polygons`` activities, each one polygon of ``vertices`` vertices
    (full-precision coordinates, as a hostile client sends them), tomorrow, addressed to b."""
    now_s = time.time()
    window = {"start": format_utc(now_s + 86_400), "end": format_utc(now_s + 90_000)}
    activities = []
    for p in range(polygons):
        angles = 2 * np.pi * np.arange(vertices) / vertices
        ring = np.column_stack([10 + 0.5 * p + 0.1 * np.cos(angles), -20 + 0.1 * np.sin(angles)]).tolist()
        volume = {"geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, "lower_ft": 0, "upper_ft": 1000}
        activities.append(
            {"kind": "air-operation", **window, "contact": "duty", "addressees": ["b"], "volumes": [volume]}
        )
    return json.dumps({"activities": activities}).encode()


def load_child(base: str, key: str, threads: int, seconds: float, polygons: int, vertices: int) -> None:
    """Post the big batch from ``threads`` threads for ``seconds``; print the answers' statuses as JSON."""
    body = big_batch(polygons, vertices)
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def poster() -> None:
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            while time.monotonic() < deadline:
                try:
                    code = str(http.post("/v1/activities/batch", content=body).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1

    workers = [threading.Thread(target=poster) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"body_mb": len(body) / 1e6, "statuses": statuses}), flush=True)


class Stream:
    """b's ``/v1/stream``: per pair k, when (``time.time()``) ``alert.raised`` arrived and its ``time``."""

    def __init__(self, base: str, key: str) -> None:
        self.arrived: dict[int, tuple[float, float]] = {}
        thread = threading.Thread(target=self._run, args=(base, key), daemon=True)
        thread.start()

    def _run(self, base: str, key: str) -> None:
        try:
            with (
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=None) as http,
                http.stream("GET", "/v1/stream") as answer,
            ):
                kind = ""
                for line in answer.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "alert.raised":
                        now = time.time()
                        event = json.loads(line[6:])
                        payload = event.get("payload", event)
                        units = sorted(str(payload.get(u, "")) for u in ("unit_a", "unit_b"))
                        if units[0].startswith("pa") and units[1] == "pb" + units[0][2:]:
                            self.arrived.setdefault(int(units[0][2:]), (now, parse_utc(event["time"], "time")))
        except httpx.HTTPError:
            return  # the server stopped


def prepare(folder: Path) -> dict[str, str]:
    """The store: parties a and b (``populate``), MAX_PAIRS pair units each, liaison keys."""
    keys = populate(folder, 20)
    dep = Deployment.open(Settings(data_dir=folder), create=False)
    with dep.db.write() as conn:
        conn.execute(
            units_table.insert(),
            [
                {
                    "id": f"p{p}{k}",
                    "callsign": f"P{p}{k}",
                    "domain": Domain.AIR.value,
                    "kind": "aircraft",
                    "force_id": f"f{p}",
                }
                for p in "ab"
                for k in range(MAX_PAIRS)
            ],
        )
    keys["a-liaison"] = dep.keys.create(Role.LIAISON, "a")[1]
    keys["b-liaison"] = dep.keys.create(Role.LIAISON, "b")[1]
    dep.close()
    return keys


def phase(
    base: str, keys: dict[str, str], args: argparse.Namespace, first_pair: int, load: list[str] | None
) -> dict[str, Any]:
    """One phase of ``args.seconds``: its pairs' figures (ms) and the health answers'. ``load``: the
    command of the load's process (its last line of stdout: JSON with ``statuses``), or None."""
    stream = Stream(base, keys["b-liaison"])
    time.sleep(1.0)  # the stream is open
    child = None
    if load is not None:
        child = subprocess.Popen(load, stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)  # the load is built and flowing
    stop = threading.Event()
    health_ms: list[float] = []

    def health() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while not stop.is_set():
                started = time.perf_counter()
                http.get("/v1/health")
                health_ms.append((time.perf_counter() - started) * 1e3)
                stop.wait(0.05)

    checker = threading.Thread(target=health)
    checker.start()
    clients = {p: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[p]}"}, timeout=60) for p in "ab"}
    first_s: dict[int, float] = {}
    sent: dict[int, tuple[float, float]] = {}  # pair → (sent, answered) of the report completing it
    started_s = time.time()
    k = first_pair
    next_pair_s = started_s
    while time.time() - started_s < args.seconds or (sent and time.time() - started_s < args.seconds + 5):
        now = time.time()
        if now - started_s < args.seconds and now >= next_pair_s and k < first_pair + MAX_PAIRS // 2:
            first_s[k] = now
            k += 1
            next_pair_s += args.pair_every_s
        live = [j for j in first_s if j not in stream.arrived and now - first_s[j] < 20]
        if not live and now - started_s >= args.seconds:
            break
        for p in "ab":
            reports = []
            for j in live:
                sign = 1.0 if p == "a" else -1.0
                lat = (
                    40 + 0.5 * (j % 20) - sign * PAIR_OFFSET_DEG + sign * PAIR_SPEED_MPS * (now - first_s[j]) / 111_000
                )
                reports.append(
                    {
                        "unit_id": f"p{p}{j}",
                        "time": format_utc(now),
                        "lat_deg": lat,
                        "lon_deg": 20 + 0.5 * (j // 20),
                        "alt_m": PAIR_ALT_M,
                        "vel_north_mps": sign * PAIR_SPEED_MPS,
                    }
                )
            if not reports:
                continue
            before = time.time()
            answer = clients[p].post("/v1/tracks", json={"reports": reports})
            after = time.time()
            if p == "b":
                for j in live:
                    sent.setdefault(j, (before, after))
            if answer.status_code != 202:
                print(f"  reports of {p}: {answer.status_code} {answer.text[:200]}", flush=True)
        time.sleep(max(0.0, 0.5 - (time.time() - now)))
    stop.set()
    checker.join()
    for client in clients.values():
        client.close()
    statuses = ""
    if child is not None:
        out, _ = child.communicate(timeout=300)
        statuses = ", ".join(f"{c}: {n}" for c, n in json.loads(out.strip().splitlines()[-1])["statuses"].items())
    done = [(sent[j], stream.arrived[j]) for j in sent if j in stream.arrived]
    in_ms = [(a - s) * 1e3 for (s, a), _ in done]
    tick_ms = [(t - a) * 1e3 for (_, a), (_, t) in done]
    out_ms = [(r - t) * 1e3 for _, (r, t) in done]
    total_ms = [(r - s) * 1e3 for (s, _), (r, _) in done]

    def p50_max(values: list[float]) -> str:
        return "—" if not values else f"{np.median(values):.0f} / {max(values):.0f}"

    return {
        "pairs alerted / completed": f"{len(done)} / {len(sent)}",
        "total report → alert p50 / max (ms)": p50_max(total_ms),
        "in: report → 202 p50 / max (ms)": p50_max(in_ms),
        "tick: 202 → alert time p50 / max (ms)": p50_max(tick_ms),
        "out: alert time → arrival p50 / max (ms)": p50_max(out_ms),
        "GET /v1/health p50 / max (ms)": p50_max(health_ms),
        "load answered": statuses or "—",
        "_next_pair": k,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load-child":
        base, key, threads, seconds, polygons, vertices = sys.argv[2:8]
        load_child(base, key, int(threads), float(seconds), int(polygons), int(vertices))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="Seconds of each phase")
    parser.add_argument("--pair-every-s", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--polygons", type=int, default=15)
    parser.add_argument("--vertices", type=int, default=19_000)
    parser.add_argument("--phases", default="baseline,load")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kc-big-body-alert-"))
    keys = prepare(folder)
    server, base = serve(folder, None, {"KEEPCLEAR_TICK_S": "1"})
    results: dict[str, dict[str, Any]] = {}
    try:
        first_pair = 0
        for name in args.phases.split(","):
            command = [sys.executable, __file__, "--load-child", base, keys["a-liaison"], str(args.threads)]
            command += [str(args.seconds + 2), str(args.polygons), str(args.vertices)]
            results[name] = phase(base, keys, args, first_pair, command if name == "load" else None)
            first_pair = results[name].pop("_next_pair")
            time.sleep(3.0)  # the last bodies are answered
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}) as admin:
            counters = admin.get("/v1/metrics").json()["counters"]
        print(
            f"tick_late_total {counters.get('tick_late_total')}, tick_interval_max_s {counters.get('tick_interval_max_s')}"
        )
    finally:
        stop_server(server)
    print_side_by_side(results)


if __name__ == "__main__":
    main()
