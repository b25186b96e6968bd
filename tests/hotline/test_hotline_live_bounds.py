"""What one hotline socket holds stays bounded whatever its client (or another party) sends: a
``LiveSession`` (the real one) driven by a scripted client that sends and never reads, and a real
server whose client resumes after a flood."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from fastapi import WebSocketDisconnect
from hotline_server import serve
from hotline_support import pair
from websockets.sync.client import connect

from keepclear.api.hotline_frames import LiveConfig
from keepclear.api.hotline_ws import LiveSession
from keepclear.domain.hotline import Draft, Message, MessageKind, Thread
from keepclear.services.hotline.hub import HotlineHub, HubConfig
from keepclear.services.hotline.service import HotlineService
from keepclear.store import hotline as store


class ScriptedClient:
    """A WebSocket client that sends ``frames`` (after its resume frame), one per turn of the loop,
    then leaves once ``leave`` is set; it takes the server's first frame and never reads another (its
    TCP buffers full): every later send waits for ever."""

    def __init__(self, frames: Iterable[dict[str, Any]]) -> None:
        self._frames = iter([{"type": "resume", "cursors": {}}, *frames])
        self.leave: asyncio.Event | None = None
        self.taken = 0
        self.sent: list[str] = []
        self.session: LiveSession | None = None
        self.largest_backlog = 0

    async def accept(self) -> None:
        pass

    async def receive_text(self) -> str:  # the hello
        text: str = (await self.receive())["text"]
        return text

    async def receive(self) -> dict[str, Any]:
        await asyncio.sleep(0)  # a frame a turn: the session's other tasks run in between
        if self.session is not None and self.session.subscription is not None:
            self.largest_backlog = max(self.largest_backlog, self.session.subscription.queue.qsize())
        frame = next(self._frames, None)
        if frame is None:
            if self.leave is not None:
                await self.leave.wait()
            raise WebSocketDisconnect(1000)
        self.taken += 1
        return {"type": "websocket.receive", "text": json.dumps(frame)}

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        if len(self.sent) > 1:
            await asyncio.Event().wait()  # not read: waits until the session gives up on it

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        pass


def _session(hotline: HotlineService, hub: HotlineHub, client: ScriptedClient, config: LiveConfig) -> LiveSession:
    session = LiveSession(hotline, hub, client, "coalition", "duty officer", config)  # type: ignore[arg-type]
    client.session = session
    return session


async def _held_back_then_released(
    session: LiveSession,
    client: ScriptedClient,
    held_back: Callable[[], None],
    release: threading.Event,
    done: Callable[[], bool],
) -> None:
    """Run ``session`` while the store is slow: ``held_back`` checks what it holds meanwhile; then the
    store goes on (``release``) and the client stays until ``done``, then leaves."""
    client.leave = asyncio.Event()
    running = asyncio.create_task(session.run())
    await asyncio.sleep(0.5)
    held_back()
    release.set()
    for _ in range(300):
        if done():
            break
        await asyncio.sleep(0.1)
    client.leave.set()
    await asyncio.wait_for(running, 10.0)


def test_a_client_that_sends_and_never_reads_is_cut_when_the_answers_fill_its_backlog(
    hotline: HotlineService,
) -> None:
    """Answers to a client's own frames (pongs, errors) went into its queue past the backlog's bound:
    a client sending pings (or megabyte frames answered with an error quoting them) and never reading
    grew the server's memory for ``stream_send_timeout_s``, never counted as overflowed."""
    hub = HotlineHub(HubConfig(queue_limit=20))
    frames = [{"type": "ping"} if k % 2 else {"type": "x" * 100_000} for k in range(2_000)]
    client = ScriptedClient(frames)
    session = _session(hotline, hub, client, LiveConfig(send_timeout_s=60.0))

    asyncio.run(asyncio.wait_for(session.run(), 10.0))  # cut at once, not after the 60 s send timeout

    assert hub.overflowed_total == 1
    assert client.largest_backlog <= 21  # the bound, and the overflow mark
    assert client.taken < 100, client.taken  # not one frame more was read than the backlog holds
    assert all(len(text) < 2_000 for text in client.sent), "an answer quotes a frame whole"


