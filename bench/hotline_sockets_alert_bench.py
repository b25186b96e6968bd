"""Another party's alerts while one party holds many hotline sockets and a third posts into its thread.

A real `keepclear serve` (SQLite, its own process, ticking every second) as in
``big_body_alert_bench``: converging pairs of a's and b's units, each alert timed from its ``time``
to its arrival on b's ``/v1/stream`` (``out``). Phase ``load``: meanwhile a SEPARATE process (this
script with ``--load-child``) opens ``--keys`` liaison keys of party a × ``--per-key`` hotline
sockets (``/v1/hotline/ws``), half of them reading everything, half never reading after their
resume, and party c's liaison posts into the standing a–c thread as fast as its bucket allows
(``--rate`` a second after a burst of ``--burst``), bodies of ``--body-bytes`` UTF-8 (Cyrillic).

    python bench/hotline_sockets_alert_bench.py --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from big_body_alert_bench import phase, prepare
from service_bench import print_side_by_side, serve, stop_server
from websockets.asyncio.client import connect

from keepclear.domain.identity import Role
from keepclear.domain.parties import Party
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


def prepare_sockets(folder: Path, keys_a: int) -> dict[str, str]:
    """``prepare``'s store and keys, party c, ``keys_a`` more liaison keys of a and c's liaison key."""
    keys = prepare(folder)
    dep = Deployment.open(Settings(data_dir=folder), create=False)
    dep.registry.add_party(Party("c", "C"))
    for k in range(keys_a):
        keys[f"a-{k}"] = dep.keys.create(Role.LIAISON, "a")[1]
    keys["c-liaison"] = dep.keys.create(Role.LIAISON, "c")[1]
    dep.close()
    return keys


async def _resume(ws: Any) -> None:
    await ws.send(json.dumps({"type": "resume", "cursors": {}}))
    while True:
        frame = json.loads(await ws.recv())
        frames = frame["frames"] if frame["type"] == "batch" else [frame]
        if any(f["type"] == "resumed" for f in frames):
            return


async def load(base: str, a_keys: list[str], per_key: int, poster: str, args: list[str]) -> dict[str, Any]:
    seconds, rate, burst, body_bytes = float(args[0]), float(args[1]), int(args[2]), int(args[3])
    ws_base = base.replace("http", "ws") + "/v1/hotline/ws?person=duty&key="
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {poster}"}) as http:
        [thread] = [t["id"] for t in http.get("/v1/hotline/threads").json() if t["parties"] == ["a", "c"]]
    received = [0]
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def reader(ws: Any) -> None:
        while time.monotonic() < deadline:
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            except TimeoutError:
                continue
            for f in frame["frames"] if frame["type"] == "batch" else [frame]:
                received[0] += f["type"] == "message"

    sockets = []
    for k, key in enumerate(a_keys):
        for j in range(per_key):
            ws = await connect(ws_base + key, max_size=None, open_timeout=60)
            await _resume(ws)
            sockets.append((ws, (k * per_key + j) % 2 == 0))
    readers = [asyncio.create_task(reader(ws)) for ws, reads in sockets if reads]
    body = ("Ж" * (body_bytes // 2))[: body_bytes // 2]
    post = await connect(ws_base + poster, max_size=None)
    await _resume(post)

    async def answers() -> None:
        while time.monotonic() < deadline + 2:
            try:
                frame = json.loads(await asyncio.wait_for(post.recv(), 1.0))
            except TimeoutError:
                continue
            for f in frame["frames"] if frame["type"] == "batch" else [frame]:
                if f["type"] in ("accepted", "error"):
                    statuses[f["type"]] = statuses.get(f["type"], 0) + 1

    answering = asyncio.create_task(answers())
    n = 0
    started = time.monotonic()
    while time.monotonic() < deadline:
        allowed = burst + rate * (time.monotonic() - started) - 1
        while n < allowed:
            frame = {"type": "post", "ref": n, "thread_id": thread, "idempotency_key": f"load-{n:08d}", "body": body}
            await post.send(json.dumps(frame, ensure_ascii=False))
            n += 1
        await asyncio.sleep(0.05)
    await asyncio.gather(*readers, answering)
    for ws, _ in sockets:
        await ws.close()
    return {"statuses": {**statuses, "sent": n, "messages received": received[0], "sockets": len(sockets)}}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load-child":
        base, a_keys, per_key, poster = sys.argv[2], sys.argv[3].split(","), int(sys.argv[4]), sys.argv[5]
        print(json.dumps(asyncio.run(load(base, a_keys, per_key, poster, sys.argv[6:]))), flush=True)
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="Seconds of each phase")
    parser.add_argument("--pair-every-s", type=float, default=2.0)
    parser.add_argument("--keys", type=int, default=25)
    parser.add_argument("--per-key", type=int, default=8)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--body-bytes", type=int, default=16 * 1024)
    parser.add_argument("--phases", default="baseline,load")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kc-hotline-sockets-"))
    keys = prepare_sockets(folder, args.keys)
    server, base = serve(folder, None, {"KEEPCLEAR_TICK_S": "1"})
    results: dict[str, dict[str, Any]] = {}
    try:
        first_pair = 0
        for name in args.phases.split(","):
            command = [
                sys.executable,
                __file__,
                "--load-child",
                base,
                ",".join(keys[f"a-{k}"] for k in range(args.keys)),
            ]
            command += [str(args.per_key), keys["c-liaison"], str(args.seconds + 2), str(args.rate)]
            command += [str(args.burst), str(args.body_bytes)]
            results[name] = phase(base, keys, args, first_pair, command if name == "load" else None)
            first_pair = results[name].pop("_next_pair")
            time.sleep(3.0)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}) as admin:
            counters = admin.get("/v1/metrics").json()["counters"]
        shown = ("tick_late_total", "tick_interval_max_s", "hotline_clients_overflowed_total")
        print(", ".join(f"{name} {counters.get(name)}" for name in shown))
        print({k: v for k, v in counters.items() if "frames" in k or "render" in k})
        rss = subprocess.run(["ps", "-o", "rss=", "-p", str(server.pid)], capture_output=True, text=True).stdout
        print(f"server RSS {int(rss.strip() or 0) / 1024:.0f} MiB")
    finally:
        stop_server(server)
    print_side_by_side(results)


if __name__ == "__main__":
    main()
