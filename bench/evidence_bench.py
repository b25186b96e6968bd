"""What freezing one incident's evidence costs with ``--others`` (10,000) alert and message entries of
other alerts and threads in its ± 600 s window, beside its own few, per store and per source tree.

The record is written through the ledger of the tree measured (``append_many``, batch signing,
1,000 a transaction): half the others ``alert.level_changed`` of other alerts, half
``message.posted`` in other threads, spread over the window; the incident's own: its alert raised
and changed 5 times, two messages naming its alert. Then, each ``--repeat`` (5) times:

- ``history ms``: ``evidence.history`` alone (the record's entries read and kept), the median;
- ``entries parsed``: how many entries it read from the record and parsed;
- ``freeze ms``: a party's report of an incident of that alert whose window has passed (frozen as
  it is reported: the tracks, the record, the write), the median.

``--anchor-src`` runs the same, alternately, with another source tree in a process of its own
(``git archive <rev> src | tar -x -C /tmp/anchor``).

    python bench/evidence_bench.py --anchor-src /tmp/anchor-ev/src [--stores sqlite,postgres]
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

HERE = Path(__file__).resolve().parent
WINDOW_S = 600.0
OWN_ALERT = "al-own"


def _one(store: str, others: int, repeat: int) -> dict[str, Any]:
    """The measures of the tree on ``sys.path``, on a fresh database of ``store``."""
    from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
    from keepclear.ledger import LedgerConfig
    from keepclear.ledger.book import EntryDraft
    from keepclear.services.incidents.evidence import history
    from keepclear.services.incidents.service import IncidentConfig, IncidentService
    from keepclear.services.record.signer import open_ledger
    from keepclear.services.runtime.bus import EventBus, ManualClock
    from keepclear.store import Database, migrate

    parties = ["coalition", "russia"]
    with fresh_database(store) as url, tempfile.TemporaryDirectory() as folder:
        db = Database(url)
        migrate(db)
        t0 = 1_800_000_000.0
        clock = ManualClock(t0)
        ledger = open_ledger(db, clock, Path(folder), config=LedgerConfig(entry_signatures="batch"))
        drafts = []
        for n in range(others):
            time_s = t0 - WINDOW_S + (2 * WINDOW_S) * n / others
            if n % 2:
                payload = {"alert_id": f"al-{n}", "level": "caution", "los": False, "unit_ids": [f"u{n}", f"v{n}"]}
                drafts.append(EntryDraft("alert.level_changed", None, payload, time_s, parties))
            else:
                payload = {"thread_id": f"th-{n}", "seq": 1, "kind": "text", "person": "p", "text": "hello"}
                drafts.append(EntryDraft("message.posted", "russia", payload, time_s, parties))
        for k in range(6):
            payload = {"alert_id": OWN_ALERT, "level": "warning", "los": k > 0, "unit_ids": ["u-a", "u-b"]}
            drafts.append(
                EntryDraft("alert.raised" if k == 0 else "alert.level_changed", None, payload, t0 + k, parties)
            )
        for k in range(2):
            payload = {"alert_id": OWN_ALERT, "message_id": f"m-{k}", "text": "we see it"}
            drafts.append(EntryDraft("message.posted", "coalition", payload, t0 + 10 + k, parties))
        for start in range(0, len(drafts), 1000):
            ledger.append_many(drafts[start : start + 1000])
        clock.advance(2 * WINDOW_S)
        incident = Incident(
            id="inc-bench",
            kind=IncidentKind.SEPARATION_LOST,
            status=ReviewStatus.OPEN,
            time_s=t0,
            opened_s=t0,
            reported_by=None,
            parties=tuple(parties),
            unit_ids=("u-a", "u-b"),
            alert_ids=(OWN_ALERT,),
            zone_id=None,
            zone_kind=None,
            summary="bench",
        )
        parsed = []
        entries = ledger.entries

        def counted(**kwargs: Any) -> Any:
            found = entries(**kwargs)
            parsed.append(len(found))
            return found

        ledger.entries = counted  # type: ignore[method-assign]
        history_ms = []
        kept = 0
        for _ in range(repeat):
            started = time.perf_counter()
            alerts, messages = history(incident, [], ledger, t0 - WINDOW_S, t0 + WINDOW_S)
            history_ms.append(1000 * (time.perf_counter() - started))
            kept = len(alerts) + len(messages)
        config = IncidentConfig(evidence_window_s=WINDOW_S)
        service = IncidentService(db, clock, EventBus(), lambda units, a, b: [], config, ledger=ledger)
        freeze_ms = []
        for _ in range(repeat):
            started = time.perf_counter()
            service.report("coalition", time_s=t0, summary="seen", alert_ids=[OWN_ALERT], unit_ids=["u-a", "u-b"])
            freeze_ms.append(1000 * (time.perf_counter() - started))
        db.dispose()
    return {
        "history_ms": statistics.median(history_ms),
        "entries_parsed": parsed[0],
        "kept": kept,
        "freeze_ms": statistics.median(freeze_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--others", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--anchor-src", default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.others, args.repeat)))
        return
    trees = {"this tree": str(HERE.parent / "src")}
    if args.anchor_src:
        trees = {"anchor": args.anchor_src, **trees}
    print(f"{args.others:,} other entries in the window, median of {args.repeat}")
    print(f"{'store':<9} {'tree':<10} {'history ms':>11} {'entries parsed':>15} {'kept':>5} {'freeze ms':>10}")
    for store in args.stores.split(","):
        for name, src in trees.items():
            env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
            command = [
                sys.executable,
                __file__,
                "--one",
                store,
                "--others",
                str(args.others),
                "--repeat",
                str(args.repeat),
            ]
            out = json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)
            print(
                f"{store:<9} {name:<10} {out['history_ms']:>11.1f} {out['entries_parsed']:>15,} {out['kept']:>5}"
                f" {out['freeze_ms']:>10.1f}"
            )


if __name__ == "__main__":
    main()
