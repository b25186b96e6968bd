"""Another party's notifications while one party's costly strategic checks run, through a real server.

A real `keepclear serve` in its own process holds ``--routes`` zigzag routes of party a (stored in one
batch); party b's liaison then notifies the same zigzag reversed back to back, each check judging
``--routes`` × 199 pairs exactly (100 routes: 19,900, just under the default budget of 20,000), while
party a's liaison notifies a small activity far from them every ``--period-ms`` (answered on its own
in milliseconds). Prints, per server, a's answer times (p50, p99, max), how many b's checks ran and
how long each took to answer. With ``--anchor-src`` the same load runs against a server from another
source tree (``git archive 77e1dad src | tar -x -C /tmp/anchor-lock``: the check under the activity
write lock), interleaved, measured side by side. ``--store postgres`` runs both on PostgreSQL.

    python bench/check_lock_bench.py --seconds 20 --anchor-src /tmp/anchor-lock/src [--store postgres]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from benchdb import fresh_database
from service_bench import UNBOUNDED_ACTIVITY_WRITES_ENV, populate, print_side_by_side, run_for, serve, stop_server

from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

ZIGZAG = [(35.0 + 0.05 * (i % 2), 40.0 + 0.002 * i) for i in range(40)]


def _window(hours_ahead: float, hours: float) -> tuple[float, float]:
    start_s = time.time() + hours_ahead * 3600
    return start_s, start_s + hours * 3600


def route(activity_id: str | None, points: list[tuple[float, float]], addressee: str) -> dict[str, Any]:
    """An air operation along ``points`` (lat, lon), 2 km each side, 30 to 34 h ahead."""
    start_s, end_s = _window(30, 4)
    times = [start_s + (end_s - start_s) * i / (len(points) - 1) for i in range(len(points))]
    body: dict[str, Any] = {
        "kind": "air-operation",
        "start": format_utc(start_s),
        "end": format_utc(end_s),
        "addressees": [addressee],
        "contact": "duty officer",
        "route": {
            "half_width_m": 2000,
            "lower_ft": 0,
            "upper_ft": 500,
            "waypoints": [
                {"lat": lat, "lon": lon, "time": format_utc(t)} for (lat, lon), t in zip(points, times, strict=True)
            ],
        },
    }
    if activity_id is not None:
        body["id"] = activity_id
    return body


def small(activity_id: str) -> dict[str, Any]:
    """A square 30 to 34 h ahead, far from the zigzags: its check judges nothing exactly."""
    start_s, end_s = _window(30, 4)
    square = [[20.0, 50.0], [20.1, 50.0], [20.1, 50.1], [20.0, 50.1], [20.0, 50.0]]
    return {
        "id": activity_id,
        "kind": "air-operation",
        "start": format_utc(start_s),
        "end": format_utc(end_s),
        "addressees": ["b"],
        "contact": "duty officer",
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": [square]}, "lower_ft": 0, "upper_ft": 1000}],
    }


#: A load against a served deployment: (the options, its address, its keys) → figures.
Load = Callable[[argparse.Namespace, str, dict[str, str]], dict[str, Any]]


def run(
    args: argparse.Namespace, src: Path | None, tag: str, load: Load, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``load`` against a fresh `keepclear serve` (from ``src``, or this tree; ``env`` its settings)
    on ``args.store``, with parties a and b and a liaison key each, in ``args.folder``/``tag``."""
    with fresh_database(args.store) as url:
        folder = Path(args.folder) / tag
        folder.mkdir(parents=True)
        keys = populate(folder, 2, None if args.store == "sqlite" else url)
        database_url = url if args.store != "sqlite" else None
        dep = Deployment.open(Settings(data_dir=folder, database_url=database_url), create=False)
        keys["a-liaison"] = dep.keys.create(Role.LIAISON, "a")[1]
        keys["b-liaison"] = dep.keys.create(Role.LIAISON, "b")[1]
        dep.close()
        # the loads notify as fast as they can from one party: not held back by its write rate
        settings = UNBOUNDED_ACTIVITY_WRITES_ENV | dict(env or {})
        settings |= {} if database_url is None else {"KEEPCLEAR_DATABASE_URL": database_url}
        server, base = serve(folder, src, settings)
        try:
            return load(args, base, keys)
        finally:
            stop_server(server)


