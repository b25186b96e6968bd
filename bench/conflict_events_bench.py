"""What one notification with many conflicts sends: the events it stages and what they cost, per store.

Party b notifies ``--others`` activities (5,000) in one space and time; then party a notifies one
activity over all of them (``POST /v1/activities``, the app served in this process: Starlette's test
client), so its check finds ``--others`` conflicts. With ``--batch N`` party a notifies instead a
batch of N activities (``POST /v1/activities/batch``), each over all of b's (``--others 3``: a few
conflicts each, N × 3 in all). Printed, per store and median of ``--repeat`` notifications (each a
new activity, or batch, of a over the same ones):

- ``conflicts``: what the checks found (the answers' ``conflicts_total``; every one stored);
- ``events``: the events the notification published (its staged record entries among them), of
  which ``activity.conflict`` (in all, and the most to one party), and the JSON bytes of the
  conflict events' payloads;
- ``notify s``: post → answer;
- ``record s``: post → the record's outbox empty (every staged entry signed into the ledger).

Run it against another source tree (the base of the change) with ``PYTHONPATH=<tree>/src``.

    python bench/conflict_events_bench.py [--stores sqlite,postgres] [--others 5000] [--repeat 1]
    python bench/conflict_events_bench.py --batch 500 --others 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from list_bench import _document, served
from service_bench import UNBOUNDED_ACTIVITY_WRITES

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


def run(store: str, others: int, repeat: int, batch: int = 0) -> dict[str, Any]:
    with served(store, **UNBOUNDED_ACTIVITY_WRITES) as (dep, app, keys):  # --repeat batches from one party
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
                if batch:
                    body = {"activities": [_document(f"a-{n:03d}-{i:03d}", "ua", "all", 30) for i in range(batch)]}
                    answer = client.post("/v1/activities/batch", json=body, headers=headers)
                else:
                    answer = client.post(
                        "/v1/activities", json=_document(f"a-{n:03d}", "ua", "all", 30), headers=headers
                    )
                notify_s = time.perf_counter() - posted
                assert answer.status_code == 201, answer.text
                record_s = _drained(dep, posted)
                answered = answer.json()["activities"] if batch else [answer.json()]
                conflict_events = [e for e in seen if e.kind == EventKind.ACTIVITY_CONFLICT]
                per_party = Counter(party for e in conflict_events for party in e.parties)
                rows.append(
                    {
                        "conflicts": sum(one["conflicts_total"] for one in answered),
                        "events": len(seen),
                        "conflict_events": len(conflict_events),
                        "conflict_events_party_max": max(per_party.values(), default=0),
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
    parser.add_argument("--batch", type=int, default=0, help="a notifies a batch of this many (0: one activity)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    what = f"a batch of {args.batch}, each" if args.batch else "one notification"
    print(f"{what} over {args.others} of b's activities; median of {args.repeat}")
    header = (
        "store",
        "conflicts",
        "events",
        "activity.conflict",
        "most to a party",
        "their bytes",
        "notify s",
        "record s",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for store in args.stores.split(","):
        r = run(store, args.others, args.repeat, args.batch)
        print(
            f"{r['store']} | {r['conflicts']:.0f} | {r['events']:.0f} | {r['conflict_events']:.0f}"
            f" | {r['conflict_events_party_max']:.0f} | {r['conflict_bytes']:,.0f} | {r['notify_s']:.2f}"
            f" | {r['record_s']:.2f}"
        )


if __name__ == "__main__":
    main()
