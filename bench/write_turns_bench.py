"""One party's notifications while another sends full batches from many clients at once, through a
real server.

A real `keepclear serve` in its own process; party b's liaison sends batches of ``--batch`` small
activities (``POST /v1/activities/batch``) from ``--flooders`` clients at once, back to back, each
batch one transaction that holds the store's writer while it is stored, checked and recorded;
party a's liaison meanwhile notifies one small activity every ``--period-ms``. Prints, per server,
a's answer times (p50, p99, max) alone and under b's batches, and how many of b's batches went
through. With ``--anchor-src`` the same load runs against a server from another source tree
(``git archive be9440c src | tar -x -C /tmp/anchor-turns``: a party's writes not taking turns),
measured side by side. ``--store postgres`` runs both on PostgreSQL.

    python bench/write_turns_bench.py --seconds 20 --anchor-src /tmp/anchor-turns/src [--store postgres]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from check_lock_bench import answers, side_by_side, small
from service_bench import run_for


def elsewhere(activity_id: str) -> dict[str, Any]:
    """One of b's small activities addressed to a, a degree south of a's: no check of a's judges it
    exactly, so a's answer times are the queue's, not its check's."""
    body = small(activity_id)
    for volume in body["volumes"]:
        volume["geometry"]["coordinates"] = [
            [[lon, lat - 1.0] for lon, lat in ring] for ring in volume["geometry"]["coordinates"]
        ]
    return {**body, "addressees": ["a"]}


def _percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[int(share * (len(sorted_ms) - 1))] if sorted_ms else float("nan")


def _load(args: argparse.Namespace, base: str, keys: dict[str, str]) -> dict[str, Any]:
    stop = threading.Event()
    single_s: list[float] = []
    batch_s: list[float] = []
    statuses: dict[str, dict[int, int]] = {"a": {}, "b": {}}
    ids = itertools.count()

    def client(key: str) -> httpx.Client:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[key]}"}, timeout=300)

    def count(party: str, answer: httpx.Response) -> None:
        statuses[party][answer.status_code] = statuses[party].get(answer.status_code, 0) + 1

    def single() -> None:
        with client("a-liaison") as http:
            while not stop.is_set():
                started = time.perf_counter()
                answer = http.post("/v1/activities", json=small(f"a-one-{next(ids)}"))
                single_s.append(time.perf_counter() - started)
                count("a", answer)
                stop.wait(args.period_ms / 1e3)

    def flood() -> None:
        with client("b-liaison") as http:
            while not stop.is_set():
                body = {
                    "activities": [{**small(f"b-many-{next(ids)}"), "addressees": ["a"]} for _ in range(args.batch)]
                }
                started = time.perf_counter()
                answer = http.post("/v1/activities/batch", json=body)
                batch_s.append(time.perf_counter() - started)
                count("b", answer)

    run_for(args.seconds / 4, stop, single)  # a's answers with nothing else running: the floor
    alone_ms = sorted(s * 1e3 for s in single_s)
    single_s.clear()
    stop.clear()
    run_for(args.seconds, stop, single, *[flood] * args.flooders)
    ms = sorted(s * 1e3 for s in single_s)
    return {
        "a's answer p50 alone (ms)": statistics.median(alone_ms),
        "a's notifications answered (under b's batches)": len(ms),
        "a's answer p50 (ms)": statistics.median(ms) if ms else float("nan"),
        "a's answer p99 (ms)": _percentile(ms, 0.99),
        "a's answer max (ms)": ms[-1] if ms else float("nan"),
        "b's batches answered": len(batch_s),
        "b's batch answer p50 (s)": statistics.median(batch_s) if batch_s else float("nan"),
        "answers a, b": answers(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=200, help="activities in each of b's batches")
    parser.add_argument("--flooders", type=int, default=12, help="b's clients sending batches at once")
    parser.add_argument("--period-ms", type=float, default=50.0, help="a's pause between two notifications")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--folder", default=None, help="Where the servers' data folders go (default: temporary)")
    parser.add_argument("--anchor-src", type=Path, default=None, help="Source tree (its src/) of the anchor server")
    args = parser.parse_args()
    print(
        f"\n## {args.store}: b's batches of {args.batch} from {args.flooders} clients at once,"
        f" a notifying one every {args.period_ms:g} ms\n"
    )
    side_by_side(args, "kc-write-turns-bench-", _load, {"KEEPCLEAR_MAX_LIVE_ACTIVITIES_PER_PARTY": "10000000"})


if __name__ == "__main__":
    main()
