"""Benchmark: what the 3-node JetStream cluster of ``scripts/cluster`` carries from one Python client.

Publishes to a stream replicated on all three nodes (R3) and to one on a single node (R1), with
acknowledgements awaited in windows of ``--window`` (``publish_async``), for small messages (one
track report, ~100 B) and for cell batches (many reports in one message, the way detector workers
will be fed). Prints messages/s and MB/s. The cluster must be up (``scripts/cluster up``); the
streams are created and deleted by the run. On the shared 2-core machine the client, the three
servers and everyone else share the cores: read the figures as a floor.

    scripts/cluster up && .venv/bin/python bench/bus_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import time

import nats

SERVERS = ["nats://127.0.0.1:4231", "nats://127.0.0.1:4232", "nats://127.0.0.1:4233"]


async def run(replicas: int, size_b: int, count: int, window: int) -> tuple[float, float]:
    """Messages/s and MB/s for ``count`` messages of ``size_b`` bytes."""
    nc = await nats.connect(servers=SERVERS)
    js = nc.jetstream(timeout=10.0, publish_async_max_pending=window)
    name = f"BENCH_R{replicas}_{size_b}"
    await js.add_stream(name=name, subjects=[f"bench.{name}.>"], num_replicas=replicas)
    payload = b"x" * size_b
    t0 = time.perf_counter()
    pending = []
    for k in range(count):
        pending.append(await js.publish_async(f"bench.{name}.c{k % 64}", payload))
        if len(pending) >= window:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    seconds = time.perf_counter() - t0
    info = await js.stream_info(name)
    assert info.state.messages == count, (info.state.messages, count)
    await js.delete_stream(name)
    await nc.close()
    return count / seconds, count * size_b / seconds / 1e6


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20_000, help="Small messages per run (batches: a tenth).")
    ap.add_argument("--window", type=int, default=256)
    args = ap.parse_args()
    print(f"{'stream':<6} {'message':>9} {'count':>7} {'msg/s':>9} {'MB/s':>7}")
    for replicas in (3, 1):
        for size_b, count in ((100, args.count), (65_536, max(args.count // 10, 1))):
            rate, mbps = await run(replicas, size_b, count, args.window)
            print(f"R{replicas:<5} {size_b:>8,}B {count:>7,} {rate:>9,.0f} {mbps:>7.1f}")


if __name__ == "__main__":
    asyncio.run(main())
