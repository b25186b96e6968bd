"""What one notification with many conflicts sends: the events it stages and what they cost, per store.

Party b notifies ``--others`` activities (5,000) in one space and time; then party a notifies one
activity over all of them (``POST /v1/activities``, the app served in this process: Starlette's test
client), so its check finds ``--others`` conflicts. Printed, per store and median of ``--repeat``
notifications (each a new activity of a over the same ones):

- ``conflicts``: what the check found (the answer's ``conflicts_total``; every one stored);
- ``events``: the events the notification published (its staged record entries among them), of
  which ``activity.conflict``, and the JSON bytes of the conflict events' payloads;
- ``notify s``: post → answer;
- ``record s``: post → the record's outbox empty (every staged entry signed into the ledger).

Run it against another source tree (the base of the change) with ``PYTHONPATH=<tree>/src``.

    python bench/conflict_events_bench.py [--stores sqlite,postgres] [--others 5000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from fastapi.testclient import TestClient
from list_bench import _document, served

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.geo.activity_doc import activities_from_documents
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import outbox

BATCH = 500


def _drained(dep: Deployment, since: float, timeout_s: float = 120.0) -> float:
    """Seconds from ``since`` until the record's outbox holds nothing waiting."""
    while time.perf_counter() - since < timeout_s:
        with dep.db.read() as conn:
            if outbox.backlog(conn).waiting == 0:
                return time.perf_counter() - since
        time.sleep(0.05)
    return float("nan")


def run(store: str, others: int, repeat: int) -> dict[str, Any]:
    with served(store) as (dep, app, keys):
        service = app.state.runtime.activities
        docs = [_document(f"b-{i:05d}", "ub", "all", 30) for i in range(others)]
        for start in range(0, others, BATCH):
            service.notify_many(
                activities_from_documents(docs[start : start + BATCH], party_id="b", max_problems_listed=50)
            )
        seen: list[Event] = []
        dep.bus.subscribe(seen.append)
        headers = {"Authorization": f"Bearer {keys['a']}"}
        rows = []
        with TestClient(app) as client:
            _drained(dep, time.perf_counter())
            for n in range(repeat):
                seen.clear()
                posted = time.perf_counter()
                answer = client.post("/v1/activities", json=_document(f"a-{n:03d}", "ua", "all", 30), headers=headers)
                notify_s = time.perf_counter() - posted
                assert answer.status_code == 201, answer.text
                record_s = _drained(dep, posted)
                conflict_events = [e for e in seen if e.kind == EventKind.ACTIVITY_CONFLICT]
                rows.append(
                    {
                        "conflicts": answer.json()["conflicts_total"],
                        "events": len(seen),
                        "conflict_events": len(conflict_events),
                        "conflict_bytes": sum(len(json.dumps(e.payload)) for e in conflict_events),
                        "notify_s": notify_s,
                        "record_s": record_s,
                    }
                )
    return {"store": store} | {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--others", type=int, default=5000, help="b's activities the notification overlaps")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"one notification over {args.others} of b's activities; median of {args.repeat}")
    header = ("store", "conflicts", "events", "activity.conflict", "their bytes", "notify s", "record s")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for store in args.stores.split(","):
        r = run(store, args.others, args.repeat)
        print(
            f"{r['store']} | {r['conflicts']:.0f} | {r['events']:.0f} | {r['conflict_events']:.0f}"
            f" | {r['conflict_bytes']:,.0f} | {r['notify_s']:.2f} | {r['record_s']:.2f}"
        )


if __name__ == "__main__":
    main()
