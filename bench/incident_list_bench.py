"""How long a party's incident list takes: ``GET /v1/incidents`` over ``--incidents`` stored (20,000),
one party involved in ``--share-pct`` of them (1 %), per store and per source tree.

The incidents are written through the store (``insert_incidents``, 1,000 a statement) of the tree
measured: each involves party b and one of 10 others (c0..c9), and every ``100 / share-pct``-th
one party a too. Then, the app served in this process (Starlette's test client), each row times as
a's liaison (a few incidents among many) and as b's (every incident):

- ``first page``: one ``GET /v1/incidents`` (no ``limit``: the default page, 100);
- ``statements``: SQL statements the request threads executed for it;
- ``whole list``: every item, following ``Link: <...>; rel="next"`` with ``limit`` ``--limit`` (100);
- ``last page``: the request for the last page alone (its cursor taken from the whole list);
- ``store first / last ms``: the service's page alone (``IncidentService.page``, no HTTP), the first
  and the last of the whole list's pages, median of ``--store-repeat`` (50): the store's own cost.

With ``--anchor-src`` the same loads run, in the same run and alternately, with another source tree
(``git archive <rev> src | tar -x -C /tmp/anchor``): each tree's side runs in a process of its own
(``PYTHONPATH``). For this tree, a ``migration`` line: how long migration 0015 takes to fill the
membership of the incidents stored (the table dropped and the migration run again, before serving).

    python bench/incident_list_bench.py --anchor-src /tmp/anchor-inc/src [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchdb import fresh_database
from list_bench import _statements

HERE = Path(__file__).resolve().parent
BATCH = 1000


def _populate(dep: Any, incidents: int, share_pct: float) -> dict[str, str]:
    """Parties a, b and c0..c9, liaison keys of a and b, ``incidents`` incidents (see the docstring)."""
    from keepclear.domain import Party
    from keepclear.domain.identity import Role
    from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
    from keepclear.store import incidents as store

    for party_id in ("a", "b", *(f"c{k}" for k in range(10))):
        dep.registry.add_party(Party(party_id, party_id.upper()))
    every = max(1, round(100 / share_pct))
    start_s = time.time() - 86_400
    made = [
        Incident(
            id=f"inc-{n:06d}",
            kind=IncidentKind.SEPARATION_LOST,
            status=ReviewStatus.OPEN,
            time_s=start_s + n * 2.0,
            opened_s=start_s + n * 2.0,
            reported_by=None,
            parties=tuple(sorted({"b", f"c{n % 10}", *(["a"] if n % every == 0 else [])})),
            unit_ids=("u1", "u2"),
            alert_ids=(),
            zone_id=None,
            zone_kind=None,
            summary=f"incident {n}",
        )
        for n in range(incidents)
    ]
    for first in range(0, len(made), BATCH):
        with dep.db.write() as conn:
            store.insert_incidents(conn, made[first : first + BATCH])
    return {p: dep.keys.create(Role.LIAISON, p, f"{p} liaison")[1] for p in ("a", "b")}


def _pages(client: Any, key: str, limit: int) -> tuple[float, int, int, str]:
    """Seconds to read every item (following pages), items, requests, the last page's URL."""
    headers = {"Authorization": f"Bearer {key}"}
    start = time.perf_counter()
    url = "/v1/incidents"
    response = client.get(url, params={"limit": limit}, headers=headers)
    items, requests = 0, 1
    while True:
        assert response.status_code == 200, response.text
        items += len(response.json())
        following = response.links.get("next")
        if following is None:
            return time.perf_counter() - start, items, requests, url
        url = following["url"]
        response = client.get(url, headers=headers)
        requests += 1


