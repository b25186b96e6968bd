"""Live delivery through a real uvicorn server on 127.0.0.1 and real WebSocket clients, both stores."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hotline_server import serve
from hotline_support import pair
from websockets.sync.client import ClientConnection, connect

from keepclear.api.hotline_frames import LiveConfig
from keepclear.domain import Party
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.hotline import Draft, MessageKind
from keepclear.domain.parties import Contact
from keepclear.services.hotline.hub import HotlineHub
from keepclear.services.hotline.posting import posted_payload
from keepclear.services.hotline.service import HotlineService
from keepclear.services.hotline.store_watch import StoreWatch
from keepclear.services.runtime.bus import EventBus
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database
from keepclear.store import hotline as store


@pytest.fixture
def server(hotline: HotlineService, hub: HotlineHub) -> Iterator[str]:
    with serve(hotline, hub) as url:
        yield url


@contextmanager
def _open(url: str, party: str, cursors: dict[str, int]) -> Iterator[ClientConnection]:
    uri = url.replace("http", "ws") + "/v1/hotline/ws"
    with connect(uri, additional_headers={"X-Party": party}, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "resume", "cursors": cursors}))
        yield ws


def _unbatch(frame: dict[str, Any]) -> list[dict[str, Any]]:
    return frame["frames"] if frame["type"] == "batch" else [frame]


def _frames_until(ws: ClientConnection, done: Any, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Frames received until ``done(frame)`` is true (that frame included)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        for frame in _unbatch(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))):
            frames.append(frame)
            if done(frame):
                return frames


def _seqs(frames: list[dict[str, Any]], thread_id: str) -> list[int]:
    return [f["message"]["seq"] for f in frames if f["type"] == "message" and f["message"]["thread_id"] == thread_id]


def test_post_over_websocket_is_accepted_after_commit_and_delivered_in_the_readers_language(
    deployment: Deployment, hotline: HotlineService, server: str
) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    with _open(server, "coalition", {}) as a, _open(server, "russia", {}) as b:
        _frames_until(a, lambda f: f["type"] == "resumed")
        _frames_until(b, lambda f: f["type"] == "resumed")
        a.send(
            json.dumps(
                {
                    "type": "post",
                    "ref": 1,
                    "thread_id": thread_id,
                    "kind": "query",
                    "idempotency_key": "live-000001",
                    "phrase": {"code": "HOLDPOS", "params": {"unit": "T-90 '3'"}},
                }
            )
        )
        accepted = _frames_until(a, lambda f: f["type"] == "accepted")[-1]
        with deployment.db.read() as conn:  # committed before it was reported accepted
            assert store.count_messages(conn, thread_id) == 1
        assert accepted["created"] and accepted["seq"] == 1
        got = _frames_until(b, lambda f: f["type"] == "message")[-1]["message"]
        assert got["text"] == "Прошу ваше подразделение T-90 '3' остановиться и оставаться на месте."
        assert got["sender_party"] == "coalition"
        # Delivery confirmed by russia's client reaches coalition as a receipt.
        b.send(json.dumps({"type": "delivered", "thread_id": thread_id, "through_seq": 1}))
        receipt = _frames_until(a, lambda f: f["type"] == "receipt")[-1]
        assert (receipt["party_id"], receipt["kind"], receipt["seqs"]) == ("russia", "delivered", [1])


def test_bad_posts_over_websocket_get_an_error_frame_and_store_nothing(
    deployment: Deployment, hotline: HotlineService, server: str
) -> None:
    thread_id = pair(hotline, "russia", "un")
    with _open(server, "coalition", {}) as a:
        _frames_until(a, lambda f: f["type"] == "resumed")
        bad = [
            {"ref": "not-member", "thread_id": thread_id, "idempotency_key": "bad-ws-0001", "body": "x"},
            {"ref": "too-big", "thread_id": thread_id, "idempotency_key": "bad-ws-0002", "body": "я" * 9000},
            {"ref": "key", "thread_id": thread_id, "idempotency_key": "k", "body": "x"},
            {"ref": "ack", "thread_id": thread_id, "idempotency_key": "bad-ws-0004", "kind": "acknowledgement",
             "body": "x"},
            {"ref": "field", "thread_id": thread_id, "idempotency_key": "bad-ws-0003", "body": "x", "colour": 1},
        ]  # fmt: skip
        for frame in bad:
            a.send(json.dumps({"type": "post", **frame}))
        errors = [f for f in _frames_until(a, lambda f: f.get("ref") == "field") if f["type"] == "error"]
    by_ref = {e["ref"]: e for e in errors}
    assert by_ref["not-member"]["status"] == "not_found"
    assert "18000 bytes is over the limit" in by_ref["too-big"]["problems"][0]
    assert by_ref["key"]["problems"][0].startswith("idempotency_key: 'k' is not a valid idempotency key")
    assert by_ref["field"]["problems"] == ["colour: unknown field"]
    # Every invalid frame's refusal carries a machine code per problem, as an HTTP 422 does.
    assert by_ref["too-big"]["codes"] == ["invalid"] * len(by_ref["too-big"]["problems"])
    assert by_ref["field"]["codes"] == ["invalid"] and "codes" not in by_ref["not-member"]
    assert "reply_to_required" in by_ref["ack"]["codes"]
    with deployment.db.read() as conn:
        assert store.count_messages(conn) == 0


def test_reconnecting_client_gets_every_missed_message_once_in_order(hotline: HotlineService, server: str) -> None:
    """A sender posts without pause while the reader drops and resumes its connection again and again."""
    thread_id = pair(hotline, "coalition", "russia")
    total = 150
    stop = threading.Event()

    def sender() -> None:
        for i in range(total):
            hotline.post("coalition", "Maj Smith", Draft(thread_id, MessageKind.TEXT, f"resume-{i:05d}", body=str(i)))
            time.sleep(0.002)
        stop.set()

    received: list[int] = []
    worker = threading.Thread(target=sender)
    worker.start()
    connections = 0
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        connections += 1
        cursors = {thread_id: received[-1]} if received else {}
        with _open(server, "russia", cursors) as ws:
            frames = _frames_until(ws, lambda f: f["type"] == "resumed")
            assert frames[-1]["cursors"][thread_id] == (received[-1] if received else 0) + len(_seqs(frames, thread_id))
            received += _seqs(frames, thread_id)
            finished = stop.is_set()
            deadline = time.monotonic() + 0.05
            while time.monotonic() < deadline or (finished and len(received) < total and time.monotonic() < give_up):
                try:
                    frames = _unbatch(json.loads(ws.recv(timeout=0.02)))
                except TimeoutError:
                    continue
                received += _seqs(frames, thread_id)
        if finished and len(received) >= total:
            break
    worker.join()
    assert connections > 3
    assert received == list(range(1, total + 1))


def test_http_routes_post_retry_read_receipts_and_phrases(hotline: HotlineService, server: str) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    coalition = {"X-Party": "coalition", "X-Person": "Maj Smith"}
    russia = {"X-Party": "russia", "X-Person": "Maj Ivanov"}
    with httpx.Client(base_url=server, timeout=10) as http:
        body = {"kind": "text", "idempotency_key": "http-00001", "body": "Confirm convoy route"}
        first = http.post(f"/v1/hotline/threads/{thread_id}/messages", json=body, headers=coalition)
        retry = http.post(f"/v1/hotline/threads/{thread_id}/messages", json=body, headers=coalition)
        assert first.status_code == 201 and first.json()["created"] is True
        assert retry.json()["created"] is False and retry.json()["message"]["seq"] == 1
        assert http.post(f"/v1/hotline/threads/{thread_id}/read", json={"through_seq": 1}, headers=russia).json() == {
            "read": [1]
        }
        receipts = http.get(f"/v1/hotline/threads/{thread_id}/messages/1/receipts", headers=coalition).json()[
            "receipts"
        ]
        assert [(r["party_id"], r["kind"], r["person"]) for r in receipts] == [
            ("russia", "delivered", ""),
            ("russia", "read", "Maj Ivanov"),
        ]
        body["idempotency_key"] = "http-00002"
        missing = http.post("/v1/hotline/threads/t-none/messages", json=body, headers=coalition)
        assert missing.status_code == 404 and "t-none" in missing.json()["problems"][0]
        phrases = http.get("/v1/hotline/phrases", headers=russia).json()
        assert {p["code"]: p["text"] for p in phrases}["COMMCHECK"] == "Проверка связи. Как слышите?"
        assert (
            http.put("/v1/hotline/availability", json={"availability": "degraded"}, headers=russia).status_code == 200
        )
        last = http.get(f"/v1/hotline/threads/{thread_id}/messages", params={"after_seq": 1}, headers=coalition).json()
        assert [m["kind"] for m in last] == ["channel_status"]


def test_the_runtime_tick_escalates_without_a_manual_call(deployment: Deployment, clock: Any) -> None:
    """Deadlines are watched by the runtime's tick (task ``hotline-deadlines``), not by a caller."""
    from keepclear.services.runtime.runtime import Runtime

    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition", "en"), [Contact("Maj Smith", "J3 duty"), Contact("Col Jones", "J3")])
    reg.add_party(Party("russia", "Russian Federation", "ru"), [Contact("Maj Ivanov", "duty")])
    runtime = Runtime(deployment)
    thread_id = pair(runtime.hotline, "coalition", "russia")
    query = Draft(thread_id, MessageKind.QUERY, "tick-00001", body="?", ack_within_s=60)
    runtime.hotline.post("coalition", "Maj Smith", query)
    runtime.tick(clock.now_s())
    assert [m.kind for m in runtime.hotline.messages("coalition", thread_id)] == [MessageKind.QUERY]
    clock.advance(61)
    runtime.tick(clock.now_s())
    kinds = [m.kind for m in runtime.hotline.messages("coalition", thread_id)]
    assert kinds == [MessageKind.QUERY, MessageKind.ESCALATION]


