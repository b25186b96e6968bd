"""Server-sent events: every event a caller may see, live, with catch-up after a reconnect.

Events reach the hub from any thread (the bus is synchronous); each connection owns an asyncio
queue of events not yet sent, bounded by ``backlog_events`` and ``backlog_bytes``. A client that does
not read is cut: when its backlog reaches either bound, or when one send waits longer than ``send_timeout_s`` for the
client to take what was sent before (TCP's buffers full). Cutting cancels the task that serves it,
so nothing of it stays behind; the client reconnects with ``Last-Event-ID`` and gets what it missed
from its party's ring of recent events, or is told to reload when it was away longer than the ring.

**Nothing on a party's stream counts the events of others.** The parties are adversaries: one
number over all events (as the ids were before) shows a party the gaps between the events it is
shown, so how much the other parties did, and when. Hence:

- each party has its own ring: the last ``ring_size`` events it is shown (not the deployment's; at
  most ``ring_bytes`` of their text, the oldest leaving first), so
  whether a resume point is still kept, and with it ``event: reload``, depends on its own events;
- an event's SSE id is its *tag* for that party: 16 hex digits of a SHA-256 of the party and of
  exactly what the party is shown (kind, time, party, its view), ``"id"`` in the body too. The same
  event has the same tag in every API process, so a client resumes on any of them by looking the tag
  up in its party's ring; another party's tag, a made-up one and one older than the ring are all
  simply not there (reload, then live). The body carries no ``seq``, ``hello`` no number.

Why a hash of the shown view and not the alternatives: numbers per party differ between processes
(each counts from its own start, and the bus delivers in a slightly different order in each), so they
would need the tag anyway; an encrypted number needs a key shared by every process, and a key kept
somewhere. A hash of the whole event (``Event.id``, hidden fields included) would let a party confirm
a guess of what it was not shown (the other addressees of an activity, say); a hash of what it is
shown tells it nothing new. Two events a party is shown identically at the same time have one tag:
the ring resumes after the older, so the client may get one again, never miss one.

Across API processes (a deployment with a bus, ``across_processes``) a client that reconnects to
another process resumes after its tag in this process's ring together with the events that arrived
here shortly before it (``resume_margin_s``: the bus delivers in a slightly different order in each
process), so it may get an event twice (the same id: drop it) but misses none. A tag not (yet) in the
ring is waited for a moment, then the client is told to reload. In one process the order is the one
the client saw, and an unknown tag is answered at once.

``Last-Event-ID: 0`` asks for everything the party's ring keeps (``event: reload`` first if it has
dropped any); without the header a stream is live only.

The tactical picture (the units a party may see now) is pushed after every probe tick as
``event: tracks.picture``: without an id, not kept in the ring, and coalesced per connection (a
client that is behind gets the newest picture once, never a queue of stale ones); its text is built
once a tick per party, in a worker thread, for all the party's connections (``api.stream_pictures``).

The response that sends a stream to its client, within ``send_timeout_s`` a send: ``api.stream_response``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from keepclear.api.stream_pictures import PictureTexts, PictureView
from keepclear.domain.event_kinds import ALERT_KINDS, ZONE_KINDS
from keepclear.domain.event_payloads import schema_version
from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc
from keepclear.services.backlog import BACKLOG_BYTES, Backlog
from keepclear.services.policy import party_event_view, revokes

#: Decides whether and how a party is shown an event (its ``payload``...): None hides it.
PartyView = Callable[[str, Event], dict[str, object] | None]


class _Picture:
    """The queue's mark that a newer picture is waiting (at most one per connection)."""


class _Item(NamedTuple):
    """An event in a party's ring: its place there (never sent: the ring's own count), its tag (the
    SSE id), its SSE text for that party, and when it arrived here (monotonic seconds)."""

    seq: int
    tag: str
    text: str
    arrived_s: float


#: Characters (bytes: the text is ASCII JSON) of event text one party's ring keeps at most, whatever
#: its count: an event's view may be large (an activity's geometry), and the ring holds 10,000.
RING_BYTES = 64 * 1024 * 1024

#: ``Last-Event-ID`` as this hub writes it: an event's tag.
_TAG = re.compile(r"[0-9a-f]{16}")
#: ``Last-Event-ID`` asking for everything the party's ring keeps.
FROM_OLDEST = "0"


