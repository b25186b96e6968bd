"""Benchmark of the strategic check of long routes and many volumes: all pairs against joined pairs.

Each case checks one new activity against stored ones twice in the same run, side by side: with
every (probe, piece) pair looped over in Python, as the check did before it joined them
(``StrategicIndex(pairs_looped=math.inf)``), and as it does now (pairs that meet in time, band and
box found with ``detect.box_pairs``). Both must give identical conflict lists. The cases:

- a 499-leg route (1 km legs, one a minute) against 20 stored 499-leg routes: over the same ground
  3 h later; in the same hours 30 km to the side; the same path flown back over the same hours
  (the two meet half way); and a zigzag of 499 long legs across a 40 km square in 2 h against 20
  alike (every leg near dozens of the others' legs: the exact geometry is the cost);
- 64 volumes against 20 stored activities of 64 volumes;
- a 499-leg route across ``--theatre`` activities and zones of ``strategic_bench.py``'s theatre;
- a 499-leg route inside a zone of 20,000 vertices.

Times are CPU seconds of this process (time.process_time), best of ``--repeat`` runs. Single-threaded.

    python bench/strategic_legs_bench.py
    python bench/strategic_legs_bench.py --skip-zigzag   # without the slow dense case
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
from shapely.geometry import Polygon, box
from strategic_bench import indexed, make_activity, make_zone

from keepclear.detect.strategic import (
    CheckCounts,
    CheckResult,
    CheckTooCostly,
    IndexedActivity,
    PreparedZone,
    StrategicConfig,
)
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain.activities import Activity, ActivityKind, Route, Volume, Waypoint
from keepclear.domain.zones import AltitudeBand, Validity, Zone, ZoneKind, ZoneRules

T0 = 1509494400.0  # 2017-11-01T00:00Z
H = 3600.0
KM_PER_DEG = 111.0


def route(activity_id: str, party: str, points: list[tuple[float, float]], times_s: list[float]) -> IndexedActivity:
    """A route of lon/lat ``points`` at ``times_s``, 1 km each side, 0-10,000 ft."""
    waypoints = tuple(Waypoint(lat, lon, t) for (lon, lat), t in zip(points, times_s, strict=True))
    return indexed(
        Activity(
            id=activity_id,
            party_id=party,
            kind=ActivityKind.AIR_OPERATION,
            start_s=times_s[0],
            end_s=times_s[-1],
            route=Route(waypoints, 1000.0, AltitudeBand(0.0, 10000.0)),
            contact="duty officer",
        )
    )


def meander(
    rng: np.random.Generator, legs: int, lon: float, lat: float, step_km: float = 1.0
) -> list[tuple[float, float]]:
    """A path of ``legs`` legs of ``step_km`` whose heading wanders."""
    points = [(lon, lat)]
    heading = rng.uniform(0, 2 * math.pi)
    for _ in range(legs):
        heading += rng.normal(0, 0.3)
        last_lon, last_lat = points[-1]
        points.append(
            (
                last_lon + step_km * math.sin(heading) / (KM_PER_DEG * math.cos(math.radians(last_lat))),
                last_lat + step_km * math.cos(heading) / KM_PER_DEG,
            )
        )
    return points


def zigzag(rng: np.random.Generator, legs: int, lon: float, lat: float, side_km: float) -> list[tuple[float, float]]:
    """``legs`` legs between random points of a square ``side_km`` across."""
    half_lon = side_km / 2 / (KM_PER_DEG * math.cos(math.radians(lat)))
    half_lat = side_km / 2 / KM_PER_DEG
    return [(lon + rng.uniform(-half_lon, half_lon), lat + rng.uniform(-half_lat, half_lat)) for _ in range(legs + 1)]


def minutes(start_s: float, count: int, step_s: float = 60.0) -> list[float]:
    return [start_s + k * step_s for k in range(count)]


Case = tuple[str, IndexedActivity, list[IndexedActivity], list[PreparedZone]]


def route_cases(rng: np.random.Generator, zigzags: bool) -> list[Case]:
    path = meander(rng, 499, 38.0, 35.0)
    times = minutes(T0 + 48 * H, 500)
    subject = route("co-1", "coalition", path, times)
    later = [route(f"ru-{k}", "russia", path, [t + 3 * H for t in times]) for k in range(20)]
    aside = [route(f"ru-{k}", "russia", [(lon, lat + 30 / KM_PER_DEG) for lon, lat in path], times) for k in range(20)]
    back = [route(f"ru-{k}", "russia", path[::-1], times) for k in range(20)]
    cases: list[Case] = [
        ("499 legs x 20 routes, same ground 3 h later", subject, later, []),
        ("499 legs x 20 routes, same hours 30 km aside", subject, aside, []),
        ("499 legs x 20 routes, same path flown back", subject, back, []),
    ]
    if zigzags:
        two_hours = minutes(T0 + 48 * H, 500, 2 * H / 499)
        dense = route("co-2", "coalition", zigzag(rng, 499, 38.0, 35.0, 40.0), two_hours)
        others = [route(f"ru-{k}", "russia", zigzag(rng, 499, 38.0, 35.0, 40.0), two_hours) for k in range(20)]
        cases.append(("499 zigzag legs x 20 alike, 40 km, 2 h", dense, others, []))
    return cases


def volumes_case(rng: np.random.Generator) -> Case:
    def volumes(activity_id: str, party: str) -> IndexedActivity:
        parts = []
        for _ in range(64):
            lon, lat = rng.uniform(38.0, 39.0), rng.uniform(35.0, 36.0)
            start_s = T0 + 48 * H + rng.uniform(0, 20 * H)
            parts.append(Volume(box(lon, lat, lon + 0.02, lat + 0.02), AltitudeBand(0, 10000), start_s, start_s + H))
        return indexed(
            Activity(
                id=activity_id,
                party_id=party,
                kind=ActivityKind.AIR_OPERATION,
                start_s=min(v.start_s for v in parts),
                end_s=max(v.end_s for v in parts),
                volumes=tuple(parts),
                contact="duty officer",
            )
        )

    return (
        "64 volumes x 20 activities of 64",
        volumes("co-3", "coalition"),
        [volumes(f"ru-v{k}", "russia") for k in range(20)],
        [],
    )


def theatre_case(rng: np.random.Generator, count: int) -> Case:
    stored = [indexed(make_activity(rng, i, "a")) for i in range(count)]
    zones = [PreparedZone.of(make_zone(rng, i)) for i in range(count // 10)]
    path = meander(rng, 499, 37.0, 34.0, step_km=3.0)
    subject = route("co-4", "coalition", path, minutes(T0 + 10 * 86400, 500, 240.0))
    return (f"499 legs (3 km) across {count:,} activities", subject, stored, zones)


def big_zone_case(rng: np.random.Generator) -> Case:
    angles = np.linspace(0, 2 * math.pi, 20_000, endpoint=False)
    radius = 0.6 * (1 + 0.05 * np.sin(angles * 37))
    outline = Polygon(np.column_stack([38.0 + radius * np.cos(angles) / 0.82, 35.0 + radius * np.sin(angles)]))
    zone = Zone(
        id="z-big",
        name="a zone of 20,000 vertices",
        kind=ZoneKind.RESTRICTED_OPERATING_ZONE,
        geometry=outline,
        altitude=AltitudeBand(-1500, 99999),
        validity=Validity(None, None),
        rules=ZoneRules(permitted_parties=frozenset(), min_notice_h=0),
    )
    subject = route("co-5", "coalition", meander(rng, 499, 38.0, 35.0), minutes(T0 + 48 * H, 500))
    return ("499 legs inside a 20,000-vertex zone", subject, [], [PreparedZone.of(zone)])


def timed(call: Callable[[], CheckResult], repeat: int) -> tuple[float, CheckResult]:
    """Best of ``repeat`` runs in CPU seconds, and the result."""
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.process_time()
        result = call()
        best = min(best, time.process_time() - started)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=499)
    parser.add_argument("--repeat", type=int, default=1, help="runs per check; the best is kept")
    parser.add_argument("--theatre", type=int, default=20_000, help="stored activities of the theatre case")
    parser.add_argument("--skip-zigzag", action="store_true", help="leave out the dense zigzag case (minutes)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    config = StrategicConfig(max_exact_pairs=math.inf)  # the whole cost, however many pairs
    bounded = StrategicConfig()  # the default: refused past max_exact_pairs
    cases = [
        *route_cases(rng, not args.skip_zigzag),
        volumes_case(rng),
        theatre_case(rng, args.theatre),
        big_zone_case(rng),
    ]
    print(f"strategic check of long routes and many volumes (seed {args.seed}; one thread)")
    print(f"  CPU s per check (time.process_time), best of {args.repeat}; all pairs looped (before) | joined (now)")
    print()
    header = (
        f"  {'case':46}{'all pairs s':>12}{'joined s':>10}{'speed-up':>10}{'exact tests':>20}{'conflicts':>10}  same"
        f"{'default budget':>24}"
    )
    print(header)
    for name, subject, stored, zones in cases:
        took, results, exact = [], [], []
        for pairs_looped in (math.inf, None):
            index = StrategicIndex() if pairs_looped is None else StrategicIndex(pairs_looped=pairs_looped)
            for other in stored:
                index.put_activity(other)
            for zone in zones:
                index.put_zone(zone)
            counts = CheckCounts()
            index.check(subject, T0, config, counts)  # counted once, outside the timing
            seconds, result = timed(lambda i=index, s=subject: i.check(s, T0, config), args.repeat)
            took.append(seconds)
            results.append(result)
            exact.append(counts.exact)
        tests = f"{exact[0]:,} | {exact[1]:,}"
        started_s = time.process_time()
        try:
            index.check(subject, T0, bounded)
            verdict = "checked"
        except CheckTooCostly:
            verdict = "refused"
        budget = f"{verdict} in {time.process_time() - started_s:.3f} s"
        print(
            f"  {name:46}{took[0]:>12.3f}{took[1]:>10.3f}{took[0] / max(took[1], 1e-9):>9.1f}x{tests:>20}"
            f"{len(results[1].conflicts):>10}  {'yes' if results[0] == results[1] else 'NO '}{budget:>24}"
        )
    print()
    print("  exact tests: (probe, piece) pairs put to shapely's intersects; every pair that passes the time,")
    print("  band and box tests is, in both ways, so the counts are equal: the join saves the loop, not the")
    print("  geometry. The pieces of the stored activities are drawn before the timing.")


if __name__ == "__main__":
    main()
