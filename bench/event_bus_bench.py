"""Benchmark: events from one keepclear process to another through ``NatsBus`` (the bus across processes).

Two buses (two origins, two consumers, as two processes have) on the cluster of ``scripts/cluster``;
one publishes ``--events`` events (``publish_nowait``, as the probe's tick does), the other counts
them into a remote subscriber. Prints events/s end to end and the time until the last one arrived.
On the shared 2-core machine the client, the three servers and everyone else share the cores: read
the figures as a floor.

    scripts/cluster up && .venv/bin/python bench/event_bus_bench.py --events 20000
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Sequence

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.services.runtime.nats_bus import NatsBus

SERVERS = ["nats://127.0.0.1:4231", "nats://127.0.0.1:4232", "nats://127.0.0.1:4233"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    servers = args.servers.split(",")
    sender, receiver = NatsBus(servers).connect(), NatsBus(servers).connect()
    arrived = threading.Event()
    got = [0]

    def count(events: Sequence[Event]) -> None:
        got[0] += sum(1 for e in events if e.payload.get("run") == run)
        if got[0] >= args.events:
            arrived.set()

    receiver.subscribe_batches(count, remote=True)
    run = time.time()
    events = [
        Event(EventKind.FORCE_ADDED, run + k, "a", {"run": run, "force_id": f"f{k}"}, frozenset({"a"}))
        for k in range(args.events)
    ]
    t0 = time.perf_counter()
    for k in range(0, len(events), 100):
        sender.publish_nowait(events[k : k + 100])
    published_s = time.perf_counter() - t0
    complete = arrived.wait(300)
    total_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "events": args.events,
                "all_arrived": complete,
                "publish_call_s": round(published_s, 3),
                "last_arrived_s": round(total_s, 3),
                "events_per_s": round(got[0] / total_s),
                "duplicates_dropped": receiver.duplicates_dropped_total,
                "publish_failures": sender.bus_failures_total,
            }
        )
    )
    sender.close()
    receiver.close()


if __name__ == "__main__":
    main()
