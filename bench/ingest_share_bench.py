"""Another party's track feed while one party floods the ingest, through a real `keepclear serve`.

Party a's ``--flood-clients`` feeds post ``--flood-batch``-report batches (each unit ``--repeats``
times: valid, but dearer to the pump, so the queue reaches its limit) as fast as they are answered (waiting out each 429's Retry-After, as a feed should); party b's one feed posts a
``--batch``-report batch every ``--period-ms``, as a steady radar picture would. Prints, per server,
how many of b's batches were refused (429) and taken, the longest run of b's refusals (how long b's
picture went stale), and a's accepted rate. With ``--anchor-src`` the same load runs against a
server from another source tree (``git archive 2ecebcf src | tar -x -C /tmp/anchor-fair``: one queue,
first come first served), measured side by side.

    python bench/ingest_share_bench.py --seconds 20 --anchor-src /tmp/anchor-fair/src
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from service_bench import TIME_PLACEHOLDER, batches, populate, print_side_by_side, serve, stop_server

from keepclear.domain.timefmt import format_utc


def run(args: argparse.Namespace, src: Path | None, bodies: dict[str, list[bytes]]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kc-ingest-share-"))
    keys = populate(folder, args.units)
    server, base = serve(folder, src, {"KEEPCLEAR_TICK_S": "1", "KEEPCLEAR_INGEST_BACKLOG_S": str(args.backlog_s)})
    stop = threading.Event()
    accepted = {"a": 0, "b": 0}
    answers: dict[str, dict[int, int]] = {"a": {}, "b": {}}
    b_refusals: list[tuple[float, bool]] = []  # (time, refused) of each of b's batches
    lock = threading.Lock()

    def post(http: httpx.Client, party: str, j: int) -> httpx.Response:
        body = bodies[party][j % len(bodies[party])].replace(
            TIME_PLACEHOLDER.encode(), format_utc(time.time()).encode()
        )
        answer = http.post("/v1/tracks", content=body)
        with lock:
            answers[party][answer.status_code] = answers[party].get(answer.status_code, 0) + 1
            if answer.status_code == 202:
                accepted[party] += answer.json()["accepted"]
        return answer

    def client(party: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {keys[party]}", "content-type": "application/json"}
        return httpx.Client(base_url=base, headers=headers, timeout=60)

    def flood(k: int) -> None:
        with client("a") as http:
            j = k
            while not stop.is_set():
                answer = post(http, "a", j)
                j += 1
                if answer.status_code == 429:
                    stop.wait(float(answer.headers.get("retry-after", "1")))

    def steady() -> None:
        with client("b") as http:
            j = 0
            while not stop.is_set():
                answer = post(http, "b", j)
                j += 1
                b_refusals.append((time.perf_counter(), answer.status_code == 429))
                stop.wait(args.period_ms / 1e3)

    try:
        threads = [threading.Thread(target=flood, args=(k,)) for k in range(args.flood_clients)]
        threads.append(threading.Thread(target=steady))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        stop_server(server)
    longest_s, run_start = 0.0, None
    for at, refused in b_refusals:
        if refused and run_start is None:
            run_start = at
        elif not refused and run_start is not None:
            longest_s, run_start = max(longest_s, at - run_start), None
    if run_start is not None:
        longest_s = max(longest_s, b_refusals[-1][0] - run_start)
    b_sent = len(b_refusals)
    return {
        "b's batches sent": b_sent,
        "b's batches refused 429": answers["b"].get(429, 0),
        "b's refused share": answers["b"].get(429, 0) / max(1, b_sent),
        "b's longest run refused (s)": longest_s,
        "b's reports accepted/s": accepted["b"] / elapsed,
        "a's reports accepted/s": accepted["a"] / elapsed,
        "a's answers": ", ".join(f"{code}: {n}" for code, n in sorted(answers["a"].items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--flood-batch", type=int, default=5_000)
    parser.add_argument("--flood-clients", type=int, default=6)
    parser.add_argument(
        "--repeats", type=int, default=5, help="each of a's units this many times a batch: valid, dearer to the pump"
    )
    parser.add_argument("--batch", type=int, default=100, help="reports in each of b's batches")
    parser.add_argument(
        "--backlog-s", type=float, default=0.02, help="ingest_backlog_s: small, so a's flood reaches the queue's limit"
    )
    parser.add_argument("--period-ms", type=float, default=200.0)
    parser.add_argument("--anchor-src", type=Path, default=None, help="Source tree (its src/) of the anchor server")
    args = parser.parse_args()
    flood_bodies = batches(args.units, args.flood_batch, shape="columns", repeats=args.repeats)
    steady_bodies = batches(args.units, args.batch, seed=7, shape="columns")
    bodies = {"a": flood_bodies["a"], "b": steady_bodies["b"]}
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.anchor_src is not None:
        trees.insert(0, ("anchor", args.anchor_src))
    results = {name: run(args, src, bodies) for name, src in trees}
    print(
        f"\n## a floods ({args.flood_clients} feeds × {args.flood_batch:,} reports), b posts {args.batch} every"
        f" {args.period_ms:g} ms\n"
    )
    print_side_by_side(results)


if __name__ == "__main__":
    main()
