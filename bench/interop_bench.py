"""Interop adapters: messages per second decoded, and decoded + mapped + posted into a real
`keepclear serve`, per format (CoT XML, TAK protocol v1, SBS-1, AIS NMEA), side by side, against the issue's targets
(CoT 20,000/s into the picture; SBS and AIS 100,000 lines/s decoded).

The service runs in its own process; the gateway and poster run here, fed over a real TCP socket
with pre-encoded messages, so the "into keepclear" column includes the socket, the framing, the
decoder, the mapping, the JSON batch and the service's ingest.

    python bench/interop_bench.py --messages 20000 --units 1000 --trials 10

It then times, per alert, a CoT event of party A arriving to the alert it raises reaching party B's
TAK (B's `interop out`, woken by its live stream), and prints p50/p99.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import takproto
from pyais import encode_dict

from keepclear.api.server import free_port
from keepclear.domain import Domain, Force, Party
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.interop.cot import event_xml
from keepclear.interop.cot_out import CotOut, Target
from keepclear.interop.gateway import Decoder, Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store.schema import units as units_table

TARGETS = {
    "cot": ("into keepclear", 20_000.0),
    "tak": ("into keepclear", 20_000.0),
    "sbs": ("decoded", 100_000.0),
    "ais": ("decoded", 100_000.0),
}


def populate(data_dir: Path, units: int, trials: int) -> dict[str, str]:
    """Party a with ``units`` aircraft u0.., party b with ``trials`` aircraft b0..; feed keys of both, b's liaison key."""
    dep = Deployment.open(Settings(data_dir=data_dir), create=True)
    for party in ("a", "b"):
        dep.registry.add_party(Party(party, party.upper()))
        dep.registry.add_force(Force(f"f{party}", f"Force {party}", party))
    rows = [{"id": f"u{i}", "force_id": "fa"} for i in range(units)] + [
        {"id": f"b{k}", "force_id": "fb"} for k in range(trials)
    ]
    with dep.db.write() as conn:
        conn.execute(
            units_table.insert(),
            [{**row, "callsign": row["id"].upper(), "domain": Domain.AIR.value, "kind": "aircraft"} for row in rows],
        )
    keys = {
        "a-feed": dep.keys.create(Role.FEED, "a")[1],
        "b-feed": dep.keys.create(Role.FEED, "b")[1],
        "b-liaison": dep.keys.create(Role.LIAISON, "b")[1],
    }
    dep.close()
    return keys


def mapping_text(units: int) -> str:
    lines = ["party: a", "cot:"] + [f"  T{i}: u{i}" for i in range(units)]
    lines += ["icao:"] + [f"  {0x100000 + i:06X}: u{i}" for i in range(units)]
    lines += ["mmsi:"] + [f"  {200_000_000 + i}: u{i}" for i in range(units)]
    return "\n".join(lines) + "\n"


