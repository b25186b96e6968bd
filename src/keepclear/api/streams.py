"""Server-sent events: every event a caller may see, live, with catch-up after a reconnect.

Events reach the hub from any thread (the bus is synchronous); each connection owns an asyncio
queue of events not yet sent, bounded by ``backlog_events``. A client that does not read is cut:
when its backlog reaches the bound, or when one send waits longer than ``send_timeout_s`` for the
client to take what was sent before (TCP's buffers full). Cutting cancels the task that serves it,
so nothing of it stays behind; the client reconnects with ``Last-Event-ID`` and gets what it missed
from the ring of recent events, or is told to reload when it was away longer than the ring.

Across API processes (a deployment with a bus) each event's SSE id also carries a tag of the
event's own id, the same in every process (``<seq>-<tag>``): a client that reconnects to another
process resumes after the event of that tag in this process's ring, with the events that arrived
here shortly before it (``resume_margin_s``: the bus delivers in a slightly different order in each
process), so it may get an event twice (the same id: drop it) but misses none. A tag not (yet) in
the ring is waited for a moment, then the client is told to reload.

The tactical picture (the units a party may see now) is pushed after every probe tick as
``event: tracks.picture``: not numbered, not kept in the ring, and coalesced per connection (a
client that is behind gets the newest picture once, never a queue of stale ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc
from keepclear.services.policy import revokes

#: Decides, per connection, whether and how an event is shown: None hides it.
EventView = Callable[[Event], dict[str, object] | None]
#: The tactical picture as one connection may see it now (called off the event loop), or None.
PictureView = Callable[[], dict[str, object] | None]


class _Picture:
    """The queue's mark that a newer picture is waiting (at most one per connection)."""


class _Item(NamedTuple):
    """An event in the ring: its number here, the event, its cross-process tag ("" in one process),
    and when it arrived here (monotonic seconds)."""

    seq: int
    event: Event
    tag: str
    arrived_s: float


#: ``Last-Event-ID`` as this hub writes it: ``<seq>`` or ``<seq>-<tag>``.
_LAST_ID = re.compile(r"(\d{1,18})(?:-([0-9a-f]{12}))?")


_PICTURE = _Picture()

#: Set in the task of a request whose stream the server cut on purpose (see ``CutStreamLogFilter``).
STREAM_CUT: contextvars.ContextVar[bool] = contextvars.ContextVar("keepclear_stream_cut", default=False)

#: What uvicorn logs when an application ends a response before its end; for a cut stream that is
#: the point (the connection is closed, the client reconnects), not an error.
_INCOMPLETE = "ASGI callable returned without completing response."