def _reload_reason(last_event_id: str | None) -> str:
    """Why a client is told to reload: its ``Last-Event-ID`` is not of this stream's form (a client's
    mistake it can see), or the events after it are not kept (for a well-formed id: older than the
    ring, made up or another party's, all alike, so the reason tells nothing of others' events)."""
    if last_event_id is not None and last_event_id != FROM_OLDEST and _TAG.fullmatch(last_event_id) is None:
        return "Last-Event-ID is not an id of this stream (16 hex digits, or 0 for everything kept)"
    return "missed events are no longer kept"


@dataclass(eq=False)
class _Ring:
    """The last events one party was shown, in arrival order, and where each tag is in it."""

    items: deque[_Item]
    #: The place the next event gets (the first ever got 1).
    next_seq: int = 1
    #: The places of each tag's events, oldest first (places older than the ring pruned now and then).
    by_tag: dict[str, list[int]] = field(default_factory=dict)
    #: Places in ``by_tag``: past twice the ring's size it is built again from the ring.
    tagged: int = 0
    #: Characters of the texts in ``items`` (at most the hub's ``ring_bytes``).
    text_bytes: int = 0

    def place_of(self, tag: str) -> int | None:
        """The place of the oldest event of ``tag`` still in the ring, or None."""
        oldest = self.items[0].seq if self.items else self.next_seq
        return next((place for place in self.by_tag.get(tag, ()) if place >= oldest), None)


def shown(party_id: str, event: Event, view: dict[str, object]) -> tuple[str, str]:
    """(tag, SSE text) of ``event`` as ``party_id`` is shown it (``view``): the tag hashes nothing
    but the party and what it is shown, so it says nothing of what it is not (see the module)."""
    body = json.dumps(
        {
            "kind": event.kind,
            # the version of the payload's form: a reader refuses one it does not know
            "schema_version": schema_version(event.kind),
            "time": format_utc(event.time_s),
            "party_id": event.party_id,
            **view,
        },
        sort_keys=True,  # the same text in every process, whatever order a payload was built or decoded in
        separators=(",", ":"),
    )
    tag = hashlib.sha256(f"{party_id}\n{body}".encode()).hexdigest()[:16]
    return tag, f'id: {tag}\nevent: {event.kind}\ndata: {{"id":"{tag}",{body[1:]}\n\n'


_PICTURE = _Picture()


@dataclass(eq=False)
class _Connection:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[_Item | _Picture | None]
    #: What it may have waiting: the queue's events and the characters of their texts.
    backlog: Backlog
    #: The party whose events it is sent.
    party_id: str
    cut: bool = False
    #: A picture mark is in the queue and not yet taken.
    picture_pending: bool = False
    #: The task sending to this client: cancelled to cut it even while a send waits for the client.
    task: asyncio.Task[object] | None = None
    #: The key the stream was opened with: its revocation ends the stream.
    key_id: str | None = None


#: Kinds a stream hands over before the other events of a batch (``StreamHub.on_events``): what the
#: probe raises (alerts, zone entries and predicted entries, line crossings), never to wait behind the
#: rendering of another party's bulky events.
URGENT_KINDS = ALERT_KINDS | ZONE_KINDS


