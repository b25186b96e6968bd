"""Benchmark of the strategic check: the grid index against a brute-force scan, side by side.

Generates a theatre (Syria-sized, 35.5-42.5 E, 32.5-37.5 N, 30 days) holding ``--activities``
live activities of four parties (circles, polygons and timed routes, 1-8 h each) and ``--zones``
zones (polygons, deconfliction lines with a buffer, protected sites), builds the index in memory
from this generated data (not from a database), then checks ``--queries`` new activities with the
index and ``--brute`` of them also with ``brute_force_check`` (every stored activity and zone judged
by the same exact function). Both must give identical conflict lists. Single-threaded throughout.

    python bench/strategic_bench.py                      # 100,000 activities, 10,000 zones
    python bench/strategic_bench.py --activities 20000   # quicker
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from keepclear.detect.activity_geometry import activity_pieces
from keepclear.detect.strategic import (
    CheckResult,
    IndexedActivity,
    PreparedZone,
    StrategicConfig,
    brute_force_check,
    judge_activity,
    judge_zone,
    late_notice,
    probes_for,
)
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain.activities import Activity, ActivityKind, Circle, Route, Volume, Waypoint
from keepclear.domain.zones import AltitudeBand, Validity, Zone, ZoneKind, ZoneRules

T0 = 1509494400.0  # 2017-11-01T00:00Z
DAYS = 30
H = 3600.0
LON = (35.5, 42.5)
LAT = (32.5, 37.5)
PARTIES = ("coalition", "russia", "turkey", "un")
KINDS = list(ActivityKind)
KM_PER_DEG_LAT = 111.0


def _deg_lon(km: float, lat: float) -> float:
    return km / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))


def _polygon(rng: np.random.Generator, lon: float, lat: float, size_km: float) -> Polygon:
    """A random convex polygon: the hull of points on a jittered circle."""
    angles = rng.uniform(0, 2 * math.pi, rng.integers(5, 10))
    radii = size_km * rng.uniform(0.6, 1.0, len(angles))
    points = [
        (lon + _deg_lon(r * math.cos(a), lat), lat + r * math.sin(a) / KM_PER_DEG_LAT)
        for a, r in zip(angles, radii, strict=True)
    ]
    hull = MultiPoint(points).convex_hull
    assert isinstance(hull, Polygon)
    return hull


def make_activity(rng: np.random.Generator, index: int, prefix: str) -> Activity:
    lon, lat = rng.uniform(*LON), rng.uniform(*LAT)
    start_s = T0 + rng.uniform(0, DAYS * 86400 - 8 * H)
    end_s = start_s + rng.uniform(1, 8) * H
    lower = float(rng.choice([0, 0, 5000, 10000, 20000]))
    band = AltitudeBand(lower, lower + float(rng.choice([500, 5000, 15000])))
    shape_kind = rng.random()
    volumes: tuple[Volume, ...] = ()
    route = None
    if shape_kind < 0.5:
        volumes = (Volume(Circle(lat, lon, rng.uniform(1000, 15000)), band, start_s, end_s),)
    elif shape_kind < 0.75:
        volumes = (Volume(_polygon(rng, lon, lat, rng.uniform(2, 20)), band, start_s, end_s),)
    else:
        count = int(rng.integers(3, 7))
        times = np.linspace(start_s, end_s, count)
        points = [(lat, lon)]
        for _ in range(count - 1):
            heading = rng.uniform(0, 2 * math.pi)
            step_km = rng.uniform(5, 30)
            last_lat, last_lon = points[-1]
            points.append(
                (
                    last_lat + step_km * math.cos(heading) / KM_PER_DEG_LAT,
                    last_lon + _deg_lon(step_km * math.sin(heading), last_lat),
                )
            )
        waypoints = tuple(Waypoint(p[0], p[1], float(t)) for p, t in zip(points, times, strict=True))
        route = Route(waypoints, rng.uniform(500, 3000), band)
    return Activity(
        id=f"{prefix}{index}",
        party_id=PARTIES[int(rng.integers(len(PARTIES)))],
        kind=KINDS[int(rng.integers(len(KINDS)))],
        start_s=start_s,
        end_s=end_s,
        volumes=volumes,
        route=route,
        contact="duty officer",
    )


def make_zone(rng: np.random.Generator, index: int) -> Zone:
    lon, lat = rng.uniform(*LON), rng.uniform(*LAT)
    pick = rng.random()
    permitted: frozenset[str] | None = (
        None if rng.random() < 0.5 else frozenset(p for p in PARTIES if rng.random() < 0.5)
    )
    notice_h = float(rng.choice([0, 0, 12, 24, 72]))
    validity = Validity(None, None) if rng.random() < 0.7 else Validity(T0 + rng.uniform(0, 20) * 86400, None)
    band = AltitudeBand(-1500, float(rng.choice([1000, 10000, 99999])))
    if pick < 0.6:
        geometry = _polygon(rng, lon, lat, rng.uniform(1, 10))
        kind, buffer_m = (
            rng.choice(
                [ZoneKind.DE_ESCALATION_ZONE, ZoneKind.RESTRICTED_OPERATING_ZONE, ZoneKind.SPECIAL_CAUTION_AREA]
            ),
            0.0,
        )
    elif pick < 0.8:
        end_lon, end_lat = lon + rng.uniform(-0.2, 0.2), lat + rng.uniform(-0.2, 0.2)
        geometry, kind, buffer_m = (
            LineString([(lon, lat), (end_lon, end_lat)]),
            ZoneKind.DECONFLICTION_LINE,
            rng.uniform(1000, 5000),
        )
    else:
        geometry, kind, buffer_m = Point(lon, lat), ZoneKind.PROTECTED_SITE, rng.uniform(100, 1000)
    return Zone(
        id=f"z{index}",
        name=f"zone {index}",
        kind=ZoneKind(kind),
        geometry=geometry,
        altitude=band,
        validity=validity,
        rules=ZoneRules(permitted_parties=permitted, min_notice_h=notice_h),
        buffer_m=float(buffer_m),
    )


def indexed(activity: Activity) -> IndexedActivity:
    return IndexedActivity(activity.id, activity.party_id, activity.version, activity.kind, activity_pieces(activity))


class VectorisedScan:
    """A linear scan without an index, as fast as numpy and shapely make it.

    Every stored piece and zone is tested on each check. ``geometry_first``: ``shapely.intersects``
    (vectorised, in C) on every stored geometry, then the time and altitude masks (the plain
    "scan with shapely"); otherwise the numpy time and altitude masks first and shapely on what is
    left (the best linear scan). Hits are judged by the same exact functions as the index and the
    brute force, so the lists are comparable.
    """

    def __init__(self, stored: list[IndexedActivity], zones: list[PreparedZone], geometry_first: bool) -> None:
        self.geometry_first = geometry_first
        self.stored = stored
        self.zones = zones
        owners, geoms, rows = [], [], []
        for number, item in enumerate(stored):
            for piece in item.pieces:
                owners.append(number)
                geoms.append(piece.geometry)
                rows.append((piece.start_s, piece.end_s, piece.lower_ft, piece.upper_ft))
        self.owner = np.asarray(owners)
        self.geoms = np.asarray(geoms, dtype=object)
        self.times = np.asarray(rows)
        self.party = np.asarray([stored[o].party_id for o in owners])
        self.zone_areas = np.asarray([z.area for z in zones], dtype=object)
        self.zone_rows = np.asarray(
            [
                (
                    -math.inf if z.zone.validity.valid_from_s is None else z.zone.validity.valid_from_s,
                    math.inf if z.zone.validity.valid_until_s is None else z.zone.validity.valid_until_s,
                    z.zone.altitude.lower_ft,
                    z.zone.altitude.upper_ft,
                )
                for z in zones
            ]
        )

    def check(self, subject: IndexedActivity, notified_s: float, config: StrategicConfig) -> CheckResult:
        found = []
        hit_owners: set[int] = set()
        t = self.times
        probes = probes_for(subject.pieces, config)
        for probe in probes:
            near = shapely.intersects(self.geoms, probe.geometry) if self.geometry_first else None
            mask = (
                (t[:, 0] < probe.end_s)
                & (probe.start_s < t[:, 1])
                & (t[:, 2] <= probe.upper_ft)
                & (probe.lower_ft <= t[:, 3])
            )
            mask &= self.party != subject.party_id
            if near is not None:
                hits = np.flatnonzero(mask & near)
            else:
                candidates = np.flatnonzero(mask)
                hits = candidates[shapely.intersects(self.geoms[candidates], probe.geometry)]
            hit_owners.update(self.owner[hits].tolist())
        for number in sorted(hit_owners):
            other = self.stored[number]
            if other.activity_id != subject.activity_id and (conflict := judge_activity(probes, other, config)):
                found.append(conflict)
        z = self.zone_rows
        hit_zones: set[int] = set()
        for piece in subject.pieces:
            mask = (
                (z[:, 0] < piece.end_s)
                & (piece.start_s < z[:, 1])
                & (z[:, 2] <= piece.upper_ft)
                & (piece.lower_ft <= z[:, 3])
            )
            if self.geometry_first:
                hit_zones.update(np.flatnonzero(mask & shapely.intersects(self.zone_areas, piece.geometry)).tolist())
            else:
                candidates = np.flatnonzero(mask)
                hit_zones.update(candidates[shapely.intersects(self.zone_areas[candidates], piece.geometry)].tolist())
        for number in sorted(hit_zones):
            found += judge_zone(subject.pieces, self.zones[number], subject.party_id, subject.kind, notified_s, config)
        found.sort(key=lambda c: (c.kind.value, c.target_id))
        start_s = min(p.start_s for p in subject.pieces)
        return CheckResult(tuple(found), late_notice(subject.kind, start_s, notified_s, config))


def cpu_ms(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Best of ``repeat`` runs, in CPU milliseconds of this process, and the last result."""
    best = math.inf
    result: object = None
    for _ in range(repeat):
        started = time.process_time()
        result = call()
        best = min(best, (time.process_time() - started) * 1000)
    return best, result


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--zones", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--brute", type=int, default=30, help="queries also checked by brute force")
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--repeat", type=int, default=3, help="runs per check; the best is kept")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    config = StrategicConfig()

    started = time.perf_counter()
    stored = [indexed(make_activity(rng, i, "a")) for i in range(args.activities)]
    zones = [PreparedZone.of(make_zone(rng, i)) for i in range(args.zones)]
    generated_s = time.perf_counter() - started

    started = time.perf_counter()
    index = StrategicIndex()
    for item in stored:
        index.put_activity(item)
    for zone in zones:
        index.put_zone(zone)
    build_s = time.perf_counter() - started

    queries = [indexed(make_activity(rng, i, "q")) for i in range(args.queries)]
    started = time.perf_counter()
    scan = VectorisedScan(stored, zones, geometry_first=False)
    shapely_scan = VectorisedScan(stored, zones, geometry_first=True)
    scan_build_s = time.perf_counter() - started

    index_ms, index_first_ms, results = [], [], []
    for query in queries:
        started = time.process_time()
        results.append(index.check(query, T0, config))
        index_first_ms.append((time.process_time() - started) * 1000)
        best = index_first_ms[-1]
        if args.repeat > 1:
            best = min(best, cpu_ms(lambda q=query: index.check(q, T0, config), args.repeat - 1)[0])
        index_ms.append(best)

    compared = queries[: args.brute]
    anchors = {"shapely scan": shapely_scan.check, "brute force": None, "numpy+shapely": scan.check}
    anchor_ms: dict[str, list[float]] = {name: [] for name in anchors}
    same = dict.fromkeys(anchors, 0)
    side_by_side = []
    for number, query in enumerate(compared):
        for name, check in anchors.items():
            if check is None:
                took, found = cpu_ms(lambda q=query: brute_force_check(q, stored, zones, T0, config), args.repeat)
            else:
                took, found = cpu_ms(lambda q=query, c=check: c(q, T0, config), args.repeat)
            anchor_ms[name].append(took)
            same[name] += found == results[number]
            if name == "brute force" and len(side_by_side) < 6 and results[number].conflicts:
                side_by_side.append((query.activity_id, results[number], found))

    sub = index_ms[: len(compared)]
    ratio = {name: statistics.median(b / a for a, b in zip(sub, anchor_ms[name], strict=True)) for name in anchors}
    conflicts = [len(r.conflicts) for r in results]
    p99 = percentile(index_ms, 99)
    print(f"strategic check benchmark (seed {args.seed}; one thread)")
    print("  the index is built in memory from generated data (not read from a database);")
    print(f"  times are CPU ms of this process per check (time.process_time), best of {args.repeat} runs")
    print("  per check for every method alike (the machine is shared with other work)")
    print(f"  theatre 35.5-42.5E 32.5-37.5N over {DAYS} days; generation {generated_s:.0f} s,"
          f" index build {build_s:.2f} s, scan arrays {scan_build_s:.2f} s")  # fmt: skip
    print(f"  {args.activities:,} stored activities, {args.zones:,} zones;"
          f" {len(queries):,} checks by the index, the first {len(compared)} also by each scan")  # fmt: skip
    print()
    columns = [("grid index", index_ms), *anchor_ms.items()]
    print(f"  {'':26}" + "".join(f"{name:>15}" for name, _ in columns))
    for label, q in (("p50 ms", 50), ("p99 ms", 99), ("max ms", 100)):
        print(f"  {label:26}" + "".join(f"{percentile(times, q):>15.3f}" for _, times in columns))
    print(f"  {'index speed-up (median)':26}{'':>15}" + "".join(f"{ratio[n]:>14.1f}x" for n in anchors))
    print(
        f"  {'lists identical to index':26}{'':>15}" + "".join(f"{f'{same[n]}/{len(compared)}':>15}" for n in anchors)
    )
    print(
        f"  {'index single-run p50/p99':26}{percentile(index_first_ms, 50):>8.3f} / {percentile(index_first_ms, 99):.3f}"
    )
    print(f"  {'conflicts per check':26} mean {statistics.mean(conflicts):.2f}, max {max(conflicts)}")
    print()
    print("  shapely scan: shapely.intersects (vectorised, in C) on every stored geometry, then time and")
    print("  altitude; brute force: brute_force_check, a Python loop judging every pair with cheap time,")
    print("  altitude and box rejections before shapely; numpy+shapely: numpy time and altitude masks over")
    print("  everything, then shapely on what is left. All judge their hits with the index's exact functions.")
    print()
    identical = all(v == len(compared) for v in same.values())
    print(f"  target p99 < 10 ms: {'met' if p99 < 10 else 'NOT met'} ({p99:.2f} ms)")
    print("  target >= 100x a brute-force scan with shapely: "
          + ", ".join(f"{ratio[n]:.1f}x {n}" for n in anchors))  # fmt: skip
    print(f"  identical conflict lists: {'met' if identical else 'NOT met'}")
    print()
    print("  side by side, first checks with conflicts (index | brute force):")
    for query_id, fast, slow in side_by_side:
        left = ", ".join(f"{c.kind.value}:{c.target_id}" for c in fast.conflicts)
        right = ", ".join(f"{c.kind.value}:{c.target_id}" for c in slow.conflicts)
        print(f"    {query_id:5} {left}")
        print(f"    {'':5} {right}")


if __name__ == "__main__":
    main()