def _migration_s(dep: Any) -> float | None:
    """Seconds migration 0015 takes over the incidents stored (None in a tree without it)."""
    import sqlalchemy as sa

    from keepclear.store import migrate

    with dep.db.read() as conn:
        heads = {row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    if "0015_incident_parties" not in heads:
        return None
    with dep.db.write() as conn:
        conn.execute(sa.text("DROP TABLE incident_parties"))
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = '0015_incident_parties'"))
    start = time.perf_counter()
    migrate(dep.db)
    return time.perf_counter() - start


def measure(
    store: str, incidents: int, share_pct: float, limit: int, repeat: int, store_repeat: int
) -> list[dict[str, Any]]:
    """One tree's rows (the tree on ``sys.path``): per reader, the figures of the docstring."""
    from fastapi.testclient import TestClient

    from keepclear.api.app import create_app
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.settings import Settings

    rows: list[dict[str, Any]] = []
    with fresh_database(store) as url, tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, tick_s=1.0)
        dep = Deployment.open(settings, create=True)
        keys = _populate(dep, incidents, share_pct)
        migration_s = _migration_s(dep)
        if store == "postgres":
            with dep.db.write() as conn:
                conn.exec_driver_sql("ANALYZE")
        app = create_app(settings, deployment=dep)
        with TestClient(app) as client:
            for party in ("a", "b"):
                headers = {"Authorization": f"Bearer {keys[party]}"}
                client.get("/v1/incidents", params={"limit": 1}, headers=headers)  # warm: the key, the caches
                firsts, wholes, lasts = [], [], []
                for _ in range(repeat):
                    with _statements(dep.db.engine) as seen:
                        start = time.perf_counter()
                        first = client.get("/v1/incidents", headers=headers)
                        firsts.append(time.perf_counter() - start)
                    assert first.status_code == 200, first.text
                    whole_s, items, requests, last_url = _pages(client, keys[party], limit)
                    wholes.append(whole_s)
                    start = time.perf_counter()
                    assert client.get(last_url, headers=headers).status_code == 200
                    lasts.append(time.perf_counter() - start)
                service = app.state.runtime.incidents
                # The last item before the last page: the cursor the last page's request carried.
                last_after = (
                    service.page(party, None, items - (items - 1) % limit - 1)[0][-1] if items > limit else None
                )
                cursor = None if last_after is None else (last_after.time_s, last_after.id)
                store_ms: dict[str, float] = {}
                for name, after in (("first", None), ("last", cursor)):
                    took: list[float] = []
                    for _ in range(store_repeat):
                        start = time.perf_counter()
                        service.page(party, after, limit)
                        took.append(time.perf_counter() - start)
                    store_ms[name] = statistics.median(took) * 1000
                rows.append(
                    {
                        "reader": party,
                        "first_items": len(first.json()),
                        "first_s": statistics.median(firsts),
                        "statements": len(seen),
                        "items": items,
                        "requests": requests,
                        "whole_s": statistics.median(wholes),
                        "last_s": statistics.median(lasts),
                        "store_first_ms": store_ms["first"],
                        "store_last_ms": store_ms["last"],
                    }
                )
        if migration_s is not None:
            rows.append({"reader": "migration", "migration_s": migration_s})
        dep.close()
    return rows


def _side(src: Path, store: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run ``measure`` in a process of its own with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(HERE)])}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--measure",
        "--stores",
        store,
        "--incidents",
        str(args.incidents),
        "--share-pct",
        str(args.share_pct),
        "--limit",
        str(args.limit),
        "--repeat",
        str(args.repeat),
        "--store-repeat",
        str(args.store_repeat),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("["):
        raise SystemExit(f"{src} on {store} failed (exit status {done.returncode}):\n{done.stderr[-4000:]}")
    if done.returncode != 0:  # the figures were printed; the runtime's threads may abort the exit
        print(f"({src} on {store}: exit status {done.returncode} after its figures)", file=sys.stderr)
    rows: list[dict[str, Any]] = json.loads(lines[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--share-pct", type=float, default=1.0, help="share of the incidents involving party a")
    parser.add_argument("--limit", type=int, default=100, help="limit of each page when reading the whole list")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store-repeat", type=int, default=50, help="calls of the service's page timed")
    parser.add_argument("--anchor-src", type=Path, help="another tree's src folder, measured alongside")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # one side, as JSON
    args = parser.parse_args()
    if args.measure:
        (store,) = args.stores.split(",")
        print(json.dumps(measure(store, args.incidents, args.share_pct, args.limit, args.repeat, args.store_repeat)))
        return
    this_src = HERE.parent / "src"
    trees = [("this", this_src)] + ([("anchor", args.anchor_src)] if args.anchor_src else [])
    print(
        f"GET /v1/incidents, {args.incidents} incidents, party a in {args.share_pct:g} %, b in all;"
        f" pages of {args.limit}; median of {args.repeat}"
    )
    header = (
        "store",
        "tree",
        "reader",
        "first page items",
        "first page s",
        "statements",
        "whole list items",
        "requests",
        "whole list s",
        "last page s",
        "store first page ms",
        "store last page ms",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    migrations = []
    for store in args.stores.split(","):
        for name, src in reversed(trees):  # the anchor first, then this tree
            for row in _side(src, store, args):
                if row["reader"] == "migration":
                    migrations.append(
                        f"{store}: migration 0015 over {args.incidents} incidents {row['migration_s']:.2f} s"
                    )
                    continue
                print(
                    f"{store} | {name} | {row['reader']} | {row['first_items']} | {row['first_s']:.4f}"
                    f" | {row['statements']} | {row['items']} | {row['requests']} | {row['whole_s']:.3f}"
                    f" | {row['last_s']:.4f} | {row['store_first_ms']:.2f} | {row['store_last_ms']:.2f}"
                )
    for line in migrations:
        print(line)


if __name__ == "__main__":
    main()
