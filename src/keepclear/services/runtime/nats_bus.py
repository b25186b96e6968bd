"""The event bus across processes: NATS JetStream carries each event to every other keepclear process.

``NatsBus`` is an ``EventBus`` (same subscribers, same local delivery) that also hands every event
published here to a JetStream stream, in its wire form (``domain.event_wire``) on the subject
``keepclear.events.<kind>`` with the event's stable id as ``Nats-Msg-Id``: a publish retried after a
lost acknowledgement (a node killed, a leader elected) is stored once. A run of events of one kind
published together goes as one message (a batch document, up to ``BATCH_EVENTS`` events or
``BATCH_BYTES``; its id a hash of theirs): the per-message cost of the client and the servers is
paid once for the run. Events other processes
published arrive through a durable pull consumer of this process (replicated like the stream, so it
survives the loss of a node) and are handed to the subscribers that take remote events
(``EventBus.deliver_remote``) once each: ids seen lately are remembered (a bounded set), so a
redelivered message is dropped and counted. Each message is acknowledged on its own once delivered:
a message the server sent into a fetch whose answer was lost (a node killed, the client
reconnecting) is delivered again after ``ack_wait_s``; acknowledging "all up to" a later one would
have acknowledged it unseen. A process never receives its own events (the
``Keepclear-Origin`` header names it).

What emitted an event, where the deployment's processes need to know it and no party may
(``Event.emitted_by``: the detector worker's share and run that raised an alert), goes as the
``Keepclear-Emitted-By`` header of its message, never in the document: a message carries events of
one emitter (a run is cut where it changes), and a receiver puts the header back on each event it
reads (``events_of_message``; so does a worker reading the stream back at its start). JetStream
stores the header with the message, so a redelivery and a reading back carry it too; the API
processes hand parties the documents' payloads only, so no stream, list, record entry or incident
shows it.

Publishing never waits for NATS: events wait in a bounded outgoing buffer that a task on the bus's
own thread (an asyncio loop) publishes from, retrying each until JetStream acknowledges it. When the
buffer is full (NATS unreachable for long) further events are not sent to other processes and are
counted (``bus_outgoing_dropped_total``): this process and the store carry on, and other processes
catch up from the store. ``close`` waits a moment for the buffer to empty. Events arrive in the
order published, except that one whose publish had to be retried (a node lost) may arrive after
those of the same window that were acknowledged at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from keepclear.domain.event_wire import batch_of_documents, event_to_json, events_from_json
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.services.runtime.bus import EventBus

__all__ = ["NatsBus", "SeenIds", "acknowledge_each", "events_of_message"]

_log = logging.getLogger("keepclear.bus.nats")
T = TypeVar("T")

#: The stream every process publishes to and consumes from.
STREAM = "KEEPCLEAR_EVENTS"
#: Subjects are ``<prefix>.<kind>``: ``keepclear.events.alert.raised``.
SUBJECT_PREFIX = "keepclear.events"
#: Names the publishing process on each message, so it skips its own.
ORIGIN_HEADER = "Keepclear-Origin"
#: What emitted the message's events (``Event.emitted_by``), on messages whose events say.
EMITTED_BY_HEADER = "Keepclear-Emitted-By"
#: How long the stream keeps events (seconds): catch-up past it is from the store.
STREAM_MAX_AGE_S = 3600.0
#: JetStream drops a repeated ``Nats-Msg-Id`` within this window (seconds).
DUPLICATE_WINDOW_S = 120.0
#: A consumer whose process went away is deleted after this long (seconds).
CONSUMER_INACTIVE_S = 300.0
#: Messages published concurrently, and fetched at once.
PUBLISH_WINDOW = 256
FETCH_BATCH = 256
#: At most this many events, and about this many bytes, in one message.
BATCH_EVENTS = 128
BATCH_BYTES = 256 * 1024
#: Seconds JetStream waits for a message's acknowledgement before it delivers the message again.
ACK_WAIT_S = 10.0
#: Seconds one publish or fetch may wait for NATS before it is tried again.
REQUEST_TIMEOUT_S = 2.0
RETRY_PAUSE_S = 0.1


class SeenIds:
    """The last ``capacity`` event ids seen, oldest forgotten first: ``add`` says whether it is new."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: must be at least 1, got {capacity}")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, event_id: str) -> bool:
        """Remember ``event_id``; True when it was not among those remembered."""
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def capacity(self) -> int:
        """The most ids remembered."""
        return self._capacity


class _Message(NamedTuple):
    """One message to publish: where, its bytes, its ``Nats-Msg-Id``, how many events it carries, and
    what emitted them (``Event.emitted_by``: its ``EMITTED_BY_HEADER``)."""

    subject: str
    data: bytes
    key: str
    events: int
    emitted_by: str | None = None

    def headers(self, origin: str) -> dict[str, str]:
        """The message's headers when published by the process ``origin``."""
        headers = {"Nats-Msg-Id": self.key, ORIGIN_HEADER: origin}
        if self.emitted_by is not None:
            headers[EMITTED_BY_HEADER] = self.emitted_by
        return headers