def answers(statuses: dict[str, dict[int, int]]) -> str:
    """Each party's answers by status code, a's then b's."""
    return "; ".join(", ".join(f"{code}: {n}" for code, n in sorted(statuses[p].items())) for p in ("a", "b"))


def side_by_side(args: argparse.Namespace, prefix: str, load: Load, env: dict[str, str] | None = None) -> None:
    """``load`` on this tree's server, after the anchor's (``args.anchor_src``) when given; the table."""
    if args.folder is None:
        args.folder = tempfile.mkdtemp(prefix=prefix)
    servers: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.anchor_src is not None:
        servers.insert(0, ("anchor", args.anchor_src))
    print_side_by_side({name: run(args, src, name.replace(" ", "-"), load, env) for name, src in servers})


def _load(args: argparse.Namespace, base: str, keys: dict[str, str]) -> dict[str, Any]:
    stop = threading.Event()
    simple_s: list[float] = []
    costly_s: list[float] = []
    statuses: dict[str, dict[int, int]] = {"a": {}, "b": {}}

    def client(key: str) -> httpx.Client:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[key]}"}, timeout=300)

    def count(party: str, answer: httpx.Response) -> None:
        statuses[party][answer.status_code] = statuses[party].get(answer.status_code, 0) + 1

    def costly() -> None:
        with client("b-liaison") as http:
            while not stop.is_set():
                started = time.perf_counter()
                answer = http.post("/v1/activities", json=route(None, ZIGZAG[::-1], "a"))
                costly_s.append(time.perf_counter() - started)
                count("b", answer)

    ids = itertools.count()

    def simple() -> None:
        with client("a-liaison") as http:
            while not stop.is_set():
                started = time.perf_counter()
                answer = http.post("/v1/activities", json=small(f"a-small-{next(ids)}"))
                simple_s.append(time.perf_counter() - started)
                count("a", answer)
                stop.wait(args.period_ms / 1e3)

    with client("a-liaison") as a:
        batch = {"activities": [route(f"a-zigzag-{k}", ZIGZAG, "b") for k in range(args.routes)]}
        stored = a.post("/v1/activities/batch", json=batch)
        assert stored.status_code == 201, stored.text
    alone = threading.Thread(target=simple)  # a's answers with nothing else running: the floor
    alone.start()
    time.sleep(args.seconds / 4)
    stop.set()
    alone.join()
    alone_ms = sorted(s * 1e3 for s in simple_s)
    simple_s.clear()
    stop.clear()
    run_for(args.seconds, stop, costly, simple)
    ms = sorted(s * 1e3 for s in simple_s)
    return {
        "a's answer p50 alone (ms)": statistics.median(alone_ms),
        "a's notifications answered (with b's)": len(ms),
        "a's answer p50 (ms)": statistics.median(ms),
        "a's answer p99 (ms)": ms[int(0.99 * (len(ms) - 1))],
        "a's answer max (ms)": ms[-1],
        "b's costly checks answered": len(costly_s),
        "b's answer p50 (s)": statistics.median(costly_s) if costly_s else float("nan"),
        "answers a, b": answers(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--routes", type=int, default=100, help="a's zigzags: 199 exact pairs each in b's check")
    parser.add_argument("--period-ms", type=float, default=50.0, help="a's pause between two notifications")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--folder", default=None, help="Where the servers' data folders go (default: temporary)")
    parser.add_argument("--anchor-src", type=Path, default=None, help="Source tree (its src/) of the anchor server")
    args = parser.parse_args()
    print(f"\n## {args.store}: b's checks of {args.routes * 199:,} exact pairs back to back, a notifying alongside\n")
    side_by_side(args, "kc-check-lock-bench-", _load)


if __name__ == "__main__":
    main()
