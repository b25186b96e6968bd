"""What others' overlaps cost a party's reads: ``GET /v1/activities`` and ``/v1/activities/{id}``
with ``--overlaps`` conflicts (5,000) recorded against each of ``--own`` activities of b (100), per store.

Party b notifies ``--own`` activities, party a ``--sources`` (20) overlapping every one of them (their
conflicts, through the service), then ``--overlaps`` conflicts a's activities recorded against each of
b's are added in bulk (as ``--sources`` activities each amended that often would leave them, the
versions aside). Then, the app served in this process (Starlette's test client), as b's liaison:

- ``view``: ``GET /v1/activities/{id}`` of one of b's;
- ``page``: ``GET /v1/activities?limit=<own + sources>`` (every one of b's, and a's addressed to it);
- ``rows``: the rows its reads of ``activity_conflicts`` returned (each statement run again);
- ``overlaps``: every overlap of one activity, following ``GET /v1/activities/{id}/overlaps`` by 1000
  (a tree without the route: ``-``).

With ``--amend`` each of a's activities is then amended once in place: what the bulk stood for is
amended away (the totals and the lists count and show one conflict of each of a's), and the reads
must not pass over it.

With ``--reader a`` the same as a's liaison, of a's own activities: their ``conflicts`` (what their
checks found: ``own * overlaps / sources`` each, 25,000 by default), ``conflicts_total`` and
``GET /v1/activities/{id}/conflicts``.

Run it against another source tree (the base of the change) with ``PYTHONPATH=<tree>/src``.

    python bench/overlaps_bench.py [--stores sqlite,postgres] [--own 100] [--overlaps 5000] [--repeat 3] [--reader a]
        [--amend]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from list_bench import _document, served
from shapely.geometry import Polygon, mapping

from keepclear.detect.strategic import Conflict, ConflictKind
from keepclear.geo.activity_doc import activities_from_documents
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import activity_conflicts as conflicts_store
from keepclear.store import activity_schema
from keepclear.store.activity_conflicts import StoredConflict

BATCH = 250


@contextmanager
def _reads(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with parameters) the test client's request threads executed."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if threading.current_thread().name.startswith("AnyIO worker"):
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _conflict_rows(engine: sa.Engine, seen: list[tuple[str, Any]]) -> int:
    reads = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT") and "FROM activity_conflicts" in s]
    with engine.connect() as conn:
        return sum(len(conn.exec_driver_sql(s, p).fetchall()) for s, p in reads)


def _bulk(dep: Deployment, own: int, sources: int, overlaps: int) -> None:
    """The conflicts of a's activities (version 1) against each of b's, through the store's path that
    records them (``record``, which keeps the totals); on a tree without it (the base of the change),
    straight into the table, as that tree's reads count them."""
    square = Polygon([(40, 35.4), (40.1, 35.4), (40.1, 35.5)])
    geometry = json.dumps(mapping(square))
    row = {"version": 1, "kind": "activity", "target_party_id": "b", "target_version": 1, "geometry": geometry}
    row |= {"start_s": 0.0, "end_s": 1.0, "lower_ft": 15000.0, "upper_ft": 30000.0, "reason": "bench"}
    record = getattr(conflicts_store, "record", None)
    for b in range(own):
        with dep.db.write() as conn:
            if record is None:
                rows = [
                    row | {"activity_id": f"a-{i % sources:05d}", "target_id": f"b-{b:05d}", "detected_s": 1.0 + i}
                    for i in range(overlaps)
                ]
                conn.execute(activity_schema.activity_conflicts.insert(), rows)
                continue
            conflict = Conflict(
                ConflictKind.ACTIVITY, f"b-{b:05d}", "b", 1, square, 0.0, 1.0, 15000.0, 30000.0, "bench"
            )
            record(conn, [StoredConflict(f"a-{i % sources:05d}", 1, conflict, 1.0 + i) for i in range(overlaps)])


def _amend_sources(dep: Deployment, service: Any, sources: int) -> None:
    """Each of a's activities amended once, in place: what its version 1 recorded is amended away
    (the reads pass over it, or not), its version 2 records one conflict against each of b's."""
    docs = [_document(f"a-{i:05d}", "ua", "all", 30) for i in range(sources)]
    for activity in activities_from_documents(docs, party_id="a", max_problems_listed=50):
        service.amend(activity, 1)


