"""What a party's unread total costs when others made it a member of ``--threads`` threads (66,000:
past PostgreSQL's 65,535 bound parameters a statement), per store.

Threads of a and b are stored in bulk; a posts into every ``--every``-th one through the service.
Then, the app served in this process (Starlette's test client), as b's liaison:

- ``total``: one ``GET /v1/hotline/unread`` (the kept counts of the threads with something unread), median of ``--repeat``;
- ``statements``: the SQL statements that request ran;
- ``summed``: the exact figure without a kept total: every page of ``GET /v1/hotline/threads``
  (``limit`` 1000) read and its ``unread`` summed, what a client would have had to do;
- ``post``: one message of a into a thread among them (its counts kept in its transaction), median.

Run it against another source tree with ``PYTHONPATH=<tree>/src``: without the route, ``total`` is
left out.

    python bench/unread_bench.py [--stores sqlite,postgres] [--threads 66000] [--every 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchdb import fresh_database
from fastapi.testclient import TestClient
from list_bench import _statements

from keepclear.api.app import create_app
from keepclear.domain import Party
from keepclear.domain.hotline import Draft, MessageKind
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import hotline as store

BULK_ROWS = 5_000


def _bulk_threads(dep: Deployment, count: int) -> list[str]:
    ids = [f"t-bulk-{i:06d}" for i in range(count)]
    row = {"title": "bulk", "standing": False, "pair_key": None, "created_s": 1.0, "last_seq": 0, "opened_by": None}
    for start in range(0, count, BULK_ROWS):
        chunk = ids[start : start + BULK_ROWS]
        with dep.db.write() as conn:
            conn.execute(store.hotline_threads.insert(), [row | {"id": i} for i in chunk])
            conn.execute(store.hotline_members.insert(), [{"thread_id": i, "party_id": p} for i in chunk for p in "ab"])
    return ids


def _summed(client: TestClient, headers: dict[str, str]) -> tuple[float, int, int]:
    """Seconds to read every page of the thread list, the unread messages summed, requests."""
    start = time.perf_counter()
    response = client.get("/v1/hotline/threads", params={"limit": 1000}, headers=headers)
    unread, requests = 0, 1
    while True:
        assert response.status_code == 200, response.text
        unread += sum(t["unread"] for t in response.json())
        following = response.links.get("next")
        if following is None:
            return time.perf_counter() - start, unread, requests
        response = client.get(following["url"], headers=headers)
        requests += 1


def run(store_name: str, threads: int, every: int, repeat: int) -> dict[str, Any]:
    with fresh_database(store_name) as url, tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, tick_s=1.0)
        dep = Deployment.open(settings, create=True)
        try:
            dep.registry.add_party(Party("a", "Alpha"), [Contact("Alpha duty officer")])
            dep.registry.add_party(Party("b", "Bravo"), [Contact("Bravo duty officer")])
            key = dep.keys.create(Role.LIAISON, "b", "b liaison")[1]
            ids = _bulk_threads(dep, threads)
            app = create_app(settings, deployment=dep)
            hotline = app.state.runtime.hotline
            posts = []
            for n, thread_id in enumerate(ids[every - 1 :: every]):
                start = time.perf_counter()
                hotline.post("a", "Alpha duty officer", Draft(thread_id, MessageKind.TEXT, f"bench-{n:06d}", body="x"))
                posts.append(time.perf_counter() - start)
            headers = {"Authorization": f"Bearer {key}"}
            row: dict[str, Any] = {"store": store_name, "threads": threads, "unread": len(posts)}
            with TestClient(app) as client:
                has_total = client.get("/v1/hotline/unread", headers=headers).status_code == 200
                if has_total:
                    totals = []
                    for _ in range(repeat):
                        with _statements(dep.db.engine) as seen:
                            start = time.perf_counter()
                            answer = client.get("/v1/hotline/unread", headers=headers)
                            totals.append(time.perf_counter() - start)
                    assert answer.json() == {"threads": len(posts), "messages": len(posts)}, answer.text
                    row |= {"total_ms": statistics.median(totals) * 1000, "statements": len(seen)}
                summed_s, unread, requests = _summed(client, headers)
                assert unread == len(posts), unread
                row |= {"summed_ms": summed_s * 1000, "summed_requests": requests}
            row["post_ms"] = statistics.median(posts) * 1000
            return row
        finally:
            dep.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--threads", type=int, default=66_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for store_name in args.stores.split(","):
        print(run(store_name, args.threads, args.every, args.repeat), flush=True)


if __name__ == "__main__":
    main()