class StreamHub:
    """Keeps each party's recent events and fans them out to connected SSE clients.

    ``ring_size``: events kept per party for catch-up, and ``ring_bytes`` the most characters of
    their texts (the oldest leave first);
    ``backlog_events``: events a client may have waiting to be sent before it is cut, and
    ``backlog_bytes`` the most characters of them;
    ``send_timeout_s``: longest a send may wait for the client to read before it is cut;
    ``across_processes``: clients may resume here with tags another API process sent (several API
    processes on one bus; see the module docstring), with ``resume_margin_s`` of events resent
    before the resume point; ``view``: what a party is shown of an event (the policy's).
    """

    def __init__(
        self,
        ring_size: int = 10_000,
        backlog_events: int = 10_000,
        send_timeout_s: float = 30.0,
        *,
        across_processes: bool = False,
        resume_margin_s: float = 2.0,
        view: PartyView = party_event_view,
        ring_bytes: int = RING_BYTES,
        backlog_bytes: int = BACKLOG_BYTES,
    ) -> None:
        self._ring_size = ring_size
        self._ring_bytes = ring_bytes
        self.backlog_bytes = backlog_bytes
        self._rings: dict[str, _Ring] = {}
        self._across = across_processes
        self._margin_s = resume_margin_s
        self._view = view
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self.backlog_events = backlog_events
        self.send_timeout_s = send_timeout_s
        #: Clients cut for a full backlog or a send that timed out (not counting shutdown).
        self.cut_total = 0
        #: Each party's picture text of the latest tick, built once for all its connections.
        self._pictures = PictureTexts()

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """Metrics of the streams: open connections, the largest backlog, clients cut, the rings."""
        return {
            "stream_clients": lambda: len(self._connections),
            "stream_backlog_events_max": lambda: max((c.queue.qsize() for c in list(self._connections)), default=0),
            "stream_clients_cut_total": lambda: self.cut_total,
            "stream_ring_events": lambda: sum(len(ring.items) for ring in list(self._rings.values())),
            "stream_ring_bytes": lambda: sum(ring.text_bytes for ring in list(self._rings.values())),
            "stream_backlog_bytes_max": lambda: max(
                (c.backlog.queued_bytes for c in list(self._connections)), default=0
            ),
            **self._pictures.gauges(),
        }

    def on_event(self, event: Event) -> None:
        """Bus subscriber."""
        self.on_events((event,))

    def on_events(self, events: Sequence[Event]) -> None:
        """Bus subscriber for batches: each event shown to each party it concerns (views and tags made
        outside the lock), kept in their rings in order, handed to each connection's loop at once.

        The alerts and zone events of a batch go first, shown and handed over before the rest is even
        shown: a batch may also hold another party's bulky events (an activity batch of polygons of
        thousands of vertices, each view a JSON text of megabytes, seconds to render), and an alert
        must not wait for them. Each kind keeps its order; the order between kinds is not kept (it
        is not across processes either: the bus delivers in a slightly different order in each)."""
        urgent = [event for event in events if event.kind in URGENT_KINDS]
        if urgent and len(urgent) < len(events):
            self._show_and_offer(urgent)
            self._show_and_offer([event for event in events if event.kind not in URGENT_KINDS])
        else:
            self._show_and_offer(events)

    def _show_and_offer(self, events: Sequence[Event]) -> None:
        showings: list[tuple[Event, dict[str, tuple[str, str]]]] = []
        for event in events:
            per_party: dict[str, tuple[str, str]] = {}
            for party_id in sorted(event.parties):
                view = self._view(party_id, event)
                if view is not None:
                    per_party[party_id] = shown(party_id, event, view)
            showings.append((event, per_party))
        batch: list[tuple[Event, dict[str, _Item]]] = []
        with self._lock:
            now_s = time.monotonic()  # under the lock: arrival times rise with the rings' places
            for event, per_party in showings:
                items: dict[str, _Item] = {}
                for party_id, (tag, text) in per_party.items():
                    items[party_id] = self._keep(party_id, tag, text, now_s)
                batch.append((event, items))
            connections = list(self._connections)
        for conn in connections:
            if any(conn.party_id in items or revokes(event, conn.key_id) for event, items in batch):
                with contextlib.suppress(RuntimeError):  # that loop is closed already
                    conn.loop.call_soon_threadsafe(self._offer_all, conn, batch)

    def _keep(self, party_id: str, tag: str, text: str, now_s: float) -> _Item:
        """Keeps one event in the ring of ``party_id`` (under the lock)."""
        ring = self._rings.get(party_id)
        if ring is None:
            ring = self._rings[party_id] = _Ring(deque(maxlen=self._ring_size))
        item = _Item(ring.next_seq, tag, text, now_s)
        ring.next_seq += 1
        if len(ring.items) == ring.items.maxlen:
            ring.text_bytes -= len(ring.items[0].text)  # the append drops it
        ring.items.append(item)
        ring.text_bytes += len(text)
        while ring.text_bytes > self._ring_bytes and len(ring.items) > 1:
            ring.text_bytes -= len(ring.items.popleft().text)
        ring.by_tag.setdefault(tag, []).append(item.seq)
        ring.tagged += 1
        if ring.tagged > 2 * self._ring_size:
            ring.by_tag = {}
            for kept in ring.items:
                ring.by_tag.setdefault(kept.tag, []).append(kept.seq)
            ring.tagged = len(ring.items)
        return item

    def offer_picture(self) -> None:
        """A new tactical picture exists (a probe tick ended; any thread): each connection sends
        its view of it next, once, however many ticks passed since its last."""
        self._pictures.new_tick()
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

    def _offer_all(self, conn: _Connection, batch: list[tuple[Event, dict[str, _Item]]]) -> None:
        for event, items in batch:
            if conn.cut:
                return
            if revokes(event, conn.key_id):  # nothing after it reaches the revoked key
                self._end(conn)
                return
            item = items.get(conn.party_id)
            if item is None:
                continue
            size = len(item.text)
            if not conn.backlog.fits(conn.queue.qsize(), size):
                # A client too slow to keep up is cut off; it reconnects and catches up from the ring.
                self.cut_total += 1
                self._end(conn)
                return
            conn.backlog.add(size)
            conn.queue.put_nowait(item)

    def _missed(self, party_id: str, last_event_id: str | None) -> tuple[list[_Item], bool] | None:
        """(the events of ``party_id`` after ``last_event_id``, whether the client must reload), under
        the lock; None for a tag not in the ring that may still be on its way from another process.
        The ring's places are consecutive, so the resume point is found by index, not by a scan: a
        reconnecting client holds the lock (and the live events behind it) for what it missed, not
        for the ring."""
        if last_event_id is None:
            return [], False  # live only
        if last_event_id == FROM_OLDEST:
            kept = self._rings.get(party_id)
            everything = list(kept.items) if kept is not None else []
            return everything, bool(everything) and everything[0].seq > 1
        if _TAG.fullmatch(last_event_id) is None:
            return [], True  # not an id of ours: reload, then live
        ring = self._rings.get(party_id)
        point_seq = ring.place_of(last_event_id) if ring is not None else None
        if ring is None or point_seq is None:  # made up, another party's, or older than the ring: all alike
            return None if self._across else ([], True)
        items = ring.items
        index = point_seq - items[0].seq
        if not self._across:  # the order the client saw: exactly what came after
            return list(itertools.islice(items, index + 1, None)), False
        since_s = items[index].arrived_s - self._margin_s
        first = index  # the events that arrived within the margin before the point: resent too
        while first > 0 and items[first - 1].arrived_s >= since_s:
            first -= 1
        return [*itertools.islice(items, first, index), *itertools.islice(items, index + 1, None)], False

    async def stream(
        self,
        party_id: str,
        last_event_id: str | None,
        *,
        once: bool = False,
        picture: PictureView | None = None,
        key_id: str | None = None,
    ) -> AsyncGenerator[str, None]:
        """SSE text for one client of ``party_id``: the missed events after ``last_event_id`` (a tag
        as sent, or ``FROM_OLDEST``), then live ones, and (with ``picture``) the tactical picture
        after each tick. The revocation of ``key_id`` (the client's key) ends it at once.

        With ``once`` the stream ends after the missed events (a poll).
        """
        conn = _Connection(
            asyncio.get_running_loop(),
            asyncio.Queue(),
            Backlog(self.backlog_events, self.backlog_bytes),
            party_id,
            task=asyncio.current_task(),
            key_id=key_id,
        )
        deadline_s = time.monotonic() + self._margin_s
        while True:
            with self._lock:
                missed = self._missed(party_id, last_event_id)
                if missed is not None or time.monotonic() >= deadline_s:
                    backlog, reload = missed if missed is not None else ([], True)
                    self._connections.add(conn)
                    break
            await asyncio.sleep(0.05)  # another process's event, not here yet: wait a moment for the bus
        try:
            yield "retry: 2000\nevent: hello\ndata: {}\n\n"
            if reload:
                yield f"event: reload\ndata: {json.dumps({'reason': _reload_reason(last_event_id)})}\n\n"
            for missed_item in backlog:
                yield missed_item.text
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
                    if picture is None:
                        continue
                    # One text a tick per party, built in a worker thread (JSON included), never on the loop.
                    text = await asyncio.to_thread(self._pictures.text, party_id, self._pictures.generation, picture)
                    if text is not None:  # sent after every tick, changed or not: a dead client is found by the write
                        yield text
                    continue
                conn.backlog.take(len(item.text))
                yield item.text
        finally:
            with self._lock:
                self._connections.discard(conn)
