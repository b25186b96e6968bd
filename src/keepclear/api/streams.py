"""Server-sent events: every event a caller may see, live, with catch-up after a reconnect.

Events reach the hub from any thread (the bus is synchronous); each connection owns a bounded
asyncio queue. Recent events are kept in a ring so a client reconnecting with ``Last-Event-ID``
gets what it missed; one that was away longer than the ring is told to reload.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc

#: Decides, per connection, whether and how an event is shown: None hides it.
EventView = Callable[[Event], dict[str, object] | None]


@dataclass(eq=False)
class _Connection:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[int, Event] | None]
    limit: int
    cut: bool = False


class StreamHub:
    """Numbers events and fans them out to connected SSE clients."""

    def __init__(self, ring_size: int = 10_000, queue_size: int = 10_000) -> None:
        self._ring: deque[tuple[int, Event]] = deque(maxlen=ring_size)
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._seq = 0
        self._queue_size = queue_size

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

    def close_all(self) -> None:
        """End every open stream (service shutdown); clients reconnect and catch up."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.loop.call_soon_threadsafe(conn.queue.put_nowait, None)

    @staticmethod
    def _offer_all(conn: _Connection, items: list[tuple[int, Event]]) -> None:
        for item in items:
            if conn.cut:
                return
            if conn.queue.qsize() >= conn.limit:
                # A client too slow to keep up is cut off; it reconnects and catches up from the ring.
                conn.cut = True
                conn.queue.put_nowait(None)
                return
            conn.queue.put_nowait(item)

    async def stream(self, view: EventView, last_event_id: int | None, *, once: bool = False) -> AsyncIterator[str]:
        """SSE text for one client: the missed events after ``last_event_id``, then live ones.

        With ``once`` the stream ends after the missed events (a poll).
        """
        conn = _Connection(asyncio.get_running_loop(), asyncio.Queue(), self._queue_size)
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
                    item = await asyncio.wait_for(conn.queue.get(), timeout=15.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    return
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
