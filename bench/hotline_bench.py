"""Hotline benchmark: post → delivery latency at a sustained rate, through a real server on 127.0.0.1.

Two parties connected over WebSocket (coalition posts, russia reads and confirms delivery), the
server in its own process, on SQLite and on PostgreSQL. Anchor (issue 5): 1,000 messages/s
sustained for 60 s with p99 post → delivery < 50 ms, every message durable (counted in the store
afterwards).

``--server service`` (the default) runs the whole product, ``keepclear serve``: API keys, the
ledger recording every message, the probe ticking. ``--server hotline`` runs the hotline routes
alone (``hotline_server.py``, parties named by a header), to see the hotline's own share.

    python bench/hotline_bench.py                      # 60 s on each store, the whole service
    python bench/hotline_bench.py --seconds 10 --store sqlite --server hotline

``--baseline-src DIR`` runs the server from another source tree too (``git archive main src | tar -x
-C /tmp/old``, then ``--baseline-src /tmp/old/src``), old and new taking turns ``--rounds`` times on
each store, and prints their server CPU per 1,000 messages and p99 side by side: a change's cost or
saving measured on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hotline_server import UNBOUNDED_POSTS_ENV
from notify_bench import process_cpu_s

from keepclear.api.server import free_port
from keepclear.domain import Party
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.services.hotline.hub import HotlineHub
from keepclear.services.hotline.service import HotlineService
from keepclear.services.registry.service import RegistryService
from keepclear.services.runtime.bus import EventBus, WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import Database, migrate
from keepclear.store import hotline as store
from keepclear.store.ledger import ledger_entries

POSTGRES_URL = os.environ.get("KEEPCLEAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0


def _wire(url: str) -> tuple[Database, HotlineService, HotlineHub]:
    db = Database(url)
    bus = EventBus()
    service = HotlineService(db, WallClock(), bus)
    hub = HotlineHub()
    bus.subscribe(service.on_event)
    bus.subscribe(hub.on_event)
    service.add_listener(hub.on_messages)
    return db, service, hub


def serve_forever(url: str) -> None:
    """Child process: run the server, print its port, stop when the parent closes stdin."""
    from hotline_server import serve

    _db, service, hub = _wire(url)
    profile_path = os.environ.get("KEEPCLEAR_BENCH_PROFILE")  # a file: profile the server (all threads)
    if profile_path:
        import yappi

        yappi.set_clock_type("cpu")
        yappi.start()
    with serve(service, hub) as base:
        print(f"PORT {base.rsplit(':', 1)[1]}", flush=True)
        sys.stdin.read()
    if profile_path:
        yappi.stop()
        yappi.get_func_stats().save(profile_path, type="pstat")


def prepare(url: str) -> str:
    """Migrate a fresh database with the two parties; returns the id of their standing thread."""
    db, service, _hub = _wire(url)
    migrate(db)
    registry = RegistryService(db, WallClock(), EventBus())
    for party in (Party("coalition", "Coalition", "en"), Party("russia", "Russian Federation", "ru")):
        registry.add_party(party, [Contact("duty officer")])
    thread = service.ensure_pair_thread("coalition", "russia")
    db.dispose()
    return thread.id


def prepare_service(url: str, data_dir: Path, extra_parties: tuple[str, ...] = ()) -> dict[str, str]:
    """A deployment in ``data_dir`` on ``url`` with the two parties (and ``extra_parties``, for
    several sender/reader pairs) and a liaison key each."""
    settings = Settings(data_dir=data_dir, database_url=url)
    deployment = Deployment.open(settings, create=True)
    parties = [Party("coalition", "Coalition", "en"), Party("russia", "Russian Federation", "ru")]
    parties += [Party(p, p.upper(), "en") for p in extra_parties]
    try:
        for party in parties:
            deployment.registry.add_party(party, [Contact("duty officer")])
        return {p.id: deployment.keys.create(Role.LIAISON, p.id)[1] for p in parties}
    finally:
        deployment.close()


def _service_target(base: str, keys: dict[str, str], pair: tuple[str, str] = ("coalition", "russia")) -> Target:
    """Where ``pair[0]`` posts and ``pair[1]`` reads: their standing thread on ``keepclear serve`` at ``base``."""
    headers = {party: {"Authorization": f"Bearer {key}"} for party, key in keys.items() if party in pair}
    for _ in range(300):
        try:
            threads = httpx.get(f"{base}/v1/hotline/threads", headers=headers[pair[0]], timeout=5).json()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("keepclear serve did not start")
    (thread,) = [t for t in threads if sorted(t["parties"]) == sorted(pair)]
    return Target(base.replace("http", "ws") + "/v1/hotline/ws", headers, thread["id"], *pair)


@dataclass
class Run:
    sent_at: dict[str, float] = field(default_factory=dict)
    accepted_ms: list[float] = field(default_factory=list)
    delivered_ms: list[float] = field(default_factory=list)
    delivered_keys: set[str] = field(default_factory=set)
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    out_of_order: int = 0
    send_seconds: float = 0.0
    last_seq: int = 0  # the reader's cursor at the end: where a next run on the same thread resumes


def _unbatch(frame: dict[str, Any]) -> list[dict[str, Any]]:
    return frame["frames"] if frame["type"] == "batch" else [frame]


@dataclass(frozen=True)
class Target:
    """Where the clients connect and who they say they are."""

    ws_uri: str
    headers: dict[str, dict[str, str]]  # by party
    thread_id: str
    sender: str = "coalition"
    reader: str = "russia"


async def drive(target: Target, seconds: float, rate: float, key_prefix: str = "bench", from_seq: int = 0) -> Run:
    """Post at ``rate`` for ``seconds`` as the sender (coalition); the reader (russia) reads from
    ``from_seq`` on; measure both latencies. ``key_prefix`` keeps the idempotency keys of several runs
    on one thread apart (messages of earlier runs read again are not counted)."""
    run = Run()
    uri, thread_id = target.ws_uri, target.thread_id
    hello = json.dumps({"type": "resume", "cursors": {thread_id: from_seq}})
    total = int(seconds * rate)
    async with (
        connect(uri, additional_headers=target.headers[target.sender], max_queue=None, compression=None) as sender,
        connect(uri, additional_headers=target.headers[target.reader], max_queue=None, compression=None) as reader,
    ):
        for ws in (sender, reader):
            await ws.send(hello)
            while not any(f["type"] == "resumed" for f in _unbatch(json.loads(await ws.recv()))):
                pass
        all_delivered = asyncio.Event()

        cursor = {"seq": from_seq, "acked": from_seq, "next_ack": time.perf_counter() + 0.1}

        async def on_message(message: dict[str, Any], now: float) -> None:
            key = message["idempotency_key"]
            if key not in run.sent_at:  # an earlier run's message
                cursor["seq"] = max(cursor["seq"], message["seq"])
                return
            if key in run.delivered_keys:
                run.duplicates += 1
                return
            if message["seq"] != cursor["seq"] + 1:
                run.out_of_order += 1
            cursor["seq"] = message["seq"]
            run.delivered_keys.add(key)
            run.delivered_ms.append((now - run.sent_at[key]) * 1000)
            if now >= cursor["next_ack"] and cursor["seq"] > cursor["acked"]:
                # Confirm delivery (cumulatively) every 100 ms, as a console would.
                await reader.send(
                    json.dumps({"type": "delivered", "thread_id": thread_id, "through_seq": cursor["seq"]})
                )
                cursor["acked"], cursor["next_ack"] = cursor["seq"], now + 0.1
            if len(run.delivered_keys) >= total:
                all_delivered.set()

        async def read_russia() -> None:
            async for text in reader:
                now = time.perf_counter()
                for frame in _unbatch(json.loads(text)):
                    if frame["type"] == "message":
                        await on_message(frame["message"], now)

        async def read_coalition() -> None:
            async for text in sender:
                now = time.perf_counter()
                for frame in _unbatch(json.loads(text)):
                    if frame["type"] == "accepted":
                        run.accepted_ms.append((now - run.sent_at[frame["ref"]]) * 1000)
                    elif frame["type"] == "error":
                        run.errors.append("; ".join(frame["problems"]))

        readers = [asyncio.create_task(read_russia()), asyncio.create_task(read_coalition())]
        start = time.perf_counter()
        sent = 0
        tick_s = 0.005
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                key = f"{key_prefix}-{sent:08d}"
                run.sent_at[key] = time.perf_counter()
                await sender.send(
                    json.dumps(
                        {
                            "type": "post",
                            "ref": key,
                            "thread_id": thread_id,
                            "kind": "text",
                            "idempotency_key": key,
                            "body": f"message {sent}: request your unit VIPER{sent % 90 + 10} alter course to 090",
                        }
                    )
                )
                sent += 1
            await asyncio.sleep(tick_s)
        run.send_seconds = time.perf_counter() - start
        try:
            await asyncio.wait_for(all_delivered.wait(), timeout=30)
        except TimeoutError:
            run.errors.append(f"only {len(run.delivered_keys)} of {total} delivered 30 s after the last post")
        deadline = time.perf_counter() + 10
        while len(run.accepted_ms) + len(run.errors) < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    run.last_seq = int(cursor["seq"])
    return run


def bench_store(
    name: str, url: str, seconds: float, rate: float, server: str, src: str | None = None
) -> dict[str, object]:
    """One run on ``url``; the server imports keepclear from ``src`` when given (a baseline tree)."""
    code_env = {} if src is None else {"PYTHONPATH": src}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as data_dir:
        if server == "service":
            keys = prepare_service(url, Path(data_dir))
            port = free_port()
            child = subprocess.Popen(
                [sys.executable, "-m", "keepclear.cli.main", "--data-dir", data_dir, "serve", "--port", str(port)],
                # 1,000 a second from one party: far past hotline_messages_per_party_per_s's default
                env={**os.environ, "KEEPCLEAR_DATABASE_URL": url, **UNBOUNDED_POSTS_ENV, **code_env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        else:
            thread_id = prepare(url)
            child = subprocess.Popen(
                [sys.executable, __file__, "--serve", url],
                env={**os.environ, **code_env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        try:
            if server == "service":
                target = _service_target(f"http://127.0.0.1:{port}", keys)
            else:
                assert child.stdout is not None
                line = child.stdout.readline()
                if not line.startswith("PORT "):
                    raise RuntimeError(f"server did not start: {line!r}")
                base = f"http://127.0.0.1:{int(line.split()[1])}"
                party = {p: {"X-Party": p} for p in ("coalition", "russia")}
                target = Target(base.replace("http", "ws") + "/v1/hotline/ws", party, thread_id)
            # The client keeps every send time; its garbage collector would only add pauses to its own
            # clock readings (it creates no cycles), so it is off while measuring. The server keeps its own.
            gc.disable()
            try:
                # the server's CPU while it is driven: not its start (imports, warm-up), which varies more
                window_before = process_cpu_s(child.pid)
                run = asyncio.run(drive(target, seconds, rate))
                window_cpu_s = process_cpu_s(child.pid) - window_before
            finally:
                gc.enable()
        finally:
            if server == "service":
                child.terminate()
            else:
                assert child.stdin is not None
                child.stdin.close()
            child.wait(timeout=120)
    thread_id = target.thread_id
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu_s = sum(getattr(children_after, f) - getattr(children_before, f) for f in ("ru_utime", "ru_stime"))
    client_cpu_s = sum(getattr(self_after, f) - getattr(self_before, f) for f in ("ru_utime", "ru_stime"))
    db = Database(url)
    with db.read() as conn:
        stored = store.count_messages(conn, thread_id)
        # The whole service also signs every message into the shared record (before it stops).
        recorded = (
            conn.execute(
                sa.select(sa.func.count()).select_from(ledger_entries).where(ledger_entries.c.kind == "message.posted")
            ).scalar_one()
            if server == "service"
            else None
        )
    db.dispose()
    total = int(seconds * rate)
    delivered = np.array(run.delivered_ms) if run.delivered_ms else np.array([np.nan])
    accepted = np.array(run.accepted_ms) if run.accepted_ms else np.array([np.nan])
    return {
        "store": name,
        "posted": total,
        "rate": total / run.send_seconds if run.send_seconds else 0.0,
        "accepted": len(run.accepted_ms),
        "delivered": len(run.delivered_keys),
        "stored": stored,
        "recorded": recorded,
        "dup": run.duplicates,
        "order": run.out_of_order,
        "errors": len(run.errors),
        "first_error": run.errors[0] if run.errors else "",
        "deliver": np.percentile(delivered, [50, 90, 99, 99.9, 100]),
        "accept": np.percentile(accepted, [50, 99]),
        "server_cpu": server_cpu_s / seconds,
        "server_cpu_per_1000": window_cpu_s / total * 1000,
        "client_cpu": client_cpu_s / seconds,
    }


def run_store(name: str, seconds: float, rate: float, server: str, src: str | None = None) -> dict[str, object]:
    """``bench_store`` on a fresh database of ``name`` (``sqlite`` or ``postgres``)."""
    if name == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return bench_store(name, f"sqlite:///{Path(tmp) / 'bench.db'}", seconds, rate, server, src)
    url, schema = _fresh_postgres()
    try:
        return bench_store(name, url, seconds, rate, server, src)
    finally:
        _drop_postgres(schema)


def print_comparison(results: list[dict[str, object]]) -> None:
    """Baseline (``old``) and this tree (``new``) side by side per store: the medians of their rounds."""
    print(
        "\nserver CPU-s per 1,000 messages while driven (not its start) and p99 post → delivery (ms),"
        " baseline vs this tree, median of rounds"
    )
    head = (
        f"{'store':9} {'rounds':>6} {'CPU old':>8} {'CPU new':>8} {'change':>7}"
        f" {'p99 old':>8} {'p99 new':>8} {'CPU old, each':>22} {'CPU new, each':>22}"
    )
    print(head)
    print("-" * len(head))
    for store_name in dict.fromkeys(str(r["store"]) for r in results):
        old = [r for r in results if r["store"] == store_name and r["code"] == "old"]
        new = [r for r in results if r["store"] == store_name and r["code"] == "new"]
        cpu_old = [float(r["server_cpu_per_1000"]) for r in old]  # type: ignore[arg-type]
        cpu_new = [float(r["server_cpu_per_1000"]) for r in new]  # type: ignore[arg-type]
        p99_old = float(np.median([r["deliver"][2] for r in old]))  # type: ignore[index]
        p99_new = float(np.median([r["deliver"][2] for r in new]))  # type: ignore[index]
        median_old, median_new = float(np.median(cpu_old)), float(np.median(cpu_new))
        print(
            f"{store_name:9} {len(old):>6} {median_old:>8.3f} {median_new:>8.3f}"
            f" {(median_new / median_old - 1) * 100:>+6.1f}% {p99_old:>8.1f} {p99_new:>8.1f}"
            f" {' '.join(f'{c:.3f}' for c in cpu_old):>22} {' '.join(f'{c:.3f}' for c in cpu_new):>22}"
        )


def _fresh_postgres() -> tuple[str, str]:
    schema = f"kcbench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", schema


def _drop_postgres(schema: str) -> None:
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the sustained run (default 60)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="messages per second (default 1000)")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--server", choices=["service", "hotline"], default="service")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-src", metavar="DIR", help="also run the server from this source tree, in turns")
    parser.add_argument("--rounds", type=int, default=1, help="old/new turns per store with --baseline-src")
    args = parser.parse_args()
    if args.serve:
        serve_forever(args.serve)
        return 0
    results = []
    stores = [name for name in ("sqlite", "postgres") if args.store in (name, "both")]
    own_src = str(Path(__file__).resolve().parent.parent / "src")
    for store_name in stores:
        if args.baseline_src is None:
            results.append({**run_store(store_name, args.seconds, args.rate, args.server), "code": ""})
            continue
        for _ in range(args.rounds):  # in turns: whatever else loads the machine weighs on both alike
            for code, src in (("old", args.baseline_src), ("new", own_src)):
                result = run_store(store_name, args.seconds, args.rate, args.server, src)
                results.append({**result, "code": code})
    what = "keepclear serve" if args.server == "service" else "the hotline routes alone"
    print(f"\nhotline: {args.rate:g} msg/s for {args.seconds:g} s, post → delivery through 127.0.0.1, {what} (ms)")
    head = (
        f"{'store':13} {'posted':>7} {'rate/s':>7} {'accepted':>8} {'deliv.':>7} {'stored':>7} {'dup':>4} {'order':>5}"
        f" {'p50':>6} {'p90':>6} {'p99':>6} {'p99.9':>6} {'max':>7} {'acc p50':>7} {'acc p99':>7}"
        f" {'p99/target':>10} {'rate/target':>11} {'verdict':>7}"
    )
    print(head)
    print("-" * len(head))
    ok_all = True
    for r in results:
        d, a = r["deliver"], r["accept"]
        rate_ratio = float(r["rate"]) / TARGET_RATE  # type: ignore[arg-type]
        durable = r["stored"] == r["posted"] == r["delivered"] == r["accepted"] and r["dup"] == 0 and r["order"] == 0
        durable &= r["recorded"] in (None, r["posted"])
        ok = durable and d[2] < TARGET_P99_MS and rate_ratio >= 0.98 and args.rate >= TARGET_RATE  # type: ignore[index]
        ok_all &= ok
        label = f"{r['store']} {r['code']}".strip()
        print(
            f"{label:13} {r['posted']:>7} {r['rate']:>7.0f} {r['accepted']:>8} {r['delivered']:>7} {r['stored']:>7}"
            f" {r['dup']:>4} {r['order']:>5} {d[0]:>6.1f} {d[1]:>6.1f} {d[2]:>6.1f} {d[3]:>6.1f} {d[4]:>7.1f}"  # type: ignore[index]
            f" {a[0]:>7.1f} {a[1]:>7.1f} {d[2] / TARGET_P99_MS:>10.2f} {rate_ratio:>11.2f} {'PASS' if ok else 'FAIL':>7}"  # type: ignore[index]
        )
        print(
            f"  {label}: CPU per second of run: server {r['server_cpu']:.2f} s, client {r['client_cpu']:.2f} s;"
            f" server CPU per 1,000 messages while driven {r['server_cpu_per_1000']:.3f} s"
        )
        if r["recorded"] is not None:
            print(f"  {label}: message.posted entries in the signed record: {r['recorded']} of {r['posted']}")
        if r["first_error"]:
            print(f"  {label}: {r['errors']} errors, first: {r['first_error']}")
    print(f"target: >= {TARGET_RATE:g} msg/s sustained 60 s, p99 post → delivery < {TARGET_P99_MS:g} ms, all durable")
    if args.baseline_src is not None:
        print_comparison(results)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
