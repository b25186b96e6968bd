"""Benchmark: the probe cut into geographic cells for 1, 2 and 4 workers against the single probe.

Each worker's share (its view: own cells + halo + wide units; the probe on it; the owned pairs) is
timed on its own, one after the other on one core (CPU seconds, numba on one thread), as separate
worker processes would run it. The table gives, per layout, the units each worker sees (the halo's
cost), the slowest worker (the time per probe were they on their own cores), the sum over workers
(the CPU it costs) and whether the merged pairs equal the single probe's, each once.

Scenes (the probe benchmark's aircraft, ``bench/probe_bench.py``): ``box`` is the reference 10k in
4° × 6° around 52°N 5°E, smaller than one default cell and than the halo (~550 km); ``wide``
is the same count spread at constant density over ``--scale``² times the box's area, where cells
have something to split; ``slow`` is ``wide`` with 99 % of the aircraft at 5-50 m/s, cut with the
speed caps of docs/scale.md's configuration B (air 60 m/s: the jets are wide, the halo ~100 km).

    .venv/bin/python bench/partition_bench.py                    # 10k units, ~1 minute
    .venv/bin/python bench/partition_bench.py --n 100000 --scale 10 --scenes wide --series 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from probe_bench import scenario

from keepclear.detect.cells import CellGrid, CellPlan
from keepclear.detect.halos import SpeedCaps
from keepclear.detect.probe import Conflicts, probe
from keepclear.detect.states import TrackStates, states_from_track
from keepclear.services.tactical.partitioned import PartitionedProbe, merge


def states_for(n: int, scale: float, seed: int, slow: bool = False) -> TrackStates:
    """The probe benchmark's aircraft, every one its own party (so every pair counts); ``slow``: 99 %
    of them at 5-50 m/s (drones, helicopters), 1 % jets as before."""
    d = scenario(n, seed, scale)
    if slow:
        rng = np.random.default_rng(seed + 1)
        d["gs"] = np.where(rng.uniform(0.0, 1.0, n) < 0.99, rng.uniform(5.0, 50.0, n), d["gs"])
    return states_from_track(
        tuple(str(k) for k in range(n)), np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
        np.zeros(n), d["lat"], d["lon"], d["alt"], d["gs"], d["trk"], d["vs"],
    )  # fmt: skip


def best_of(repeats: int, call):  # type: ignore[no-untyped-def]
    """Least CPU time of ``repeats`` calls after a warm-up, and the last result (CPU seconds, not
    wall: on a shared machine the wall clock counts the neighbours' work too)."""
    result = call()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        result = call()
        best = min(best, time.process_time() - t0)
    return best, result


def pair_set(c: Conflicts) -> list[tuple[int, int]]:
    return list(zip(c.row_a.tolist(), c.row_b.tolist(), strict=True))


def run_layout(
    states: TrackStates, plan: CellPlan, workers: int, repeats: int, block_deg: float | None
) -> dict[str, object]:
    """Each worker's share timed alone; the merged pairs."""
    part = PartitionedProbe(plan, [f"w{k}" for k in range(workers)], block_deg=block_deg)
    times, sizes, parts, cells_with_units = [], [], [], 0
    occupied = set(plan.grid.cell_of(states.lat_deg, states.lon_deg).tolist())
    for name, cells in part.cells.items():
        seconds, share = best_of(repeats, lambda name=name: part.share(name, states, 0.0))
        times.append(seconds)
        sizes.append(len(share.view.rows))
        parts.append(share.conflicts)
        cells_with_units += len(occupied & set(cells.tolist()))
    merged = merge(parts, states.unit_ids)
    found = [p for c in parts for p in pair_set(c)]
    return {
        "times": times,
        "sizes": sizes,
        "pairs": pair_set(merged),
        "duplicates": len(found) - len(set(found)),
        "occupied": len(occupied),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--scale", type=float, default=8.0, help="Area of the wide scene, as a multiple of the box's side.")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scenes", nargs="*", default=["box", "wide", "slow"], choices=["box", "wide", "slow"])
    ap.add_argument("--series", type=int, nargs="*", default=[10_000, 100_000], help="Constant-density sizes.")
    args = ap.parse_args()
    print(f"{args.n:,} aircraft, 5 NM / 1,000 ft / 300 s, least CPU s of {args.repeats} after a warm-up\n")
    header = (
        f"{'scene':<6} {'cell':>5} {'block':>5} {'cells':>6} {'workers':>7} {'seen max':>9} {'seen sum/n':>10} "
        f"{'slowest s':>9} {'sum s':>7} {'single s':>8} {'pairs':>7} {'equal':>5} {'dup':>3}"
    )
    print(header)
    print("-" * len(header))
    layouts: dict[str, tuple[tuple[float, float | None], ...]] = {
        "box": ((10.0, None), (2.0, None), (2.0, 20.0)),
        "wide": ((10.0, None), (2.0, None), (2.0, 20.0)),
        "slow": ((1.0, None), (1.0, 5.0), (2.0, 10.0)),
    }
    for scene, scale in (("box", 1.0), ("wide", args.scale), ("slow", args.scale)):
        if scene not in args.scenes:
            continue
        states = states_for(args.n, scale, args.seed, slow=scene == "slow")
        # The slow scene partitions with the caps of docs/scale.md's configuration B: jets are wide.
        caps = SpeedCaps(60.0, 20.0, 15.0) if scene == "slow" else SpeedCaps()
        for cell_deg, block_deg in layouts[scene]:
            plan = CellPlan(CellGrid(cell_deg), caps)
            single_s, single = best_of(args.repeats, lambda plan=plan, states=states: probe(states, 0.0, plan.settings))
            expected = sorted(pair_set(single))
            for workers in (1, 2, 4):
                r = run_layout(states, plan, workers, args.repeats, block_deg)
                times, sizes = r["times"], r["sizes"]
                assert isinstance(times, list) and isinstance(sizes, list) and isinstance(r["pairs"], list)
                block = "-" if block_deg is None else f"{block_deg:.0f}°"
                print(
                    f"{scene:<6} {cell_deg:>4.0f}° {block:>5} {r['occupied']:>6} {workers:>7} {max(sizes):>9,} "
                    f"{sum(sizes) / args.n:>10.2f} {max(times):>9.3f} {sum(times):>7.3f} {single_s:>8.3f} "
                    f"{len(r['pairs']):>7,} {'yes' if sorted(r['pairs']) == expected else 'NO':>5} {r['duplicates']:>3}"
                )
    print("\nthe probe alone at the box's density (the cost per unit a worker pays, halo included)")
    for n in args.series:
        states = states_for(n, (n / 10_000) ** 0.5, args.seed)
        seconds, single = best_of(args.repeats, lambda states=states: probe(states, 0.0))
        print(f"  {n:>9,} units: {seconds:7.3f} CPU s, {seconds / n * 1e6:6.2f} µs a unit, {len(single):,} pairs")


if __name__ == "__main__":
    main()