class CutStreamLogFilter(logging.Filter):
    """Drops uvicorn's "returned without completing response" for streams cut on purpose only:
    a hostile client must not be able to fill the log by not reading, and real errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _INCOMPLETE and STREAM_CUT.get())


@dataclass(eq=False)
class _Connection:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[_Item | _Picture | None]
    limit: int
    cut: bool = False
    #: A picture mark is in the queue and not yet taken.
    picture_pending: bool = False
    #: The task sending to this client: cancelled to cut it even while a send waits for the client.
    task: asyncio.Task[object] | None = None
    #: The key the stream was opened with: its revocation ends the stream.
    key_id: str | None = None


class StreamHub:
    """Numbers events and fans them out to connected SSE clients.

    ``backlog_events``: events a client may have waiting to be sent before it is cut;
    ``send_timeout_s``: longest a send may wait for the client to read before it is cut;
    ``tagged_ids``: ids that carry the event's own (several API processes on one bus; see the module
    docstring), with ``resume_margin_s`` of events resent before the resume point.
    """

    def __init__(
        self,
        ring_size: int = 10_000,
        backlog_events: int = 10_000,
        send_timeout_s: float = 30.0,
        *,
        tagged_ids: bool = False,
        resume_margin_s: float = 2.0,
    ) -> None:
        self._ring: deque[_Item] = deque(maxlen=ring_size)
        #: The newest ring number of each tag (``tagged_ids``); entries older than the ring are pruned.
        self._tag_seq: dict[str, int] = {}
        self._tagged = tagged_ids
        self._margin_s = resume_margin_s
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._seq = 0
        self.backlog_events = backlog_events
        self.send_timeout_s = send_timeout_s
        #: Clients cut for a full backlog or a send that timed out (not counting shutdown).
        self.cut_total = 0

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """Metrics of the streams: open connections, the largest backlog, clients cut, the ring."""
        return {
            "stream_clients": lambda: len(self._connections),
            "stream_backlog_events_max": lambda: max((c.queue.qsize() for c in list(self._connections)), default=0),
            "stream_clients_cut_total": lambda: self.cut_total,
            "stream_ring_events": lambda: len(self._ring),
        }

    def on_event(self, event: Event) -> None:
        """Bus subscriber."""
        self.on_events((event,))

    def on_events(self, events: Sequence[Event]) -> None:
        """Bus subscriber for batches: numbered in order, handed to each connection's loop at once."""
        tags = [event.id[4:16] if self._tagged else "" for event in events]  # hashed outside the lock
        with self._lock:
            now_s = time.monotonic()  # under the lock: arrival times rise with the ring's numbers
            items = [
                _Item(self._seq + k, event, tag, now_s)
                for k, (event, tag) in enumerate(zip(events, tags, strict=True), start=1)
            ]
            self._seq += len(items)
            self._ring.extend(items)
            if self._tagged:
                self._tag_seq.update((item.tag, item.seq) for item in items)
                if len(self._tag_seq) > 2 * (self._ring.maxlen or 0):
                    self._tag_seq = {item.tag: item.seq for item in self._ring}
            connections = list(self._connections)
        for conn in connections:
            conn.loop.call_soon_threadsafe(self._offer_all, conn, items)

    def offer_picture(self) -> None:
        """A new tactical picture exists (a probe tick ended; any thread): each connection sends
        its view of it next, once, however many ticks passed since its last."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(RuntimeError):  # that loop is closed already
                conn.loop.call_soon_threadsafe(self._offer_picture, conn)

    @staticmethod
    def _offer_picture(conn: _Connection) -> None:
        if not conn.cut and not conn.picture_pending:
            conn.picture_pending = True
            conn.queue.put_nowait(_PICTURE)

    def close_all(self) -> None:
        """End every open stream now (service shutdown), even those waiting for a client that does not
        read: clients reconnect and catch up."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(RuntimeError):  # that loop is closed already: nothing left to end
                conn.loop.call_soon_threadsafe(self._end, conn)

    @staticmethod
    def _end(conn: _Connection) -> None:
        conn.cut = True
        if conn.task is not None:
            conn.task.cancel()

    def _offer_all(self, conn: _Connection, items: list[_Item]) -> None:
        for item in items:
            if conn.cut:
                return
            if revokes(item.event, conn.key_id):  # nothing after it reaches the revoked key
                self._end(conn)
                return
            if conn.queue.qsize() >= conn.limit:
                # A client too slow to keep up is cut off; it reconnects and catches up from the ring.
                self.cut_total += 1
                self._end(conn)
                return
            conn.queue.put_nowait(item)

    def _missed(self, last_event_id: str | None) -> tuple[list[_Item], bool] | None:
        """(the events after ``last_event_id``, whether the client must reload), under the lock; None
        for a tag not in the ring (yet: it may still be on its way from another process). The ring's
        numbers are consecutive, so the resume point is found by index, not by a scan: a reconnecting
        client holds the lock (and the live events behind it) for what it missed, not for the ring."""
        found = _LAST_ID.fullmatch(last_event_id or "")
        if found is None:
            return [], last_event_id is not None  # none given: live only; one not of ours: reload
        seq, tag = int(found.group(1)), found.group(2)
        ring = self._ring
        oldest = ring[0].seq if ring else self._seq + 1
        here = ring[seq - oldest] if tag and oldest <= seq < oldest + len(ring) else None
        if tag is None or (here is not None and here.tag == tag):  # this process's own numbering
            return list(itertools.islice(ring, max(0, seq + 1 - oldest), None)), seq + 1 < oldest
        point_seq = self._tag_seq.get(tag)
        if point_seq is None or point_seq < oldest:
            return None
        index = point_seq - oldest
        since_s = ring[index].arrived_s - self._margin_s
        first = index  # the events that arrived within the margin before the point: resent too
        while first > 0 and ring[first - 1].arrived_s >= since_s:
            first -= 1
        return [*itertools.islice(ring, first, index), *itertools.islice(ring, index + 1, None)], False

    async def stream(
        self,
        view: EventView,
        last_event_id: str | None,
        *,
        once: bool = False,
        picture: PictureView | None = None,
        key_id: str | None = None,
    ) -> AsyncGenerator[str, None]:
        """SSE text for one client: the missed events after ``last_event_id`` (``<seq>`` or
        ``<seq>-<tag>``, as the ids sent), then live ones, and (with ``picture``) the tactical picture
        after each tick. The revocation of ``key_id`` (the client's key) ends it at once.

        With ``once`` the stream ends after the missed events (a poll).
        """
        conn = _Connection(
            asyncio.get_running_loop(),
            asyncio.Queue(),
            self.backlog_events,
            task=asyncio.current_task(),
            key_id=key_id,
        )
        deadline_s = time.monotonic() + self._margin_s
        while True:
            with self._lock:
                missed = self._missed(last_event_id)
                if missed is not None or time.monotonic() >= deadline_s:
                    backlog, reload = missed if missed is not None else ([], True)
                    self._connections.add(conn)
                    current = self._seq
                    break
            await asyncio.sleep(0.05)  # another process's event, not here yet: wait a moment for the bus
        try:
            yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'seq': current})}\n\n"
            if reload:
                yield f"event: reload\ndata: {json.dumps({'reason': 'missed events are no longer kept'})}\n\n"
            for missed_item in backlog:
                text = self._format(missed_item, view)
                if text:
                    yield text
            while not once:
                try:
                    # Not wait_for: on 3.11 it can swallow the cancellation that cuts this client.
                    async with asyncio.timeout(15.0):
                        item = await conn.queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    return
                if isinstance(item, _Picture):
                    conn.picture_pending = False
                    shown = await asyncio.to_thread(picture) if picture is not None else None
                    if shown is not None:  # sent after every tick, changed or not: a dead client is found by the write
                        yield f"event: tracks.picture\ndata: {json.dumps(shown, separators=(',', ':'))}\n\n"
                    continue
                text = self._format(item, view)
                if text:
                    yield text
        finally:
            with self._lock:
                self._connections.discard(conn)

    @staticmethod
    def _format(item: _Item, view: EventView) -> str | None:
        event = item.event
        shown = view(event)
        if shown is None:
            return None
        body = {"seq": item.seq, "kind": event.kind, "time": format_utc(event.time_s), "party_id": event.party_id}
        text = json.dumps({**body, **shown}, separators=(",", ":"))
        sse_id = f"{item.seq}-{item.tag}" if item.tag else str(item.seq)
        return f"id: {sse_id}\nevent: {event.kind}\ndata: {text}\n\n"


