"""Server-sent events: every event a caller may see, live, with catch-up after a reconnect.

Events reach the hub from any thread (the bus is synchronous); each connection owns an asyncio
queue of events not yet sent, bounded by ``backlog_events``. A client that does not read is cut:
when its backlog reaches the bound, or when one send waits longer than ``send_timeout_s`` for the
client to take what was sent before (TCP's buffers full). Cutting cancels the task that serves it,
so nothing of it stays behind; the client reconnects with ``Last-Event-ID`` and gets what it missed
from the ring of recent events, or is told to reload when it was away longer than the ring.

The tactical picture (the units a party may see now) is pushed after every probe tick as
``event: tracks.picture``: not numbered, not kept in the ring, and coalesced per connection (a
client that is behind gets the newest picture once, never a queue of stale ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc

#: Decides, per connection, whether and how an event is shown: None hides it.
EventView = Callable[[Event], dict[str, object] | None]
#: The tactical picture as one connection may see it now (called off the event loop), or None.
PictureView = Callable[[], dict[str, object] | None]


class _Picture:
    """The queue's mark that a newer picture is waiting (at most one per connection)."""


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
    queue: asyncio.Queue[tuple[int, Event] | _Picture | None]
    limit: int
    cut: bool = False
    #: A picture mark is in the queue and not yet taken.
    picture_pending: bool = False
    #: The task sending to this client: cancelled to cut it even while a send waits for the client.
    task: asyncio.Task[object] | None = None


class StreamHub:
    """Numbers events and fans them out to connected SSE clients.

    ``backlog_events``: events a client may have waiting to be sent before it is cut;
    ``send_timeout_s``: longest a send may wait for the client to read before it is cut.
    """

    def __init__(self, ring_size: int = 10_000, backlog_events: int = 10_000, send_timeout_s: float = 30.0) -> None:
        self._ring: deque[tuple[int, Event]] = deque(maxlen=ring_size)
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
        with self._lock:
            items = [(self._seq + k, event) for k, event in enumerate(events, start=1)]
            self._seq += len(items)
            self._ring.extend(items)
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

    def _offer_all(self, conn: _Connection, items: list[tuple[int, Event]]) -> None:
        for item in items:
            if conn.cut:
                return
            if conn.queue.qsize() >= conn.limit:
                # A client too slow to keep up is cut off; it reconnects and catches up from the ring.
                self.cut_total += 1
                self._end(conn)
                return
            conn.queue.put_nowait(item)

    async def stream(
        self, view: EventView, last_event_id: int | None, *, once: bool = False, picture: PictureView | None = None
    ) -> AsyncGenerator[str, None]:
        """SSE text for one client: the missed events after ``last_event_id``, then live ones, and
        (with ``picture``) the tactical picture after each tick.

        With ``once`` the stream ends after the missed events (a poll).
        """
        conn = _Connection(
            asyncio.get_running_loop(), asyncio.Queue(), self.backlog_events, task=asyncio.current_task()
        )
        with self._lock:
            backlog = [item for item in self._ring if last_event_id is not None and item[0] > last_event_id]
            oldest = self._ring[0][0] if self._ring else self._seq + 1
            self._connections.add(conn)
            current = self._seq
        try:
            yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'seq': current})}\n\n"
            if last_event_id is not None and last_event_id + 1 < oldest:
                yield f"event: reload\ndata: {json.dumps({'reason': 'missed events are no longer kept'})}\n\n"
            for seq, event in backlog:
                text = self._format(seq, event, view)
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
                text = self._format(item[0], item[1], view)
                if text:
                    yield text
        finally:
            with self._lock:
                self._connections.discard(conn)

    @staticmethod
    def _format(seq: int, event: Event, view: EventView) -> str | None:
        shown = view(event)
        if shown is None:
            return None
        body = {"seq": seq, "kind": event.kind, "time": format_utc(event.time_s), "party_id": event.party_id, **shown}
        return f"id: {seq}\nevent: {event.kind}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


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