def events_of_message(data: bytes, headers: Mapping[str, str] | None) -> list[Event]:
    """The events a message's ``data`` carries, each with the ``emitted_by`` its ``headers`` name;
    ``ValidationError`` when the data does not read (``events_from_json``)."""
    events = events_from_json(data)
    emitted_by = (headers or {}).get(EMITTED_BY_HEADER)
    if emitted_by is None:
        return events
    return [dataclasses.replace(event, emitted_by=emitted_by) for event in events]


async def acknowledge_each(messages: Sequence[Msg]) -> int:
    """Acknowledge each of ``messages`` (explicit acknowledgement: a message lost on its way here
    stays unacknowledged and comes again); the number whose acknowledgement could not be sent (they
    come again after the consumer's ack wait, and are dropped then as repeats)."""
    failed = 0
    for message in messages:
        try:
            await message.ack()
        except Exception as exc:
            failed += 1
            _log.warning("acknowledging a message to JetStream failed: %r", exc)
    return failed


def subject_of(event: Event) -> str:
    """The subject ``event`` is published on."""
    return f"{SUBJECT_PREFIX}.{event.kind}"


class NatsBus(EventBus):
    """An ``EventBus`` whose events also reach every other process on the same JetStream (module docstring).

    ``servers``: NATS URLs (any node of the cluster; the client finds the others). ``replicas``: the
    stream's (and consumer's) replication, at most the number of nodes. ``max_outgoing_events``:
    events waiting to be sent. ``seen_ids``: event ids remembered to drop repeats. ``ack_wait_s``:
    how long a fetched message may go unacknowledged before JetStream sends it again. Connects in
    ``connect`` (the constructor starts nothing).
    """

    def __init__(
        self,
        servers: Sequence[str],
        *,
        max_queued_events: int = 200_000,
        replicas: int = 3,
        max_outgoing_events: int = 100_000,
        seen_ids: int = 100_000,
        connect_timeout_s: float = 10.0,
        ack_wait_s: float = ACK_WAIT_S,
    ) -> None:
        super().__init__(max_queued_events=max_queued_events)
        if not servers or not all(s.startswith(("nats://", "tls://")) for s in servers):
            raise ValueError(f"bus_url: expected nats://host:port[,nats://…], got {','.join(servers)!r}")
        if not 1 <= replicas <= 5:
            raise ValueError(f"bus_replicas: must be 1 to 5, got {replicas}")
        if max_outgoing_events < 1:
            raise ValueError(f"bus_outgoing_events: must be at least 1, got {max_outgoing_events}")
        self.servers = tuple(servers)
        self.replicas = replicas
        self.origin = uuid.uuid4().hex
        self._max_outgoing = max_outgoing_events
        self._connect_timeout_s = connect_timeout_s
        self._ack_wait_s = ack_wait_s
        self._seen = SeenIds(seen_ids)
        self._outgoing: deque[Event] = deque()
        self._outgoing_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None  # made in ``connect``
        self._thread: threading.Thread | None = None
        self._nc: NatsClient | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        #: Events JetStream acknowledged (stored once; a repeat it dropped counts too).
        self.published_total = 0
        #: Other processes' events handed to the remote subscribers.
        self.delivered_total = 0
        #: Received events dropped because their id was seen already (a redelivery, a retried publish).
        self.duplicates_dropped_total = 0
        #: Publish attempts and fetches that failed (each is retried), and messages that did not read.
        self.bus_failures_total = 0
        #: Events not sent to other processes because the outgoing buffer was full.
        self.outgoing_dropped_total = 0

    # -- life -----------------------------------------------------------------------------
    def connect(self) -> NatsBus:
        """Connect, make the stream and this process's consumer, and start sending and receiving.
        Raises ``ConnectionError`` when no server answers within ``connect_timeout_s``."""
        self._loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="keepclear-nats", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), loop)
        try:
            future.result(timeout=self._connect_timeout_s + 2 * REQUEST_TIMEOUT_S)
        except Exception as exc:
            future.cancel()
            with contextlib.suppress(Exception):  # let the cancelled start unwind before the loop stops
                asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(timeout=1.0)
            self._stop_loop()
            raise ConnectionError(f"bus_url: cannot use JetStream at {','.join(self.servers)}: {exc!r}") from exc
        return self

    async def _start(self) -> None:
        self._wake = asyncio.Event()
        self._nc = await nats.connect(
            servers=list(self.servers),
            connect_timeout=self._connect_timeout_s,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            allow_reconnect=True,
        )
        js = self._nc.jetstream(timeout=REQUEST_TIMEOUT_S)
        try:
            await js.stream_info(STREAM)
        except NotFoundError:
            await js.add_stream(
                name=STREAM,
                subjects=[f"{SUBJECT_PREFIX}.>"],
                num_replicas=self.replicas,
                max_age=STREAM_MAX_AGE_S,
                duplicate_window=DUPLICATE_WINDOW_S,
            )
        consumer = js_api.ConsumerConfig(
            deliver_policy=js_api.DeliverPolicy.NEW,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            inactive_threshold=CONSUMER_INACTIVE_S,
            num_replicas=self.replicas,
        )
        pull = await js.pull_subscribe(
            f"{SUBJECT_PREFIX}.>", durable=f"keepclear-{self.origin}", stream=STREAM, config=consumer
        )
        self._tasks = [
            asyncio.create_task(self._send_loop(js), name="keepclear-nats-send"),
            asyncio.create_task(self._receive_loop(pull), name="keepclear-nats-receive"),
        ]

    def close(self, timeout_s: float = 5.0) -> None:
        """Wait up to ``timeout_s`` for the outgoing buffer to empty, then disconnect."""
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._close(timeout_s), self._loop)
        try:
            future.result(timeout=timeout_s + 5.0)
        except Exception:  # closing anyway: what was not sent is counted in the gauges
            _log.exception("closing the NATS bus")
        self._stop_loop()

    async def _close(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.outgoing_events and loop.time() < deadline:
            await asyncio.sleep(0.02)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None:
            await self._nc.close()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5.0)
        if not thread.is_alive():
            loop.close()
        self._thread = self._loop = None

    def call(self, make: Callable[[NatsClient], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run ``make(client)`` on the bus's loop with its connection (the track subjects share it):
        a future of its result. Raises ``RuntimeError`` before ``connect``."""
        if self._loop is None or self._nc is None:
            raise RuntimeError("the NATS bus is not connected")
        return asyncio.run_coroutine_threadsafe(make(self._nc), self._loop)

    # -- publishing -----------------------------------------------------------------------
    def publish(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` here (as ``EventBus.publish``) and send them to the other processes."""
        self._send(events)
        super().publish(events)

    def publish_nowait(self, events: Sequence[Event]) -> None:
        """As ``EventBus.publish_nowait``, and send ``events`` to the other processes."""
        self._send(events)
        super().publish_nowait(events)

    def _send(self, events: Sequence[Event]) -> None:
        if not events:
            return
        events = [event for event in events if self._remember(event)]
        with self._outgoing_lock:
            room = self._max_outgoing - len(self._outgoing)
            self._outgoing.extend(events[: max(room, 0)])
            if room < len(events):
                self.outgoing_dropped_total += len(events) - max(room, 0)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # closed meanwhile: counted as not sent by ``close``
                loop.call_soon_threadsafe(wake.set)

    def _remember(self, event: Event) -> bool:
        """Remember ``event``'s id (coming back from another process it is a repeat); False when it has
        none (a payload that is not JSON, a NaN say): it is delivered here only, logged and counted."""
        try:
            self._seen.add(event.id)
        except (TypeError, ValueError) as exc:
            self.bus_failures_total += 1
            _log.error("event %s has no wire form, not sent to other processes: %s", event.kind, exc)
            return False
        return True

    def wait_sent(self, timeout_s: float = 5.0) -> bool:
        """Wait until every event published so far is acknowledged by JetStream (True), or
        ``timeout_s`` passed (False): what a process hands over must be on the stream first."""
        deadline_s = time.monotonic() + timeout_s
        while self._outgoing:
            if time.monotonic() >= deadline_s:
                return False
            time.sleep(0.01)
        return True

    @property
    def outgoing_events(self) -> int:
        """Events waiting to be acknowledged by JetStream."""
        return len(self._outgoing)

    async def _send_loop(self, js: nats.js.JetStreamContext) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outgoing:
                with self._outgoing_lock:
                    window = [self._outgoing[k] for k in range(min(PUBLISH_WINDOW, len(self._outgoing)))]
                await self._publish_window(js, window)
                with self._outgoing_lock:
                    for _ in window:
                        self._outgoing.popleft()

    async def _publish_window(self, js: nats.js.JetStreamContext, window: list[Event]) -> None:
        """Publish ``window`` concurrently, runs of one kind as one message each; whatever was not
        acknowledged is sent again until it is (an event without a wire form is logged and counted,
        never retried)."""
        pending = self._messages(window)
        while pending:
            results = await asyncio.gather(*(self._publish_one(js, m) for m in pending), return_exceptions=True)
            failed = [m for m, result in zip(pending, results, strict=True) if isinstance(result, BaseException)]
            self.published_total += sum(m.events for m in pending) - sum(m.events for m in failed)
            if failed:
                self.bus_failures_total += len(failed)
                _log.warning("JetStream did not acknowledge %d messages; sending them again", len(failed))
                await asyncio.sleep(RETRY_PAUSE_S)
            pending = failed

    def _messages(self, window: list[Event]) -> list[_Message]:
        """``window`` as messages in order: each run of events of one kind and one emitter
        (``Event.emitted_by``) cut at ``BATCH_EVENTS``/``BATCH_BYTES``, a run of one as the plain
        event document."""
        wired, seen = [], set()
        for event in window:
            w = self._wire(event)
            if w is not None and w[1] not in seen:  # the same event twice in a window goes once
                seen.add(w[1])
                wired.append(w)
        messages: list[_Message] = []
        run: list[tuple[Event, bytes]] = []
        run_bytes = 0

        def flush() -> None:
            if len(run) == 1:
                event, data = run[0]
                messages.append(_Message(subject_of(event), data, event.id, 1, event.emitted_by))
            elif run:
                # the documents' bytes name their events (each holds its id): their hash names the batch
                documents = [data for _, data in run]
                key = "batch-" + hashlib.sha256(b"\n".join(documents)).hexdigest()[:32]
                first = run[0][0]
                batch = batch_of_documents(documents)
                messages.append(_Message(subject_of(first), batch, key, len(run), first.emitted_by))
            run.clear()

        for event, data in wired:
            if run and (
                run[0][0].kind != event.kind
                or run[0][0].emitted_by != event.emitted_by
                or len(run) >= BATCH_EVENTS
                or run_bytes + len(data) > BATCH_BYTES
            ):
                flush()
                run_bytes = 0
            run.append((event, data))
            run_bytes += len(data)
        flush()
        return messages

    def _wire(self, event: Event) -> tuple[Event, bytes] | None:
        try:
            return event, event_to_json(event).encode()
        except (TypeError, ValueError) as exc:  # not JSON (a NaN in a payload): other processes never get it
            self.bus_failures_total += 1
            _log.error("event %s %s has no wire form: %s", event.kind, event.id, exc)
            return None

    async def _publish_one(self, js: nats.js.JetStreamContext, message: _Message) -> None:
        # Pipelined: the window's messages go out at once, their acknowledgements are awaited together.
        acknowledged = await js.publish_async(
            message.subject, message.data, wait_stall=REQUEST_TIMEOUT_S, headers=message.headers(self.origin)
        )
        await asyncio.wait_for(acknowledged, REQUEST_TIMEOUT_S)

    # -- receiving ------------------------------------------------------------------------
    async def _receive_loop(self, pull: nats.js.JetStreamContext.PullSubscription) -> None:
        while not self._closing:  # checked, not only cancelled: a fetch may swallow its cancellation
            try:
                messages = await pull.fetch(FETCH_BATCH, timeout=1.0)
            except NatsTimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node went away: the client reconnects, the fetch is tried again
                if self._closing:
                    return
                self.bus_failures_total += 1
                _log.warning("fetching events from JetStream failed: %r", exc)
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            fresh = [event for message in messages for event in self._read(message)]
            if fresh:
                await asyncio.get_running_loop().run_in_executor(None, self.deliver_remote, fresh)
                self.delivered_total += len(fresh)
            self.bus_failures_total += await acknowledge_each(messages)

    def _read(self, message: Msg) -> list[Event]:
        """The events ``message`` carries when another process sent it, less those seen already."""
        if (message.headers or {}).get(ORIGIN_HEADER) == self.origin:
            return []
        try:
            events = events_of_message(message.data, message.headers)
        except ValidationError as exc:
            self.bus_failures_total += 1
            _log.error("events on %s do not read: %s", message.subject, exc)
            return []
        fresh = [event for event in events if self._seen.add(event.id)]
        self.duplicates_dropped_total += len(events) - len(fresh)
        return fresh

    # -- metrics --------------------------------------------------------------------------
    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """The bus's counters for ``/v1/metrics``: the in-process bus's (events held through a store
        outage) and those of the way to the other processes."""
        return {
            **super().gauges(),
            "bus_seen_ids": lambda: len(self._seen),
            "bus_seen_ids_limit": lambda: self._seen.capacity,
            "bus_published_total": lambda: self.published_total,
            "bus_delivered_total": lambda: self.delivered_total,
            "bus_duplicates_dropped_total": lambda: self.duplicates_dropped_total,
            "bus_failures_total": lambda: self.bus_failures_total,
            "bus_outgoing_events": lambda: self.outgoing_events,
            "bus_outgoing_limit": lambda: self._max_outgoing,
            "bus_outgoing_dropped_total": lambda: self.outgoing_dropped_total,
        }