def test_delivered_receipts_wait_in_a_bounded_map_and_none_is_lost(hotline: HotlineService) -> None:
    """Each ``delivered`` frame named a thread kept in a map until the receipts task took it: a client
    naming thousands of threads faster than receipts are stored grew the map without bound (with ids of
    megabytes). Now past ``max_pending_receipts`` threads the server stops reading the client."""
    taken: list[str] = []
    release = threading.Event()

    def mark_delivered(party_id: str, thread_id: str, through_seq: int) -> list[int]:
        release.wait(10)  # the store is slow: receipts queue up meanwhile
        taken.append(thread_id)
        return []

    hotline.mark_delivered = mark_delivered  # type: ignore[method-assign]
    frames = [{"type": "delivered", "thread_id": f"t-{k:016x}", "through_seq": 1} for k in range(3_000)]
    client = ScriptedClient([*frames, {"type": "delivered", "thread_id": "t" * 1_000_000, "through_seq": 1}])
    hub = HotlineHub()
    session = _session(hotline, hub, client, LiveConfig())  # at most 1,000 threads waiting

    def held_back() -> None:
        assert len(session.delivered) <= 1_000 and client.taken <= 1_010, (len(session.delivered), client.taken)

    asyncio.run(_held_back_then_released(session, client, held_back, release, lambda: len(taken) == len(frames)))
    assert sorted(taken) == sorted(f["thread_id"] for f in frames)  # every receipt recorded, once
    assert client.taken == len(frames) + 2  # the resume frame and the megabyte id, answered and not held


def test_a_resume_reads_what_was_missed_a_page_at_a_time(
    hotline: HotlineService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket resuming from cursor 0 read every message of every thread of its party in one go and
    held them all: another party posting into a shared thread without end made each reconnect of the
    first party's console hold all of it. Now a resume holds one page (``max_batch``) at a time."""
    thread_id = pair(hotline, "coalition", "russia")
    total = 2_500
    for start in range(0, total, 500):
        drafts = [
            Draft(thread_id, MessageKind.TEXT, f"flood-{i:06d}", body="x" * 1000) for i in range(start, start + 500)
        ]
        hotline.post_many("russia", "Maj Ivanov", drafts)
    largest_read: list[int] = [0]
    messages_after = store.messages_after

    def counted(*args: Any, **kwargs: Any) -> list[Any]:
        found = messages_after(*args, **kwargs)
        largest_read[0] = max(largest_read[0], len(found))
        return found

    monkeypatch.setattr(store, "messages_after", counted)
    with serve(hotline, HotlineHub(), LiveConfig(max_batch=200)) as url:
        uri = url.replace("http", "ws") + "/v1/hotline/ws"
        with connect(uri, additional_headers={"X-Party": "coalition"}, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "resume", "cursors": {}}))
            frames: list[dict[str, Any]] = []
            while not frames or frames[-1]["type"] != "resumed":
                frame = json.loads(ws.recv(timeout=30))
                frames += frame["frames"] if frame["type"] == "batch" else [frame]
    seqs = [f["message"]["seq"] for f in frames if f["type"] == "message" and f["message"]["thread_id"] == thread_id]
    assert seqs == list(range(1, total + 1))  # every one, once, in order
    assert frames[-1]["cursors"][thread_id] == total
    assert 0 < largest_read[0] <= 200, largest_read[0]


def test_posts_waiting_for_their_commit_are_bounded_and_shown(hotline: HotlineService) -> None:
    """A client posting faster than posts commit is read no further past ``max_pending_posts`` (TCP
    pushes back); how many wait is now in the metrics (``hotline_posts_waiting_max``)."""
    release = threading.Event()
    committed: list[int] = []
    post_many = hotline.post_many

    def slow_post_many(party_id: str, person: str, drafts: list[Draft]) -> Any:
        release.wait(10)  # a slow store: posts queue up meanwhile
        committed.append(len(drafts))
        return post_many(party_id, person, drafts)

    hotline.post_many = slow_post_many  # type: ignore[method-assign]
    thread_id = pair(hotline, "coalition", "russia")
    posts = [
        {
            "type": "post",
            "ref": k,
            "thread_id": thread_id,
            "kind": "text",
            "idempotency_key": f"burst-{k:06d}",
            "body": "hi",
        }
        for k in range(200)
    ]
    client = ScriptedClient(posts)
    hub = HotlineHub()
    session = _session(hotline, hub, client, LiveConfig(max_pending_posts=10))
    waiting = hub.gauges()["hotline_posts_waiting_max"]

    def held_back() -> None:
        assert waiting() == 10 and client.taken <= 13, (waiting(), client.taken)

    asyncio.run(_held_back_then_released(session, client, held_back, release, lambda: sum(committed) == len(posts)))
    assert sum(committed) == len(posts) and waiting() == 0