def test_resume_from_a_cursor_beyond_the_thread_is_refused(hotline: HotlineService, server: str) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    hotline.post("coalition", "Maj Smith", Draft(thread_id, MessageKind.TEXT, "beyond-0001", body="one"))
    with _open(server, "russia", {thread_id: 7}) as ws:
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "error"
        assert frame["problems"] == [
            f"cursors.{thread_id}: 7 is beyond the last message (1) of the thread;"
            " resume from a cursor this deployment gave you"
        ]


def test_messages_committed_by_another_process_reach_the_client_through_the_store_watch(
    deployment: Deployment, hotline: HotlineService, hub: HotlineHub, database_url: str
) -> None:
    """Without a bus: a second service on its own database handle stands for another API process (no
    shared hub). The process's one look at the store (``StoreWatch``, a chore each tick) finds the
    thread it posted to and wakes the sockets of its parties; this process's own messages it leaves
    to the hub, and a thread nobody posted to is not read."""
    thread_id = pair(hotline, "coalition", "russia")
    quiet = hotline.create_thread("coalition", ["coalition", "russia"], "second line").id
    watch = StoreWatch(deployment.db, deployment.clock, hub.catch_up, hotline.parties_of)
    hotline.add_listener(watch.note)
    other_db = Database(database_url)
    other = HotlineService(other_db, deployment.clock, EventBus(), hotline.phrases)
    try:
        with serve(hotline, hub, LiveConfig()) as url, _open(url, "russia", {}) as ws:
            _frames_until(ws, lambda f: f["type"] == "resumed")
            hotline.post("coalition", "Maj Smith", Draft(quiet, MessageKind.TEXT, "here-0001", body="own"))
            _frames_until(ws, lambda f: f["type"] == "message" and f["message"]["thread_id"] == quiet)
            assert watch.look() == []  # its own message: the hub delivered it
            for i in range(3):
                other.post("coalition", "Maj Smith", Draft(thread_id, MessageKind.TEXT, f"elsewhere-{i:03d}", body="x"))
            assert watch.look() == [thread_id]
            frames = _frames_until(ws, lambda f: f["type"] == "message" and f["message"]["seq"] == 3)
            assert _seqs(frames, thread_id) == [1, 2, 3]
            assert watch.look() == [] and watch.woken_total == 1
    finally:
        other_db.dispose()


