"""The strategic check against what an operator on PostgreSQL would write instead: PostGIS.

The same generated theatre as ``strategic_bench.py`` (``--activities`` live activities, ``--zones``
zones; the same seed gives the same data) is loaded into a PostGIS database: one row per activity
piece (its lon/lat geometry, its time window and altitude band as ranges) and one per zone (its
covered area, validity and altitude band), each table under one multicolumn GiST index over
geometry, time and altitude. Each new activity is then checked twice, side by side:

- **grid index**: keepclear's in-memory ``StrategicIndex.check``;
- **PostGIS**: one SQL round trip per check finding every stored piece of another party and every
  zone whose geometry intersects a probe (the new activity's pieces grown by the buffers), with
  overlapping time and altitude ranges (``&&`` and ``ST_Intersects`` under the GiST index), then
  the same exact judgement on what it found (``judge_activity``/``judge_zone``), so that both give
  conflict lists that can be compared entry by entry.

Times are wall milliseconds per check (the PostGIS figure includes the server's work and the round
trip on 127.0.0.1). Needs PostGIS in the PostgreSQL at ``--url`` (Debian: ``apt-get install
postgresql-15-postgis-3``); the bench makes its own database (``--database``) with the extension and
drops it at the end unless ``--keep``.

    python bench/strategic_postgis_bench.py                       # 100,000 activities, 10,000 zones
    python bench/strategic_postgis_bench.py --activities 20000 --queries 200
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import psycopg
import shapely
from strategic_bench import T0, indexed, make_activity, make_zone, percentile

from keepclear.detect.strategic import (
    CheckResult,
    IndexedActivity,
    PreparedZone,
    StrategicConfig,
    judge_activity,
    judge_zone,
    late_notice,
    probes_for,
)
from keepclear.detect.strategic_index import StrategicIndex

SCHEMA = """
CREATE TABLE pieces (owner integer NOT NULL, party text NOT NULL, geom geometry(Geometry, 4326) NOT NULL,
                     span numrange NOT NULL, band numrange NOT NULL);
CREATE TABLE zones (number integer PRIMARY KEY, geom geometry(Geometry, 4326) NOT NULL,
                    valid numrange NOT NULL, band numrange NOT NULL);
"""
INDEXES = """
CREATE INDEX pieces_gist ON pieces USING gist (geom, span, band);
CREATE INDEX zones_gist ON zones USING gist (geom, valid, band);
ANALYZE pieces;
ANALYZE zones;
"""
#: One round trip per check: the probes as arrays, joined against both tables under their GiST indexes.
CHECK = """
WITH probes AS (
    SELECT ST_GeomFromWKB(g, 4326) AS geom, numrange(s::numeric, e::numeric, '()') AS span,
           numrange(lo::numeric, hi::numeric, '[]') AS band
    FROM unnest(%(geoms)s::bytea[], %(starts)s::float8[], %(ends)s::float8[], %(lows)s::float8[],
                %(highs)s::float8[]) AS p(g, s, e, lo, hi)
), pieces_of_new AS (
    SELECT ST_GeomFromWKB(g, 4326) AS geom, numrange(s::numeric, e::numeric, '()') AS span,
           numrange(lo::numeric, hi::numeric, '[]') AS band
    FROM unnest(%(piece_geoms)s::bytea[], %(piece_starts)s::float8[], %(piece_ends)s::float8[],
                %(piece_lows)s::float8[], %(piece_highs)s::float8[]) AS p(g, s, e, lo, hi)
)
SELECT 'a', x.owner FROM probes p JOIN pieces x
    ON x.geom && p.geom AND x.span && p.span AND x.band && p.band AND ST_Intersects(x.geom, p.geom)
    AND x.party <> %(party)s
UNION
SELECT 'z', z.number FROM pieces_of_new p JOIN zones z
    ON z.geom && p.geom AND z.valid && p.span AND z.band && p.band AND ST_Intersects(z.geom, p.geom)