def messages(fmt: str, count: int, units: int, start_s: float) -> list[bytes]:
    """``count`` messages: every unit once per round, each round 0.01 s later than the one before."""
    rng = np.random.default_rng(7)
    lat = rng.uniform(50, 54, units)
    lon = rng.uniform(2, 8, units)
    out: list[bytes] = []
    for k in range(count):
        i = k % units
        t = start_s + (k // units) * 0.01
        if fmt in ("cot", "tak"):
            xml = event_xml(
                uid=f"T{i}",
                cot_type="a-f-A",
                time_s=t,
                stale_s=t + 60,
                lat_deg=float(lat[i]),
                lon_deg=float(lon[i]),
                hae_m=9000.0,
                course_deg=45.0,
                speed_mps=200.0,
            )
            out.append(xml if fmt == "cot" else bytes(takproto.xml2proto(xml.decode(), takproto.TAKProtoVer.STREAM)))
        elif fmt == "sbs":
            out.append(
                f"MSG,3,1,1,{0x100000 + i:06X},1,2026/12/03,09:00:00.000,2026/12/03,09:00:00.000,,30000,,,"
                f"{lat[i]:.5f},{lon[i]:.5f},,,0,0,0,0\r\n".encode()
            )
        else:
            sentence = encode_dict(
                {
                    "type": 1,
                    "mmsi": 200_000_000 + i,
                    "lat": float(lat[i]),
                    "lon": float(lon[i]),
                    "speed": 12.0,
                    "course": 90.0,
                }
            )[0]
            out.append(sentence.encode() + b"\r\n")
    return out


def decode_rate(decoder: Decoder, batch: list[bytes]) -> float:
    """Messages per second through ``decoder.decode`` alone (no socket, no mapping, no posting)."""
    started = time.perf_counter()
    for message in batch:
        decoder.decode(message, 1.0)
    return len(batch) / (time.perf_counter() - started)


def end_to_end_rate(fmt: str, batch: list[bytes], url: str, key: str, units: int) -> tuple[float, dict[str, int]]:
    """Messages per second from the first byte sent until keepclear has answered for every report."""
    stats = Stats()
    poster = Poster(url, key, stats, max_pending=len(batch) + 1, flush_s=0.05)
    gateway = Gateway(
        parse_mapping(mapping_text(units)), decoders(), [Endpoint(fmt, "tcp", "127.0.0.1", 0)], poster.offer, stats
    )
    poster.start()
    gateway.start()
    payload = b"".join(batch)
    try:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", gateway.ports[0])) as conn:
            conn.sendall(payload)

        def answered() -> bool:
            s = stats.snapshot()
            return s["positions"] >= len(batch) and s["accepted"] + s["refused"] + s["dropped"] >= s["queued"]

        deadline = time.monotonic() + 300
        while not answered() and time.monotonic() < deadline:
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        gateway.stop()
        poster.stop()
    return len(batch) / elapsed, stats.snapshot()


def alert_latencies(url: str, keys: dict[str, str], units: int, trials: int) -> list[float]:
    """Seconds from A's CoT event reaching the gateway to the alert it raises reaching B's TAK (UDP), per trial.

    Each trial puts B's aircraft b<k> (over HTTP) head on, 40 km ahead of A's u<k>, then sends u<k>'s
    position as CoT; B's `interop out` (woken by its live stream) sends the alert.
    """
    stats = Stats()
    poster = Poster(url, keys["a-feed"], stats, flush_s=0.01)
    gateway = Gateway(
        parse_mapping(mapping_text(units)), decoders(), [Endpoint("cot", "tcp", "127.0.0.1", 0)], poster.offer, stats
    )
    tak_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tak_b.bind(("127.0.0.1", 0))
    tak_b.settimeout(30.0)
    out_b = CotOut(
        url, keys["b-liaison"], "b", [Target("udp", "127.0.0.1", tak_b.getsockname()[1])], Stats(), interval_s=60.0
    )
    stop = threading.Event()
    worker = threading.Thread(target=out_b.run, args=(stop,), daemon=True)
    poster.start()
    gateway.start()
    worker.start()
    latencies: list[float] = []
    try:
        time.sleep(1.0)
        with (
            socket.create_connection(("127.0.0.1", gateway.ports[0])) as conn,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['b-feed']}"}) as b_feed,
        ):
            for k in range(trials):
                lat = 10.0 + 2.0 * k  # each pair far from every other
                now = time.time()
                report = {
                    "unit_id": f"b{k}",
                    "time": format_utc(now),
                    "lat_deg": lat,
                    "lon_deg": 30.44,
                    "alt_m": 7000.0,
                    "vel_east_mps": -220.0,
                }
                assert b_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
                event = event_xml(
                    uid=f"T{k}", cot_type="a-f-A", time_s=now, stale_s=now + 60, lat_deg=lat, lon_deg=30.0, hae_m=7000.0,
                    course_deg=90.0, speed_mps=220.0,
                )  # fmt: skip
                started = time.perf_counter()
                conn.sendall(event)
                while True:
                    data, _ = tak_b.recvfrom(65536)
                    if b"b-a-o-pan" in data and f"u{k} (a)".encode() in data:
                        latencies.append(time.perf_counter() - started)
                        break
    finally:
        stop.set()
        out_b.wake()
        worker.join(timeout=15)
        out_b.close()
        gateway.stop()
        poster.stop()
        tak_b.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--units", type=int, default=1_000)
    parser.add_argument(
        "--trials", type=int, default=10, help="Alerts timed from a CoT event to the other party's TAK."
    )
    args = parser.parse_args()

    # Decoding alone first, before the service starts, so the two do not share the CPU.
    fresh: Callable[[], dict[str, Decoder]] = decoders
    decoded = {fmt: decode_rate(fresh()[fmt], messages(fmt, args.messages, args.units, 1.0e9)) for fmt in TARGETS}
    folder = Path(tempfile.mkdtemp(prefix="kc-interop-bench-"))
    keys = populate(folder, args.units, args.trials)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(folder), "serve", "--port", str(port)],
        env={**os.environ, "KEEPCLEAR_TICK_S": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, float, float, dict[str, int]]] = []
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        for fmt in TARGETS:
            posted, counts = end_to_end_rate(
                fmt, messages(fmt, args.messages, args.units, time.time()), url, keys["a-feed"], args.units
            )
            rows.append((fmt, decoded[fmt], posted, counts))
        latencies = alert_latencies(url, keys, args.units, args.trials)
    finally:
        server.terminate()
        server.wait(timeout=600)

    print(f"interop adapters: {args.messages} messages per format, {args.units} units, keepclear serve on SQLite")
    print(
        f"{'format':<8}{'decoded/s':>12}{'into keepclear/s':>18}{'target':>22}{'ratio':>8}{'accepted':>10}{'refused':>9}{'dropped':>9}"
    )
    for fmt, decoded, posted, counts in rows:
        what, target = TARGETS[fmt]
        figure = posted if what == "into keepclear" else decoded
        print(
            f"{fmt:<8}{decoded:>12,.0f}{posted:>18,.0f}{f'{target:,.0f} {what}':>22}{figure / target:>8.2f}"
            f"{counts['accepted']:>10}{counts['refused']:>9}{counts['dropped']:>9}"
        )
    if latencies:
        p50, p99 = np.percentile(latencies, [50, 99]) * 1e3
        print(
            f"CoT event -> alert at the other party's TAK ({len(latencies)} alerts, probe tick 1 s): "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies) * 1e3:.0f} ms"
        )
    cot = rows[0][2]
    print("into keepclear/s relative to CoT: " + ", ".join(f"{fmt} {posted / cot:.2f}" for fmt, _, posted, _ in rows))


if __name__ == "__main__":
    main()