class EventStreamResponse(StreamingResponse):
    """An SSE response that never waits for ever on its client.

    Starlette's ``StreamingResponse`` waits as long as a client takes to read; here each send may
    wait at most ``send_timeout_s``, and the hub may cut the stream at any time (backlog full,
    shutdown) by cancelling the task that sends. Either way the response ends unfinished, uvicorn
    closes the connection, and the stream's generator is closed so it leaves the hub at once.
    """

    def __init__(self, content: AsyncGenerator[str, None], hub: StreamHub, headers: Mapping[str, str]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._hub = hub
        self._generator = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.ensure_future(self._send_all(send))
        listener = asyncio.ensure_future(self._until_disconnect(receive))
        disconnected = False
        try:
            await asyncio.wait((sender, listener), return_when=asyncio.FIRST_COMPLETED)
            disconnected = listener.done()
        finally:
            for task in (sender, listener):
                task.cancel()
            await asyncio.gather(sender, listener, return_exceptions=True)
            await self._generator.aclose()
        failure = None if sender.cancelled() else sender.exception()
        if failure is not None and not isinstance(failure, OSError):
            raise failure
        ended = sender.done() and not sender.cancelled() and failure is None and sender.result()
        if not ended and not disconnected:
            STREAM_CUT.set(True)  # cut on purpose, the client still there: uvicorn closes the connection

    async def _send_all(self, send: Send) -> bool:
        """Send the stream; True once it ended normally, False when a send timed out."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self._generator:
                async with asyncio.timeout(self._hub.send_timeout_s):
                    await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
            async with asyncio.timeout(self._hub.send_timeout_s):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            self._hub.cut_total += 1
            return False
        return True

    @staticmethod
    async def _until_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
