"""The record drill: a real ``keepclear serve`` killed -9 at random points loses no entry and doubles none.

A client posts hotline messages (free text and standard phrases), notifies activities and
acknowledges them, as fast as one connection goes. The server is killed with SIGKILL at random
moments and started again. At the end every message, activity and acknowledgement the client got a
2xx answer for has exactly one entry in the record (and nothing has two), and ``keepclear ledger
verify`` passes on the export. Bounded: a few kills, well under a minute per store.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from keepclear.domain.timefmt import format_utc
from serving import UNBOUNDED_ACTIVITY_WRITES_ENV, UNBOUNDED_POSTS_ENV, keepclear_cli, run_cli, serve

KILLS = 3
SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]


@dataclass
class Acknowledged:
    """What the client was told succeeded: (thread, seq) of messages, activity ids, (activity, party) acks."""

    messages: set[tuple[str, int]] = field(default_factory=set)
    activities: set[str] = field(default_factory=set)
    acks: set[tuple[str, str]] = field(default_factory=set)


def _activity() -> dict[str, Any]:
    now = time.time()
    return {
        "kind": "air-operation",
        "start": format_utc(now + 30 * 3600),
        "end": format_utc(now + 34 * 3600),
        "addressees": ["bravo"],
        "contact": "Alpha duty officer",
        "text": "Drill sortie",
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000}],
    }


def _traffic(url: str, keys: dict[str, str], thread_id: str, done: Acknowledged, stop: threading.Event) -> None:
    """Post, notify and acknowledge until the server goes away (or ``stop``); note every 2xx."""
    alpha = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['alpha']}"}, timeout=10)
    bravo = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['bravo']}"}, timeout=10)
    pending: list[str] = [a for a in sorted(done.activities) if (a, "bravo") not in done.acks]
    step = 0
    try:
        while not stop.is_set():
            step += 1
            key = f"drill-{time.monotonic_ns()}-{step}"
            if step % 4 == 0:
                answer = alpha.post("/v1/activities", json=_activity())
                if answer.status_code == 201:
                    activity_id = answer.json()["activity"]["id"]
                    done.activities.add(activity_id)
                    pending.append(activity_id)
                continue
            if step % 4 == 1 and pending:
                activity_id = pending.pop(0)
                answer = bravo.post(f"/v1/activities/{activity_id}/acknowledge", json={"version": 1})
                if answer.status_code == 200:
                    done.acks.add((activity_id, "bravo"))
                continue
            body: dict[str, Any] = (
                {"idempotency_key": key, "phrase": {"code": "REPEAT", "params": {"ref": key}}}
                if step % 2
                else {"idempotency_key": key, "body": f"drill message {key} — ça va"}
            )
            answer = alpha.post(f"/v1/hotline/threads/{thread_id}/messages", json=body)
            if answer.status_code == 201:
                message = answer.json()["message"]
                done.messages.add((message["thread_id"], message["seq"]))
    except httpx.TransportError:
        pass  # killed: whatever had no answer may or may not be stored, but never twice
    finally:
        alpha.close()
        bravo.close()


def test_kill_9_loses_and_doubles_no_entry(tmp_path: Path, database_url: str) -> None:
    base = keepclear_cli(tmp_path / "data", database_url)
    run_cli(base, "init")
    admin = run_cli(base, "keys", "create", "--role", "admin", "--label", "drill admin")
    # the load posts as fast as it can from one party: not held back by the parties' post rate
    server = serve(
        tmp_path / "data",
        tmp_path / "serve.log",
        database_url=database_url,
        env=UNBOUNDED_POSTS_ENV | UNBOUNDED_ACTIVITY_WRITES_ENV,
    )
    seed = int(os.environ.get("KEEPCLEAR_DRILL_SEED", str(time.time_ns() % 1_000_000)))
    print(f"drill seed {seed} (KEEPCLEAR_DRILL_SEED={seed} replays the kill times)")  # shown when it fails
    rng = random.Random(seed)
    done = Acknowledged()
    try:
        server.start()
        keys: dict[str, str] = {}
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
            for party in ("alpha", "bravo"):
                made = client.post("/v1/parties", json={"id": party, "name": party.title(), "roster": []})
                assert made.status_code == 201, made.text
                key = client.post("/v1/keys", json={"role": "liaison", "party_id": party, "label": party})
                assert key.status_code == 201, key.text
                keys[party] = key.json()["key"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['alpha']}"}) as alpha:
            (thread,) = [t for t in alpha.get("/v1/hotline/threads").json() if t["parties"] == ["alpha", "bravo"]]
        for _ in range(KILLS):
            stop = threading.Event()
            client_thread = threading.Thread(target=_traffic, args=(server.url, keys, thread["id"], done, stop))
            client_thread.start()
            time.sleep(rng.uniform(0.5, 2.5))
            server.kill9()
            stop.set()
            client_thread.join(timeout=30)
            server.start()  # the signer drains the outbox at startup
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
            deadline = time.monotonic() + 30
            while (record := client.get("/v1/metrics").json()["record"])["waiting"]:
                assert time.monotonic() < deadline, record
                time.sleep(0.2)
            assert record["failed"] == 0, record
            assert client.get("/v1/health").json()["status"] == "ok"
    finally:
        server.stop()
    assert done.messages and done.activities, "the drill made no traffic"

    export = tmp_path / "export.json"
    run_cli(base, "ledger", "export", "-o", str(export))
    assert "OK" in run_cli(base, "ledger", "verify", str(export))
    entries = json.loads(export.read_text())["entries"]
    said = [(e["statement"]["kind"], json.loads(e["payload"])) for e in entries if e["payload"] is not None]
    by_alpha = [json.loads(e["payload"]) for e in entries if e["statement"]["party"] == "alpha"]
    messages = Counter((p["thread_id"], p["seq"]) for kind, p in said if kind == "message.posted")
    activities = Counter(p["activity"]["id"] for kind, p in said if kind == "activity.notified")
    acks = Counter((p["activity_id"], p["addressee"]) for kind, p in said if kind == "activity.acknowledged")
    for counted, acknowledged in ((messages, done.messages), (activities, done.activities), (acks, done.acks)):
        assert not {k for k in acknowledged if counted[k] != 1}, "acknowledged without exactly one entry"
        assert not {k for k, n in counted.items() if n > 1}, "entries recorded twice"
    # What was said is in the record: the phrase's code and parameters, or the text.
    posted = [p for p in by_alpha if "seq" in p and p.get("thread_id") == thread["id"]]
    assert {p["seq"] for p in posted} >= {seq for _, seq in done.messages}
    assert all(p["phrase"]["code"] == "REPEAT" if "phrase" in p else p["text"].startswith("drill") for p in posted)
