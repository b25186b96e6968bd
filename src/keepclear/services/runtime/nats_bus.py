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
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api as js_api

from keepclear.domain.event_wire import event_to_json
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.services.runtime.bus import EventBus
from keepclear.services.runtime.jetstream import connected, ensure_stream, publish_each, until_answered
from keepclear.services.runtime.log_every import RepeatedWarning
from keepclear.services.runtime.nats_messages import (
    ORIGIN_HEADER,
    STREAM,
    SUBJECT_PREFIX,
    Message,
    SeenIds,
    acknowledge_each,
    events_of_message,
    messages_of,
)

__all__ = ["NatsBus"]

_log = logging.getLogger("keepclear.bus.nats")
T = TypeVar("T")

#: How long the stream keeps events (seconds): catch-up past it is from the store.
STREAM_MAX_AGE_S = 3600.0
#: JetStream drops a repeated ``Nats-Msg-Id`` within this window (seconds).
DUPLICATE_WINDOW_S = 120.0
#: A consumer whose process went away is deleted after this long (seconds).
CONSUMER_INACTIVE_S = 300.0
#: Messages published concurrently, and fetched at once.
PUBLISH_WINDOW = 256
FETCH_BATCH = 256
#: Seconds JetStream waits for a message's acknowledgement before it delivers the message again.
ACK_WAIT_S = 10.0
#: Seconds one publish or fetch may wait for NATS before it is tried again.
REQUEST_TIMEOUT_S = 2.0
#: Seconds a starting process waits for JetStream to serve the stream and its consumer (a cluster
#: started with it, or electing leaders).
JETSTREAM_READY_S = 30.0
RETRY_PAUSE_S = 0.1


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
        self._publish_warning = RepeatedWarning(_log)
        self._fetch_warning = RepeatedWarning(_log)
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
            future.result(timeout=self._connect_timeout_s + JETSTREAM_READY_S + 2 * REQUEST_TIMEOUT_S)
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
        # A cluster started with this process may not serve JetStream yet: asked again until it does.
        deadline = time.monotonic() + JETSTREAM_READY_S
        await until_answered(
            lambda: ensure_stream(js, STREAM, SUBJECT_PREFIX, self.replicas, STREAM_MAX_AGE_S, DUPLICATE_WINDOW_S),
            deadline,
        )
        consumer = js_api.ConsumerConfig(
            deliver_policy=js_api.DeliverPolicy.NEW,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            inactive_threshold=CONSUMER_INACTIVE_S,
            num_replicas=self.replicas,
        )
        pull = await until_answered(
            lambda: js.pull_subscribe(
                f"{SUBJECT_PREFIX}.>", durable=f"keepclear-{self.origin}", stream=STREAM, config=consumer
            ),
            deadline,
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
        assert self._nc is not None
        pending = self._messages(window)
        while pending:
            results = await publish_each(
                self._nc,
                js,
                [(m.subject, m.data, m.headers(self.origin)) for m in pending],
                REQUEST_TIMEOUT_S,
                RETRY_PAUSE_S,
            )
            failed = [m for m, result in zip(pending, results, strict=True) if result is not None]
            self.published_total += sum(m.events for m in pending) - sum(m.events for m in failed)
            if failed:
                self.bus_failures_total += len(failed)
                first = next(r for r in results if r is not None)
                self._publish_warning(
                    "JetStream did not acknowledge %d messages (%r); sending them again", len(failed), first
                )
                await asyncio.sleep(RETRY_PAUSE_S)
            pending = failed

    def _messages(self, window: list[Event]) -> list[Message]:
        """``window`` as messages in order (``messages_of``); an event without a wire form left out."""
        return messages_of([w for w in map(self._wire, window) if w is not None])

    def _wire(self, event: Event) -> tuple[Event, bytes] | None:
        try:
            return event, event_to_json(event).encode()
        except (TypeError, ValueError) as exc:  # not JSON (a NaN in a payload): other processes never get it
            self.bus_failures_total += 1
            _log.error("event %s %s has no wire form: %s", event.kind, event.id, exc)
            return None

    # -- receiving ------------------------------------------------------------------------
    async def _receive_loop(self, pull: nats.js.JetStreamContext.PullSubscription) -> None:
        assert self._nc is not None
        while not self._closing:  # checked, not only cancelled: a fetch may swallow its cancellation
            try:
                await connected(self._nc, RETRY_PAUSE_S)
                messages = await pull.fetch(FETCH_BATCH, timeout=1.0)
            except NatsTimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node went away: the client reconnects, the fetch is tried again
                if self._closing:
                    return
                self.bus_failures_total += 1
                self._fetch_warning("fetching events from JetStream failed: %r", exc)
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