def test_another_processs_message_wakes_a_catch_up_of_its_thread_that_reads_every_page_without_a_poll(
    deployment: Deployment, hotline: HotlineService, hub: HotlineHub, database_url: str
) -> None:
    """With a bus: another process's ``message.posted`` wakes the sockets of the
    thread's parties, which read that thread from the store. More messages than one page (here 10)
    all come, in order, once, and the other thread is left unread until it is named."""
    thread_id = pair(hotline, "coalition", "russia")
    quiet = hotline.create_thread("coalition", ["coalition", "russia"], "second line").id
    other_db = Database(database_url)
    other = HotlineService(other_db, deployment.clock, EventBus(), hotline.phrases)
    try:
        with serve(hotline, hub, LiveConfig(max_batch=2)) as url, _open(url, "russia", {}) as ws:
            _frames_until(ws, lambda f: f["type"] == "resumed")
            for i in range(23):
                other.post("coalition", "Maj Smith", Draft(thread_id, MessageKind.TEXT, f"elsewhere-{i:03d}", body="x"))
            other.post("coalition", "Maj Smith", Draft(quiet, MessageKind.TEXT, "quiet-000", body="x"))
            last, _ = other.post(
                "coalition", "Maj Smith", Draft(thread_id, MessageKind.TEXT, "elsewhere-last", body="x")
            )
            hub.on_remote_event(
                Event(
                    EventKind.MESSAGE_POSTED, 0.0, "coalition", posted_payload(last), frozenset({"coalition", "russia"})
                )
            )
            frames = _frames_until(ws, lambda f: f["type"] == "message" and f["message"]["seq"] == 24)
            time.sleep(0.3)  # anything more would be here by now
            with pytest.raises(TimeoutError):
                frames += _unbatch(json.loads(ws.recv(timeout=0.2)))
            assert _seqs(frames, thread_id) == list(range(1, 25))
            assert _seqs(frames, quiet) == []
    finally:
        other_db.dispose()


def test_a_caller_whose_party_does_not_exist_gets_an_error_frame(server: str) -> None:
    with _open(server, "nobody", {}) as ws:
        frame = json.loads(ws.recv(timeout=10))
    assert frame == {
        "type": "error", "status": "invalid", "problems": ["party 'nobody' does not exist"], "codes": ["invalid"],
    }  # fmt: skip