"""


def _range_text(low: float, high: float, bounds: str) -> str:
    lo = "" if math.isinf(low) else repr(float(low))
    hi = "" if math.isinf(high) else repr(float(high))
    return f"{bounds[0]}{lo},{hi}{bounds[1]}"


@contextmanager
def bench_database(url: str, name: str, keep: bool) -> Iterator[psycopg.Connection]:
    """A fresh database ``name`` with PostGIS, dropped afterwards unless ``keep``."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    target = psycopg.conninfo.make_conninfo(url, dbname=name)
    try:
        with psycopg.connect(target, autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION postgis")
            except psycopg.Error as exc:
                sys.exit(
                    f"PostGIS is not installed in this PostgreSQL ({exc}); apt-get install postgresql-15-postgis-3"
                )
            yield conn
    finally:
        if not keep:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def load(conn: psycopg.Connection, stored: list[IndexedActivity], zones: list[PreparedZone]) -> float:
    """COPY every piece and zone in, then build the GiST indexes; returns the seconds taken."""
    started = time.perf_counter()
    conn.execute(SCHEMA)
    with conn.cursor() as cur:
        with cur.copy("COPY pieces (owner, party, geom, span, band) FROM STDIN") as copy:
            for number, item in enumerate(stored):
                for piece in item.pieces:
                    copy.write_row(
                        (
                            number,
                            item.party_id,
                            f"SRID=4326;{shapely.to_wkt(piece.geometry, rounding_precision=-1)}",
                            _range_text(piece.start_s, piece.end_s, "()"),
                            _range_text(piece.lower_ft, piece.upper_ft, "[]"),
                        )
                    )
        with cur.copy("COPY zones (number, geom, valid, band) FROM STDIN") as copy:
            for number, prepared in enumerate(zones):
                validity = prepared.zone.validity
                copy.write_row(
                    (
                        number,
                        f"SRID=4326;{shapely.to_wkt(prepared.area, rounding_precision=-1)}",
                        _range_text(
                            -math.inf if validity.valid_from_s is None else validity.valid_from_s,
                            math.inf if validity.valid_until_s is None else validity.valid_until_s,
                            "()",
                        ),
                        _range_text(prepared.zone.altitude.lower_ft, prepared.zone.altitude.upper_ft, "[]"),
                    )
                )
    conn.execute(INDEXES)
    return time.perf_counter() - started


def postgis_check(
    conn: psycopg.Connection,
    subject: IndexedActivity,
    stored: list[IndexedActivity],
    zones: list[PreparedZone],
    notified_s: float,
    config: StrategicConfig,
) -> CheckResult:
    """What PostGIS finds for ``subject``, judged by the index's exact functions."""
    probes = probes_for(subject.pieces, config)
    pieces = subject.pieces
    params = {
        "geoms": [shapely.to_wkb(p.geometry) for p in probes],
        "starts": [p.start_s for p in probes],
        "ends": [p.end_s for p in probes],
        "lows": [p.lower_ft for p in probes],
        "highs": [p.upper_ft for p in probes],
        "piece_geoms": [shapely.to_wkb(p.geometry) for p in pieces],
        "piece_starts": [p.start_s for p in pieces],
        "piece_ends": [p.end_s for p in pieces],
        "piece_lows": [p.lower_ft for p in pieces],
        "piece_highs": [p.upper_ft for p in pieces],
        "party": subject.party_id,
    }
    rows = conn.execute(CHECK, params).fetchall()
    found = []
    for number in sorted(n for kind, n in rows if kind == "a"):
        other = stored[number]
        if other.activity_id != subject.activity_id and (conflict := judge_activity(probes, other, config)):
            found.append(conflict)
    for number in sorted(n for kind, n in rows if kind == "z"):
        found += judge_zone(pieces, zones[number], subject.party_id, subject.kind, notified_s, config)
    found.sort(key=lambda c: (c.kind.value, c.target_id))
    return CheckResult(tuple(found), late_notice(subject.kind, min(p.start_s for p in pieces), notified_s, config))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--zones", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="keepclear_postgis_bench")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    config = StrategicConfig()

    stored = [indexed(make_activity(rng, i, "a")) for i in range(args.activities)]
    zones = [PreparedZone.of(make_zone(rng, i)) for i in range(args.zones)]
    started = time.perf_counter()
    index = StrategicIndex()
    for item in stored:
        index.put_activity(item)
    for zone in zones:
        index.put_zone(zone)
    index_build_s = time.perf_counter() - started
    queries = [indexed(make_activity(rng, i, "q")) for i in range(args.queries)]

    with bench_database(args.url, args.database, args.keep) as conn:
        load_s = load(conn, stored, zones)
        piece_count = conn.execute("SELECT count(*) FROM pieces").fetchone()
        for query in queries[:10]:  # warm both: caches, the planner, shapely's prepared geometries
            index.check(query, T0, config)
            postgis_check(conn, query, stored, zones, T0, config)
        index_ms: list[float] = []
        postgis_ms: list[float] = []
        same = 0
        conflicts = []
        for query in queries:
            started = time.perf_counter()
            fast = index.check(query, T0, config)
            index_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            slow = postgis_check(conn, query, stored, zones, T0, config)
            postgis_ms.append((time.perf_counter() - started) * 1000)
            same += fast == slow
            conflicts.append(len(fast.conflicts))
        server = conn.execute("SELECT postgis_full_version()").fetchone()

    print(f"strategic check: keepclear's grid index against PostGIS (seed {args.seed}; wall ms per check)")
    print(f"  {args.activities:,} activities ({piece_count[0] if piece_count else '?':,} pieces), {args.zones:,} zones;"
          f" {len(queries):,} checks, each by both, interleaved")  # fmt: skip
    print(f"  index build {index_build_s:.1f} s in memory; PostGIS COPY + GiST indexes {load_s:.1f} s")
    print(f"  {(server[0] if server else '')[:70]}")
    print()
    print(f"  {'':22}{'grid index':>14}{'PostGIS':>14}{'ratio':>10}")
    for label, q in (("p50 ms", 50), ("p90 ms", 90), ("p99 ms", 99), ("max ms", 100)):
        a, b = percentile(index_ms, q), percentile(postgis_ms, q)
        print(f"  {label:22}{a:>14.3f}{b:>14.3f}{b / a:>9.1f}x")
    ratio = statistics.median(b / a for a, b in zip(index_ms, postgis_ms, strict=True))
    print(f"  {'median per-check ratio':22}{'':>14}{'':>14}{ratio:>9.1f}x")
    print(f"  {'checks per second':22}{1000 * len(index_ms) / sum(index_ms):>14,.0f}"
          f"{1000 * len(postgis_ms) / sum(postgis_ms):>14,.0f}")  # fmt: skip
    print(f"  conflict lists identical: {same}/{len(queries)}; conflicts per check mean"
          f" {statistics.mean(conflicts):.2f}, max {max(conflicts)}")  # fmt: skip


if __name__ == "__main__":
    main()