def _resumed_frames(url: str, cursors: dict[str, int]) -> list[dict[str, Any]]:
    """What a client of coalition resuming from ``cursors`` is sent, up to ``resumed``."""
    uri = url.replace("http", "ws") + "/v1/hotline/ws"
    frames: list[dict[str, Any]] = []
    # The client's default frame bound (1 MiB): no batch frame of the server's is over it.
    with connect(uri, additional_headers={"X-Party": "coalition"}, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "resume", "cursors": cursors}))
        while not frames or frames[-1]["type"] != "resumed":
            frame = json.loads(ws.recv(timeout=30))
            frames += frame["frames"] if frame["type"] == "batch" else [frame]
    return frames


def test_a_sockets_backlog_is_bounded_in_bytes_as_well_as_in_items() -> None:
    """A delivery is one commit's messages, each up to ``max_body_bytes`` of text and
    ``max_message_data_bytes`` of data: a backlog bounded only in items (50,000) let one slow client
    hold gigabytes. Past ``HubConfig.backlog_bytes`` the client is told to resume, as past the items."""

    async def scenario() -> tuple[list[str], int]:
        hub = HotlineHub(HubConfig(queue_limit=10_000, backlog_bytes=100_000))
        sub = hub.connect("russia", "x", asyncio.get_running_loop())
        thread = Thread("t1", "t", ("coalition", "russia"), True, 0.0)
        for seq in range(1, 31):
            message = Message("t1", seq, MessageKind.TEXT, "coalition", "p", 0.0, f"key-{seq:06d}", body="x" * 10_000)
            hub.on_messages([(message, thread)])
        await asyncio.sleep(0.01)
        held = int(hub.gauges()["hotline_backlog_bytes_max"]())
        kinds = []
        while not sub.queue.empty():
            kinds.append(sub.get_nowait()[0])
        assert sub.backlog.queued_bytes == 0  # what is taken leaves the count
        return kinds, held

    kinds, held = asyncio.run(scenario())
    assert kinds[-1] == "overflow" and set(kinds[:-1]) == {"messages"}, kinds
    assert 5 <= len(kinds) - 1 < 10, kinds  # about 10 KB each: fewer than 10 in 100 KB
    assert held <= 100_000


def test_a_socket_behind_by_bytes_is_cut_and_resumes_losing_nothing(hotline: HotlineService) -> None:
    """Another party posts large messages while a client of coalition does not read: the client's
    backlog passes ``backlog_bytes`` long before its items bound, it is cut at once (a send to it is
    waiting), and resuming from its cursors it gets every message, once, in order."""
    hub = HotlineHub(HubConfig(backlog_bytes=200_000))  # the items bound (50,000) is never near
    hotline.add_listener(hub.on_messages)
    thread_id = pair(hotline, "coalition", "russia")
    client = ScriptedClient([])
    session = _session(hotline, hub, client, LiveConfig(send_timeout_s=60.0))
    total = 60

    def flood() -> None:
        for k in range(total):  # one commit each: 60 deliveries of about 10 KB
            hotline.post("russia", "Maj Ivanov", Draft(thread_id, MessageKind.TEXT, f"big-{k:06d}", body="x" * 10_000))

    async def drive() -> None:
        client.leave = asyncio.Event()
        running = asyncio.create_task(session.run())
        while session.subscription is None or len(client.sent) < 1:
            await asyncio.sleep(0.01)  # resumed: live from now on
        await asyncio.to_thread(flood)
        await asyncio.wait_for(running, 10.0)  # cut, not after the 60 s send timeout
        client.leave.set()

    asyncio.run(drive())
    assert hub.overflowed_total == 1
    assert session.subscription is not None and session.subscription.backlog.queued_bytes <= 200_000
    with serve(hotline, HotlineHub(), LiveConfig()) as url:
        frames = _resumed_frames(url, {})
    seqs = [f["message"]["seq"] for f in frames if f["type"] == "message" and f["message"]["thread_id"] == thread_id]
    assert seqs == list(range(1, total + 1))
