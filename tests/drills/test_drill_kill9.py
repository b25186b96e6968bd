"""The kill -9 drill (issue 15): a real ``keepclear serve`` is killed at random moments while feeds
post track batches, a liaison posts hotline messages and notifies activities, then started again.

After every restart, on both stores:
- every acknowledged message and activity is there exactly once, and nothing is there twice;
- the durable track history holds every report of every batch answered 202 (and nothing else);
- a retry of an answered request with the same key gets the original answer, byte for byte;
- a retry of an unanswered one is carried out once: a new answer, or (when the server died between
  storing it and keeping its answer) the 409 that says it was stored.

``KEEPCLEAR_DRILL_SEED`` replays a run (the seed is in every failure message);
``KEEPCLEAR_DRILL_KILLS`` sets the number of kill points (default 4).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from drillsupport import client, history, populate, track_batch, unit_ids

from keepclear.conformance.client import get_all
from keepclear.domain.timefmt import format_utc
from serving import UNBOUNDED_ACTIVITY_WRITES_ENV, UNBOUNDED_POSTS_ENV, ServedProcess, serve

KILLS = int(os.environ.get("KEEPCLEAR_DRILL_KILLS", "4"))
#: Feed batches are 2 s apart in report time (history keeps one report per unit every 2 s).
BATCH_STEP_S = 2.0


@dataclass
class Sent:
    """A keyed request and the answer it got (None: the server died first)."""

    key: str
    path: str
    body: dict[str, Any]
    answer: tuple[int, bytes] | None = None


@dataclass
class Ledger:
    """What the clients sent and what they were told, across every round."""

    messages: list[Sent] = field(default_factory=list)
    activities: list[Sent] = field(default_factory=list)
    batches_acked: list[int] = field(default_factory=list)
    batches_unanswered: list[int] = field(default_factory=list)
    next_batch: int = 0
    errors: list[str] = field(default_factory=list)


def activity(n: int) -> dict[str, Any]:
    now = time.time()
    square = [[[40.0, 35.5], [40.2, 35.5], [40.2, 35.3], [40.0, 35.3], [40.0, 35.5]]]
    return {
        "kind": "air-operation",
        "start": format_utc(now + 30 * 3600),
        "end": format_utc(now + 34 * 3600),
        "addressees": ["b"],
        "contact": "a duty officer",
        "text": f"drill activity {n}",
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": square}, "lower_ft": 15000, "upper_ft": 30000}],
    }


def keyed_post(c: httpx.Client, sent: Sent) -> tuple[int, bytes]:
    response = c.post(sent.path, json=sent.body, headers={"Idempotency-Key": sent.key})
    return response.status_code, response.content


class Load:
    """Three clients posting until the server dies (or ``stop``)."""

    def __init__(self, server: ServedProcess, keys: dict[str, str], ledger: Ledger, thread: str, t0_s: float) -> None:
        self.server, self.keys, self.ledger, self.thread, self.t0_s = server, keys, ledger, thread, t0_s
        self.stop = threading.Event()
        self.workers = [threading.Thread(target=w, daemon=True) for w in (self._feed, self._hotline, self._notify)]

    def __enter__(self) -> Load:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=60)

    def _feed(self) -> None:
        with client(self.server, self.keys["a-feed"]) as feed:
            while not self.stop.is_set():
                k = self.ledger.next_batch
                self.ledger.next_batch += 1
                try:
                    answer = feed.post("/v1/tracks", json=track_batch("a", self.t0_s + BATCH_STEP_S * k))
                except httpx.TransportError:
                    self.ledger.batches_unanswered.append(k)
                    return
                if answer.status_code != 202 or answer.json()["accepted"] != len(unit_ids("a")):
                    self.ledger.errors.append(f"batch {k}: {answer.status_code} {answer.text[:300]}")
                    return
                self.ledger.batches_acked.append(k)
                time.sleep(0.1)

    def _keyed(self, sent_list: list[Sent], make: Any) -> None:
        with client(self.server, self.keys["a-liaison"]) as liaison:
            while not self.stop.is_set():
                sent = make(len(sent_list))
                sent_list.append(sent)
                try:
                    sent.answer = keyed_post(liaison, sent)
                except httpx.TransportError:
                    return
                if sent.answer[0] >= 300:
                    self.ledger.errors.append(f"{sent.path} {sent.key}: {sent.answer[0]} {sent.answer[1][:300]!r}")
                    return

    def _hotline(self) -> None:
        path = f"/v1/hotline/threads/{self.thread}/messages"
        self._keyed(
            self.ledger.messages, lambda n: Sent(f"drill-msg-{n:05d}", path, {"kind": "text", "body": f"drill {n}"})
        )

    def _notify(self) -> None:
        self._keyed(self.ledger.activities, lambda n: Sent(f"drill-act-{n:05d}", "/v1/activities", activity(n)))


def settle(server: ServedProcess, keys: dict[str, str], sent_list: list[Sent], where: str) -> None:
    """Retry every request with its key: answered ones must get their answer again; unanswered ones
    are carried out now, or said to have been stored already."""
    with client(server, keys["a-liaison"], 30.0) as liaison:
        for sent in sent_list:
            again = keyed_post(liaison, sent)
            if sent.answer is not None:
                assert again == sent.answer, f"{where}: retry of {sent.key} answered {again} not {sent.answer}"
            elif again[0] == 409:
                assert b"stopped before answering" in again[1], f"{where}: {sent.key}: {again}"
            else:
                assert again[0] in (200, 201), f"{where}: retry of unanswered {sent.key}: {again}"
                sent.answer = again


def check(server: ServedProcess, keys: dict[str, str], ledger: Ledger, thread: str, t0_s: float, where: str) -> None:
    assert not ledger.errors, f"{where}: {ledger.errors}"
    settle(server, keys, ledger.messages, where)
    settle(server, keys, ledger.activities, where)
    with client(server, keys["a-liaison"], 30.0) as liaison:
        listed = liaison.get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": 0, "limit": 5000})
        assert listed.status_code == 200, listed.text
        message_keys = Counter(m["idempotency_key"] for m in listed.json() if m["sender_party"] == "a")
        activities = get_all(liaison, "/v1/activities")  # every page: the load notifies hundreds
        assert activities.status_code == 200, activities.text
        texts = Counter(a["text"] for a in activities.json())
    for sent in ledger.messages:  # after settling, every request was carried out: exactly once each
        assert message_keys[sent.key] == 1, f"{where}: message {sent.key} stored {message_keys[sent.key]} times"
    for sent in ledger.activities:
        text = sent.body["text"]
        assert texts[text] == 1, f"{where}: activity {text!r} stored {texts[text]} times"
    points = history(server, keys["a-liaison"], t0_s - 1.0)
    assert len(points) == len(set(points)), f"{where}: duplicate history points"
    expected = {(u, format_utc(t0_s + BATCH_STEP_S * k)) for k in ledger.batches_acked for u in unit_ids("a")}
    maybe = {(u, format_utc(t0_s + BATCH_STEP_S * k)) for k in ledger.batches_unanswered for u in unit_ids("a")}
    missing = expected - set(points)
    assert not missing, f"{where}: {len(missing)} acknowledged reports lost, e.g. {sorted(missing)[:3]}"
    assert set(points) <= expected | maybe, f"{where}: history holds reports never sent"


def test_drill_kill9_during_ingest_posts_and_notifications(tmp_path: Path, database_url: str):
    seed = int(os.environ.get("KEEPCLEAR_DRILL_SEED", random.randrange(2**31)))
    rng = random.Random(seed)
    keys = populate(tmp_path / "data", database_url)
    # the load posts as fast as it can from one party: a 429 would end it as an error
    server = serve(
        tmp_path / "data",
        tmp_path / "serve.log",
        database_url=database_url,
        env=UNBOUNDED_POSTS_ENV | UNBOUNDED_ACTIVITY_WRITES_ENV,
    )
    ledger = Ledger()
    t0_s = float(round(time.time() - 400.0))
    started_s = time.monotonic()
    server.start()
    try:
        with client(server, keys["a-liaison"]) as a:
            threads = a.get("/v1/hotline/threads").json()
            thread = next(t["id"] for t in threads if t["standing"] and set(t["parties"]) == {"a", "b"})
        for kill in range(KILLS):
            where = f"seed {seed}, kill {kill + 1} of {KILLS}"
            with Load(server, keys, ledger, thread, t0_s):
                time.sleep(rng.uniform(0.3, 2.0))
                server.kill9()
            server.start()
            check(server, keys, ledger, thread, t0_s, where)
        answered = sum(s.answer is not None for s in ledger.messages + ledger.activities)
        assert answered and ledger.batches_acked, f"seed {seed}: the load never got an answer"
        print(
            f"drill seed {seed}: {KILLS} kills, {len(ledger.batches_acked)} batches, {len(ledger.messages)} messages,"
            f" {len(ledger.activities)} activities in {time.monotonic() - started_s:.1f} s"
        )
    finally:
        server.stop()