def _timed(client: TestClient, path: str, headers: dict[str, str], repeat: int, **params: Any) -> tuple[float, Any]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return statistics.median(times), response


def _all_overlaps(client: TestClient, path: str, headers: dict[str, str]) -> tuple[float, int] | None:
    start = time.perf_counter()
    response = client.get(path, params={"limit": 1000}, headers=headers)
    if response.status_code == 404:
        return None
    items = 0
    while True:
        assert response.status_code == 200, response.text
        items += len(response.json())
        following = response.links.get("next")
        if following is None:
            return time.perf_counter() - start, items
        response = client.get(following["url"], headers=headers)


#: What each reader's view shows of the conflicts, and the route that pages them.
LISTS = {"b": ("overlapped_by", "/overlaps"), "a": ("conflicts", "/conflicts")}


def run(
    store: str, own: int, sources: int, overlaps: int, repeat: int, reader: str = "b", amend: bool = False
) -> dict[str, Any]:
    field, route = LISTS[reader]
    with served(store) as (dep, app, keys):
        service = app.state.runtime.activities
        for party, prefix, count in (("b", "b", own), ("a", "a", sources)):
            docs = [_document(f"{prefix}-{i:05d}", f"u{party}", "all", 30) for i in range(count)]
            for start in range(0, count, BATCH):
                chunk = activities_from_documents(docs[start : start + BATCH], party_id=party, max_problems_listed=50)
                service.notify_many(chunk)
        built = time.perf_counter()
        _bulk(dep, own, sources, overlaps)
        if amend:
            _amend_sources(dep, service, sources)
        built_s = time.perf_counter() - built
        headers = {"Authorization": f"Bearer {keys[reader]}"}
        with TestClient(app) as client:
            client.get("/v1/activities", params={"limit": 1}, headers=headers)  # warm: the key, the caches
            view_s, view = _timed(client, f"/v1/activities/{reader}-00000", headers, repeat)
            with _reads(dep.db.engine) as seen:
                client.get("/v1/activities", params={"limit": own + sources}, headers=headers)
            page_s, page = _timed(client, "/v1/activities", headers, repeat, limit=own + sources)
            rows = _conflict_rows(dep.db.engine, seen)
            paged = _all_overlaps(client, f"/v1/activities/{reader}-00000{route}", headers)
    first = view.json()
    return {
        "store": store,
        "built_s": built_s,
        "view_s": view_s,
        "shown": len(first[field]),
        "total": first.get(f"{field}_total", "-"),
        "page_s": page_s,
        "page_items": len(page.json()),
        "statements": sum(1 for s, _ in seen if "FROM activity_conflicts" in s),
        "rows": rows,
        "paged": "-" if paged is None else f"{paged[1]} in {paged[0]:.3f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--own", type=int, default=100, help="b's activities (the page)")
    parser.add_argument("--sources", type=int, default=20, help="a's activities the conflicts come from")
    parser.add_argument("--overlaps", type=int, default=5000, help="conflicts against each of b's")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reader", choices=sorted(LISTS), default="b", help="b: overlapped_by; a: conflicts")
    parser.add_argument(
        "--amend", action="store_true", help="then amend each of a's once: the overlaps recorded in bulk amended away"
    )
    args = parser.parse_args()
    amended = "; a's amended once (the bulk amended away)" if args.amend else ""
    print(
        f"b's {args.own} activities, {args.overlaps} overlaps each (from {args.sources} of a's){amended};"
        f" median of {args.repeat}; read as {args.reader}"
    )
    field, route = LISTS[args.reader]
    header = ("store", "built s", "view s", field, "total", "page s", "page items", "statements", "rows")
    header += (route.strip("/"),)
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for store in args.stores.split(","):
        r = run(store, args.own, args.sources, args.overlaps, args.repeat, args.reader, args.amend)
        print(
            f"{r['store']} | {r['built_s']:.1f} | {r['view_s']:.3f} | {r['shown']} | {r['total']} | {r['page_s']:.3f} | {r['page_items']}"
            f" | {r['statements']} | {r['rows']} | {r['paged']}"
        )


if __name__ == "__main__":
    main()
