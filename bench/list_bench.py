"""How long a party's lists take: ``GET /v1/activities`` with ``--activities`` stored (2,000), per store.

Party a notifies ``--activities`` activities addressed to b (half to every party, in batches, through
the service), party b a few overlapping ones (conflicts: ``overlapped_by`` on a's). Then, the app
served in this process (Starlette's test client), each row times as b's liaison and as a's:

- ``first page``: one ``GET /v1/activities`` (no ``limit``: the default page; before paging, the whole list);
- ``whole list``: every item, following ``Link: <...>; rel="next"`` with ``limit`` ``--limit`` until
  the last page (before paging: the one answer);
- ``statements``: SQL statements the request threads executed for the first page.

Run it against another source tree (the base of the change) with ``PYTHONPATH=<tree>/src``: an API
that does not page answers everything at once and ignores ``limit``, so the same script measures both.

    python bench/list_bench.py [--stores sqlite,postgres] [--activities 2000] [--limit 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from benchdb import fresh_database
from fastapi import FastAPI
from fastapi.testclient import TestClient

from keepclear.api.app import create_app
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activities_from_documents
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]
BATCH = 250


def _document(activity_id: str, unit: str, addressees: list[str] | str, start_h: float) -> dict[str, Any]:
    now_s = time.time()
    return {
        "id": activity_id,
        "kind": "air-operation",
        "start": format_utc(now_s + start_h * 3600),
        "end": format_utc(now_s + (start_h + 2) * 3600),
        "addressees": addressees,
        "units": [unit],
        "contact": "duty officer",
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000}],
    }


def _populate(dep: Deployment) -> dict[str, str]:
    reg = dep.registry
    reg.add_party(Party("a", "Alpha"), [Contact("Alpha duty officer")])
    reg.add_party(Party("b", "Bravo"), [Contact("Bravo duty officer")])
    reg.add_force(Force("fa", "Alpha air", "a"))
    reg.add_force(Force("fb", "Bravo air", "b"))
    reg.add_unit(Unit("ua", "ALPHA1", Domain.AIR, "fighter", "fa"))
    reg.add_unit(Unit("ub", "BRAVO1", Domain.AIR, "fighter", "fb"))
    return {p: dep.keys.create(Role.LIAISON, p, f"{p} liaison")[1] for p in ("a", "b")}


@contextmanager
def served(store: str, **overrides: Any) -> Iterator[tuple[Deployment, FastAPI, dict[str, str]]]:
    """A deployment on a fresh ``store`` with parties a and b (``_populate``: a liaison key each),
    and its app (``overrides``: settings), not started; closed afterwards."""
    with fresh_database(store) as url, tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, tick_s=1.0, **overrides)
        dep = Deployment.open(settings, create=True)
        try:
            keys = _populate(dep)
            yield dep, create_app(settings, deployment=dep), keys
        finally:
            dep.close()


@contextmanager
def _statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Statements executed by the test client's request threads (AnyIO workers)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name.startswith("AnyIO worker"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _whole(client: TestClient, key: str, limit: int) -> tuple[float, int, int]:
    """Seconds to read every item (following pages), items, requests."""
    headers = {"Authorization": f"Bearer {key}"}
    start = time.perf_counter()
    response = client.get("/v1/activities", params={"limit": limit}, headers=headers)
    items, requests = 0, 1
    while True:
        assert response.status_code == 200, response.text
        items += len(response.json())
        following = response.links.get("next")
        if following is None:
            return time.perf_counter() - start, items, requests
        response = client.get(following["url"], headers=headers)
        requests += 1


def run(store: str, activities: int, limit: int, repeat: int) -> list[dict[str, Any]]:
    rows = []
    with served(store) as (dep, app, keys):
        service = app.state.runtime.activities
        docs = [_document(f"a-{i:05d}", "ua", ["b"] if i % 2 else "all", 30 + (i % 200) * 3) for i in range(activities)]
        for start in range(0, len(docs), BATCH):
            chunk = activities_from_documents(docs[start : start + BATCH], party_id="a", max_problems_listed=50)
            service.notify_many(chunk)
        service.notify_many(
            activities_from_documents(
                [_document(f"b-{i}", "ub", ["a"], 30 + i * 3) for i in range(5)], party_id="b", max_problems_listed=50
            )
        )
        with TestClient(app) as client:
            for party in ("b", "a"):
                headers = {"Authorization": f"Bearer {keys[party]}"}
                client.get("/v1/activities", params={"limit": 1}, headers=headers)  # warm: the key, the caches
                firsts, wholes = [], []
                for _ in range(repeat):
                    with _statements(dep.db.engine) as seen:
                        start = time.perf_counter()
                        first = client.get("/v1/activities", headers=headers)
                        firsts.append(time.perf_counter() - start)
                    assert first.status_code == 200, first.text
                    whole_s, items, requests = _whole(client, keys[party], limit)
                    wholes.append(whole_s)
                rows.append(
                    {
                        "store": store,
                        "reader": party,
                        "first_items": len(first.json()),
                        "first_s": statistics.median(firsts),
                        "statements": len(seen),
                        "items": items,
                        "requests": requests,
                        "whole_s": statistics.median(wholes),
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=1000, help="limit of each page when reading the whole list")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"GET /v1/activities, {args.activities} activities of a (addressed to b), 5 of b; median of {args.repeat}")
    header = (
        "store",
        "reader",
        "first page items",
        "first page s",
        "statements",
        "whole list items",
        "requests",
        "whole list s",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for store in args.stores.split(","):
        for row in run(store, args.activities, args.limit, args.repeat):
            print(
                f"{row['store']} | {row['reader']} | {row['first_items']} | {row['first_s']:.3f} | {row['statements']}"
                f" | {row['items']} | {row['requests']} | {row['whole_s']:.3f}"
            )


if __name__ == "__main__":
    main()
