"""Two ``keepclear serve`` processes on one PostgreSQL database and the NATS bus: live delivery across them.

A party's client streams ``/v1/stream`` from process B; another party notifies an activity through
process A. The notification reaches the stream on B through the bus (B never polls the store for
it), and B's metrics count the event delivered from the bus. A hotline message posted through A
reaches a socket on B the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

pytest.importorskip("nats")
from clustersupport import cluster, servers

from keepclear.api.server import free_port
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from serving import (
    UNBOUNDED_ACTIVITY_WRITES_ENV,
    UNBOUNDED_POSTS_ENV,
    ServedProcess,
    keepclear_cli,
    log_says,
    run_cli,
    serve,
)

#: Ports shifted by this (test_cluster: 100, test_nats_bus: 300).
PORT_OFFSET = 400
SQUARE = [[[39.9, 35.3], [40.2, 35.3], [40.2, 35.5], [39.9, 35.5], [39.9, 35.3]]]
START_S = 240.0


def populate(data_dir: Path, database_url: str) -> dict[str, str]:
    """Parties a and b with an aircraft each, a liaison key each and an admin key (made without a bus)."""
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=database_url), create=True)
    try:
        reg = dep.registry
        keys = {}
        for party in ("a", "b"):
            reg.add_party(Party(party, party.upper()), [Contact(f"{party} duty officer")])
            reg.add_force(Force(f"f{party}", f"{party} air", party))
            reg.add_unit(Unit(f"u{party}", f"{party.upper()}1", Domain.AIR, "fighter", f"f{party}"))
            keys[party] = dep.keys.create(Role.LIAISON, party, f"{party} liaison")[1]
            keys[f"{party}-feed"] = dep.keys.create(Role.FEED, party, f"{party} feed")[1]
        keys["admin"] = dep.keys.create(Role.ADMIN, None, "admin")[1]
        return keys
    finally:
        dep.close()


def api(
    data_dir: Path, database_url: str, log: Path, port: int | None = None, *extra: str, **settings: str
) -> ServedProcess:
    """``keepclear serve`` with the bus on the test cluster (on ``port``, default a free one, with
    ``extra`` options and ``settings`` as ``KEEPCLEAR_<NAME>``), started (stopped with its block).
    Ready when it says so: with ``--reuse-port`` another process may answer at its address."""
    # the drills post as fast as they can from one party: not held back by the parties' post rate
    env = {
        "KEEPCLEAR_BUS_URL": ",".join(servers(PORT_OFFSET)),
        "KEEPCLEAR_TICK_S": "0.5",
        **UNBOUNDED_POSTS_ENV,
        **UNBOUNDED_ACTIVITY_WRITES_ENV,
    }
    env.update({f"KEEPCLEAR_{name.upper()}": value for name, value in settings.items()})
    process = serve(
        data_dir, log, database_url=database_url, port=port, args=extra, env=env, ready=log_says("ready: http")
    )
    return process.start(START_S)


class Stream:
    """``/v1/stream`` read on a thread; keeps each event's JSON."""

    def __init__(self, url: str, key: str) -> None:
        self.events: list[dict[str, object]] = []
        self._client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(10), "the stream did not open"

    def _run(self) -> None:
        try:
            with self._client.stream("GET", "/v1/stream", timeout=None) as response:
                kind = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                        if kind == "hello":
                            self._ready.set()
                    elif line.startswith("data: ") and kind not in (None, "hello"):
                        self.events.append(json.loads(line[6:]))
        except Exception:  # closed when the test ends
            self._ready.set()

    def first(self, kind: str, timeout_s: float) -> dict[str, object] | None:
        """The first event of ``kind`` read, waiting up to ``timeout_s`` for it; None if none came."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in list(self.events):
                if event["kind"] == kind:
                    return event
            time.sleep(0.1)
        return None

    def close(self) -> None:
        self._client.close()


def test_a_notification_through_one_process_reaches_a_stream_on_the_other(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    with ExitStack() as stack:
        url_a = stack.enter_context(api(data_dir, postgres_url, tmp_path / "a.log")).url
        url_b = stack.enter_context(api(data_dir, postgres_url, tmp_path / "b.log")).url
        stream_b = Stream(url_b, keys["b"])
        stack.callback(stream_b.close)
        now = time.time()
        body = {
            "kind": "air-operation",
            "start": format_utc(now + 30 * 3600),
            "end": format_utc(now + 34 * 3600),
            "addressees": ["b"],
            "units": ["ua"],
            "share_units": False,
            "contact": "a duty officer",
            "text": "Strike package",
            "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000}],
        }
        t0 = time.monotonic()
        with httpx.Client(base_url=url_a, headers={"Authorization": f"Bearer {keys['a']}"}, timeout=30) as a:
            notified = a.post("/v1/activities", json=body)
        assert notified.status_code == 201, notified.text
        activity_id = notified.json()["activity"]["id"]
        deadline = time.monotonic() + 10
        while not any(
            e.get("kind") == EventKind.ACTIVITY_NOTIFIED and activity_id in json.dumps(e) for e in stream_b.events
        ):
            assert time.monotonic() < deadline, f"not on B's stream: {[e.get('kind') for e in stream_b.events]}"
            time.sleep(0.02)
        delivery_s = time.monotonic() - t0
        metrics = httpx.get(url_b + "/v1/metrics", headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=10)
        assert metrics.status_code == 200, metrics.text
        print(json.dumps({"post_to_stream_on_other_process_s": round(delivery_s, 3)}))
        assert metrics.json()["counters"]["bus_delivered_total"] >= 1
    # each probes only what it accepted: told at start, so that nobody runs several of them unwarned
    assert "warning: bus_url without detect_in_workers" in (tmp_path / "a.log").read_text()


def test_a_hotline_message_posted_on_one_process_reaches_a_socket_on_the_other_at_once(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """With the bus a socket does not poll the store: another process's message wakes it through the bus,
    well inside the 2 s a poll would take."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    with ExitStack() as stack:
        url_a = stack.enter_context(api(data_dir, postgres_url, tmp_path / "a.log")).url
        url_b = stack.enter_context(api(data_dir, postgres_url, tmp_path / "b.log")).url
        a = stack.enter_context(httpx.Client(base_url=url_a, headers={"Authorization": f"Bearer {keys['a']}"}))
        [thread] = [t for t in a.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"]]
        uri = url_b.replace("http", "ws") + f"/v1/hotline/ws?key={keys['b']}&person=duty"
        ws = stack.enter_context(connect(uri, open_timeout=30))
        ws.send(json.dumps({"type": "resume", "cursors": {}}))
        frames = []
        while not any(f["type"] == "resumed" for f in frames):
            frame = json.loads(ws.recv(timeout=10))
            frames += frame["frames"] if frame["type"] == "batch" else [frame]
        delays_s = []
        for i in range(5):
            t0 = time.monotonic()
            posted = a.post(
                f"/v1/hotline/threads/{thread['id']}/messages",
                json={"kind": "text", "body": f"across {i}", "idempotency_key": f"across-process-{i:04d}"},
            )
            assert posted.status_code == 201, posted.text
            seq = posted.json()["message"]["seq"]
            while True:
                frame = json.loads(ws.recv(timeout=max(0.01, t0 + 1.5 - time.monotonic())))  # a poll: 2 s
                items = frame["frames"] if frame["type"] == "batch" else [frame]
                if any(f["type"] == "message" and f["message"]["seq"] == seq for f in items):
                    break
            delays_s.append(time.monotonic() - t0)
        print(json.dumps({"hotline_post_to_other_process_socket_s": [round(d, 3) for d in delays_s]}))
        assert max(delays_s) < 1.5


def test_two_processes_share_one_address_and_it_answers_after_one_is_killed(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """``--reuse-port``: the kernel spreads new connections over both processes; after ``kill -9`` of
    one, every request to the address is answered by the other."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    port = free_port()
    with ExitStack() as stack:
        first = stack.enter_context(api(data_dir, postgres_url, tmp_path / "a.log", port, "--reuse-port"))
        second = stack.enter_context(api(data_dir, postgres_url, tmp_path / "b.log", port, "--reuse-port"))
        admin = {"Authorization": f"Bearer {keys['admin']}"}

        def answering(n: int) -> list[int]:
            pids = []
            for _ in range(n):  # a new connection each time: the kernel picks the process per connection
                response = httpx.get(first.url + "/v1/metrics", headers=admin, timeout=10)
                assert response.status_code == 200, response.text
                pids.append(response.json()["process_id"])
            return pids

        assert set(answering(60)) == {first.pid, second.pid}
        first.kill9()
        assert set(answering(20)) == {second.pid}
        # A program that did not ask for the shared port still finds it taken.
        refused = subprocess.run(
            [*keepclear_cli(data_dir, postgres_url), "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert refused.returncode != 0 and "in use" in refused.stderr


def test_a_notification_accepted_by_one_process_is_checked_against_by_the_next_request_on_the_other(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """Every check catches up with the shared store inside its own transaction (services/activities/
    live_index.py), so no process checks against a stale picture, however late the bus."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    with ExitStack() as stack:
        url_a = stack.enter_context(api(data_dir, postgres_url, tmp_path / "a.log")).url
        url_b = stack.enter_context(api(data_dir, postgres_url, tmp_path / "b.log")).url
        a = stack.enter_context(httpx.Client(base_url=url_a, headers={"Authorization": f"Bearer {keys['a']}"}))
        b = stack.enter_context(httpx.Client(base_url=url_b, headers={"Authorization": f"Bearer {keys['b']}"}))
        now = time.time()
        for i in range(3):
            body = {
                "kind": "air-operation",
                "start": format_utc(now + (30 + 10 * i) * 3600),
                "end": format_utc(now + (34 + 10 * i) * 3600),
                "contact": "duty officer",
                "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 30000}],
            }
            first = a.post("/v1/activities", json={**body, "addressees": ["b"]})
            assert first.status_code == 201, first.text
            second = b.post("/v1/activities", json={**body, "addressees": ["a"]})  # at once, on the other process
            assert second.status_code == 201, second.text
            found = {(c["kind"], c["target_id"]) for c in second.json()["conflicts"]}
            assert ("activity", first.json()["activity"]["id"]) in found, second.json()["conflicts"]


def test_one_process_signs_and_the_other_takes_over_when_it_is_killed(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """The record signer and the deadline watchers run in one process of two; ``kill -9`` of it hands
    them to the other, which signs what was written meanwhile: nothing is left in the outbox."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    roles = ("leader_signer", "leader_hotline-deadlines", "leader_activity-deadlines")

    def leads(url: str) -> dict[str, float]:
        counters = httpx.get(url + "/v1/metrics", headers=admin, timeout=10).json()["counters"]
        return {role: counters[role] for role in roles}

    def wait_for(what: str, ok: Callable[[], bool], timeout_s: float = 20.0) -> float:
        started = time.monotonic()
        while not ok():
            assert time.monotonic() - started < timeout_s, what
            time.sleep(0.1)
        return time.monotonic() - started

    with ExitStack() as stack:
        first = stack.enter_context(api(data_dir, postgres_url, tmp_path / "a.log"))
        second = stack.enter_context(api(data_dir, postgres_url, tmp_path / "b.log"))
        wait_for("each role led by one process", lambda: all(
            leads(first.url)[r] + leads(second.url)[r] == 1 for r in roles))  # fmt: skip
        leader, standby = (first, second) if leads(first.url)["leader_signer"] == 1 else (second, first)
        leader.kill9()
        took_s = wait_for("the standby leads every role", lambda: set(leads(standby.url).values()) == {1.0})
        with httpx.Client(base_url=standby.url, headers={"Authorization": f"Bearer {keys['a']}"}, timeout=30) as a:
            [thread] = [t for t in a.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"]]
            for i in range(3):
                posted = a.post(
                    f"/v1/hotline/threads/{thread['id']}/messages",
                    json={"kind": "text", "body": f"after {i}", "idempotency_key": f"after-failover-{i:04d}"},
                )
                assert posted.status_code == 201, posted.text

        def record() -> dict[str, Any]:
            return dict(httpx.get(standby.url + "/v1/metrics", headers=admin, timeout=10).json()["record"])

        wait_for("the new leader signs what was written", lambda: record()["waiting"] == 0)
        assert record()["signed_total"] >= 3  # the three messages' entries, signed by the process that took over
        print(json.dumps({"standby_leads_after_kill_s": round(took_s, 2)}))


def _events_after(url: str, key: str, last_event_id: str | None) -> tuple[list[str], list[tuple[str, str]]]:
    """``/v1/stream?once=true`` with ``last_event_id``: (the kinds sent, [(sse id, activity id)])."""
    headers = {"Authorization": f"Bearer {key}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    kinds: list[str] = []
    notified: list[tuple[str, str]] = []
    with httpx.stream("GET", url + "/v1/stream", params={"once": "true"}, headers=headers, timeout=30) as response:
        sse_id = kind = ""
        for line in response.iter_lines():
            if line.startswith("id: "):
                sse_id = line[4:]
            elif line.startswith("event: "):
                kind = line[7:]
                kinds.append(kind)
            elif line.startswith("data: ") and kind == EventKind.ACTIVITY_NOTIFIED:
                notified.append((sse_id, json.loads(line[6:])["payload"]["activity"]["id"]))
    return kinds, notified


def test_a_client_resumes_its_stream_on_the_other_process_with_last_event_id(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """An SSE id is a tag of what the party is shown of the event, the same in every process: a client
    that read some events from A and reconnects to B with its Last-Event-ID gets every later one, none lost."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    with ExitStack() as stack:
        url_a = stack.enter_context(api(data_dir, postgres_url, tmp_path / "a.log")).url
        url_b = stack.enter_context(api(data_dir, postgres_url, tmp_path / "b.log")).url
        a = stack.enter_context(httpx.Client(base_url=url_a, headers={"Authorization": f"Bearer {keys['a']}"}))
        now = time.time()

        def notify(i: int) -> str:
            body = {
                "kind": "air-operation",
                "start": format_utc(now + (30 + 10 * i) * 3600),
                "end": format_utc(now + (34 + 10 * i) * 3600),
                "addressees": ["b"],
                "contact": "duty officer",
                "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 9000}],
            }
            response = a.post("/v1/activities", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["activity"]["id"])

        first = [notify(i) for i in range(3)]
        deadline = time.monotonic() + 10
        while len(seen := _events_after(url_a, keys["b"], "0")[1]) < 3:
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
        assert [activity for _, activity in seen] == first
        last_id = seen[1][0]  # b read two of them on A, then lost its connection
        assert re.fullmatch(r"[0-9a-f]{16}", last_id), last_id
        later = [notify(i) for i in range(3, 5)]
        deadline = time.monotonic() + 10
        while True:
            kinds, resumed = _events_after(url_b, keys["b"], last_id)  # reconnects to B
            got = [activity for _, activity in resumed]
            if all(x in got for x in [first[2], *later]):
                break
            assert time.monotonic() < deadline, (kinds, got)
            time.sleep(0.1)
        assert "reload" not in kinds
        assert all(got.count(x) == 1 for x in later)  # each later one once; an earlier one may come again
        # A tag no process ever sent: told to reload.
        kinds, _ = _events_after(url_b, keys["b"], "0123456789abcdef")
        assert "reload" in kinds


def _drill_traffic(
    url: str, keys: dict[str, str], thread_id: str, done: dict[str, set[Any]], stop: threading.Event
) -> None:
    """Post messages and notify activities at the shared address until ``stop``; note every 2xx. A
    request cut by a kill is not retried: it may or may not be stored, but never twice."""
    a = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['a']}"}, timeout=10)
    now = time.time()
    step = 0
    while not stop.is_set():
        step += 1
        try:
            if step % 3 == 0:
                body = {
                    "kind": "air-operation",
                    "start": format_utc(now + (30 + step) * 3600),
                    "end": format_utc(now + (31 + step) * 3600),
                    "addressees": ["b"],
                    "contact": "duty officer",
                    "volumes": [
                        {"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 9000}
                    ],
                }
                answer = a.post("/v1/activities", json=body)
                if answer.status_code == 201:
                    done["activities"].add(answer.json()["activity"]["id"])
                continue
            key = f"drill-{time.monotonic_ns()}-{step}"
            answer = a.post(f"/v1/hotline/threads/{thread_id}/messages", json={"idempotency_key": key, "body": key})
            if answer.status_code == 201:
                message = answer.json()["message"]
                done["messages"].add((message["thread_id"], message["seq"]))
        except httpx.TransportError:
            time.sleep(0.05)  # that process is gone: the next connection goes to a living one
    a.close()


def assert_recorded_once(data_dir: Path, database_url: str, export: Path, done: dict[str, set[Any]]) -> None:
    """The record verifies, and every message and activity in ``done`` (those the client was told
    succeeded) has exactly one entry; nothing has two."""
    base = keepclear_cli(data_dir, database_url)
    run_cli(base, "ledger", "export", "-o", str(export))
    assert "OK" in run_cli(base, "ledger", "verify", str(export))
    entries = json.loads(export.read_text())["entries"]
    said = [(e["statement"]["kind"], json.loads(e["payload"])) for e in entries if e["payload"] is not None]
    messages = Counter((p["thread_id"], p["seq"]) for kind, p in said if kind == "message.posted")
    activities = Counter(p["activity"]["id"] for kind, p in said if kind == "activity.notified")
    for counted, acknowledged in ((messages, done["messages"]), (activities, done["activities"])):
        assert not {k for k in acknowledged if counted[k] != 1}, "acknowledged without exactly one entry"
        assert not {k for k, n in counted.items() if n > 1}, "entries recorded twice"


def test_kill_9_of_api_processes_behind_one_address_loses_and_doubles_nothing(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """Two API processes share an address; a client posts hotline messages and notifies activities
    without pause while one process after the other is killed with ``kill -9`` at random moments (the
    signer's leader among them) and started again. Every message and activity the client was told
    succeeded is stored and has exactly one record entry; nothing has two; the record verifies."""
    seed = int(os.environ.get("KEEPCLEAR_DRILL_SEED", str(time.time_ns() % 1_000_000)))
    print(f"drill seed {seed} (KEEPCLEAR_DRILL_SEED={seed} replays the kill times)")
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    port = free_port()
    done: dict[str, set[Any]] = {"messages": set(), "activities": set()}
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        running = [
            stack.enter_context(api(data_dir, postgres_url, tmp_path / f"p{i}.log", port, "--reuse-port"))
            for i in range(2)
        ]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['a']}"}, timeout=30) as a:
            [thread] = [t for t in a.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"]]
        stop = threading.Event()
        client = threading.Thread(target=_drill_traffic, args=(url, keys, thread["id"], done, stop))
        client.start()
        try:
            for kill in range(3):
                time.sleep(rng.uniform(0.5, 2.0))
                victim = running.pop(rng.randrange(len(running)))
                victim.kill9()
                running.append(
                    stack.enter_context(
                        api(data_dir, postgres_url, tmp_path / f"p{kill + 2}.log", port, "--reuse-port")
                    )
                )
            time.sleep(rng.uniform(0.5, 1.5))
        finally:
            stop.set()
            client.join(timeout=30)
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        deadline = time.monotonic() + 30
        while (record := httpx.get(url + "/v1/metrics", headers=admin, timeout=10).json()["record"])["waiting"]:
            assert time.monotonic() < deadline, record
            time.sleep(0.2)
        assert record["failed"] == 0, record
    assert done["messages"] and done["activities"], "the drill made no traffic"
    assert_recorded_once(data_dir, postgres_url, tmp_path / "export.json", done)
    print(json.dumps({"drill_messages": len(done["messages"]), "drill_activities": len(done["activities"])}))


def _drill_reports(url: str, key: str, accepted: list[float], stop: threading.Event) -> None:
    """Report aircraft ``ua`` every 20 ms until ``stop``; note the time of every report accepted."""
    feed = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    while not stop.is_set():
        at_s = round(time.time(), 3)
        body = {
            "reports": [{"unit_id": "ua", "time": format_utc(at_s), "lat_deg": 35.0, "lon_deg": 38.0, "alt_m": 7000.0}]
        }
        try:
            answer = feed.post("/v1/tracks", json=body)
            if answer.status_code == 202 and answer.json()["accepted"] == 1:
                accepted.append(at_s)
            elif answer.status_code == 429:
                time.sleep(float(answer.headers.get("Retry-After", "0.2")))
        except httpx.TransportError:
            time.sleep(0.05)
        time.sleep(0.02)
    feed.close()


async def _reports_on_the_track_stream(offset: int) -> list[float] | None:
    """The times of ``ua``'s reports on the track stream, every copy; None while the stream answers
    503 (its leader not elected again yet after a node came back)."""
    import nats as nats_client
    from nats.js.errors import ServiceUnavailableError

    from keepclear.services.runtime.nats_tracks import TRACK_PREFIX, TRACK_STREAM
    from keepclear.services.tactical.track_wire import reports_from_bytes

    nc = await nats_client.connect(servers(offset))
    try:
        js = nc.jetstream()
        pull = await js.pull_subscribe(f"{TRACK_PREFIX}.>", stream=TRACK_STREAM)
        times: list[float] = []
        while True:
            try:
                messages = await pull.fetch(256, timeout=2.0)
            except nats_client.errors.TimeoutError:
                break
            except ServiceUnavailableError:
                return None
            for message in messages:
                columns = reports_from_bytes(message.data)
                times.extend(
                    round(float(v[0]), 3) for u, v in zip(columns.unit_ids, columns.values, strict=True) if u == "ua"
                )
                await message.ack()
            if messages[-1].metadata.num_pending == 0:
                break
        return times
    finally:
        await nc.close()


def test_kill_9_of_nats_nodes_during_ingest_hotline_and_notifications_loses_and_doubles_nothing(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """Two API processes (detection in workers: each accepted report goes on the track stream); a
    client posts hotline messages and notifies activities through A, a feed reports through A and B,
    party b streams from B, while NATS nodes are killed with ``kill -9`` at random moments and brought
    back. Every report accepted is on the track stream once; every message and activity the client was
    told succeeded has one record entry and reached b's stream on the other process; the record
    verifies."""
    seed = int(os.environ.get("KEEPCLEAR_DRILL_SEED", str(time.time_ns() % 1_000_000)))
    print(f"drill seed {seed} (KEEPCLEAR_DRILL_SEED={seed} replays the kill times)")
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    done: dict[str, set[Any]] = {"messages": set(), "activities": set()}
    accepted: list[float] = []
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(api(data_dir, postgres_url, tmp_path / f"{name}.log", None, detect_in_workers="true"))
            for name in ("a", "b")
        )
        with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {keys['a']}"}, timeout=30) as client:
            [thread] = [t for t in client.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"]]
        stream_b = Stream(b.url, keys["b"])
        stack.callback(stream_b.close)
        stop = threading.Event()
        workers = [
            threading.Thread(target=_drill_traffic, args=(a.url, keys, thread["id"], done, stop)),
            threading.Thread(target=_drill_reports, args=(a.url, keys["a-feed"], accepted, stop)),
            threading.Thread(target=_drill_reports, args=(b.url, keys["a-feed"], accepted, stop)),
        ]
        for worker in workers:
            worker.start()
        kills = []
        try:
            for _ in range(2):
                time.sleep(rng.uniform(1.0, 3.0))
                node = rng.randint(1, 3)
                killed = cluster("kill", str(node), env=running_cluster)
                assert killed.returncode == 0, killed.stdout + killed.stderr
                kills.append(node)
                time.sleep(rng.uniform(1.0, 3.0))
                up = cluster("up", env=running_cluster)
                assert up.returncode == 0, up.stdout + up.stderr
            time.sleep(rng.uniform(1.0, 2.0))
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        deadline = time.monotonic() + 60
        while True:
            heard = {
                (e["payload"]["thread_id"], e["payload"]["seq"])
                for e in list(stream_b.events)
                if e.get("kind") == EventKind.MESSAGE_POSTED
            }
            notified = {
                e["payload"]["activity"]["id"]
                for e in list(stream_b.events)
                if e.get("kind") == EventKind.ACTIVITY_NOTIFIED
            }
            if (done["messages"] <= heard and done["activities"] <= notified) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done["messages"] <= heard, sorted(done["messages"] - heard)[:5]
        assert done["activities"] <= notified, sorted(done["activities"] - notified)[:5]
        while (record := httpx.get(a.url + "/v1/metrics", headers=admin, timeout=10).json()["record"])["waiting"]:
            assert time.monotonic() < deadline, record
            time.sleep(0.2)
        # A pump still sending a chunk JetStream did not acknowledge during the kills (it retries
        # until it is stored) finishes meanwhile: the accepted reports are awaited, then counted.
        awaited_from_s = time.monotonic()
        on_stream: list[float] | None = None
        while True:
            counted = asyncio.run(_reports_on_the_track_stream(PORT_OFFSET))
            on_stream = on_stream if counted is None else counted
            if (on_stream is not None and not set(accepted) - set(on_stream)) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        stream_wait_s = time.monotonic() - awaited_from_s
        assert on_stream is not None, "the track stream answered 503 until the deadline"
    assert done["messages"] and done["activities"] and accepted, "the drill made no traffic"
    assert "warning: bus_url without" not in (tmp_path / "a.log").read_text(), "detection runs in workers here"
    copies = Counter(on_stream)
    assert not [t for t in accepted if copies[t] == 0], "accepted reports missing from the track stream"
    # the two feed threads may happen on the same millisecond: each accepted copy belongs on the stream once
    posted = Counter(accepted)
    assert not [t for t, n in copies.items() if n > max(1, posted[t])], "reports on the track stream twice"
    assert_recorded_once(data_dir, postgres_url, tmp_path / "export.json", done)
    print(
        json.dumps(
            {
                "nodes_killed": kills,
                "track_stream_complete_after_s": round(stream_wait_s, 2),
                "drill_messages": len(done["messages"]),
                "drill_activities": len(done["activities"]),
                "reports_accepted": len(accepted),
            }
        )
    )
