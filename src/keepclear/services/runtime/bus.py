"""An in-process event bus and the wall clock: the two collaborators services are given."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keepclear.domain.events import Event
from keepclear.errors import StoreUnavailableError

_log = logging.getLogger("keepclear.bus")

#: Subscriber failures kept for inspection (older ones are only counted).
MAX_ERRORS_KEPT = 100
#: Seconds after a subscriber failure during which ``failing`` is true (health is degraded).
FAILING_WINDOW_S = 60.0
#: Seconds between tries of the events held for subscribers that met a store outage.
HELD_RETRY_S = 1.0
#: Held events handed to a subscriber that takes batches, a call.
HELD_BATCH_EVENTS = 2_000

Subscriber = Callable[[Event], None]
BatchSubscriber = Callable[[Sequence[Event]], None]


@dataclass(eq=False)
class _Queued:
    events: Sequence[Event]
    delivered: threading.Event | None
    live_done: bool = False


class EventBus:
    """Fans events out to every subscriber, in subscription order.

    A subscriber takes events one by one (``subscribe``) or whole published batches at once
    (``subscribe_batches``: the ledger, the hotline and the streams, which do per batch what they
    would otherwise do per event). Either way each subscriber sees every event, in publication order.
    A subscriber that raises does not stop the others; its error is logged, counted
    (``failures_total``, shown in ``/v1/metrics`` and ``/v1/health``) and the last ``MAX_ERRORS_KEPT``
    are kept in ``errors`` (with the first event of the batch it failed on).

    Delivery is synchronous on the publishing thread, until ``start_dispatching``: from then on a
    dispatcher thread delivers. ``publish`` still returns only once its events are delivered (a
    caller reads its own writes in the record), while ``publish_nowait`` returns at once, so the
    probe tick never waits for ledger entries and hotline posts; batches that queued up meanwhile
    are delivered together, and a batch larger than the dispatcher's chunk is delivered in chunks.
    Subscribers that only pass events on in memory (the streams) subscribe ``live``: the dispatcher
    gives them everything queued before each chunk of the others, so an alert reaches the liaison
    cells' streams at once even while a storm of alerts is being written to the record. Events
    published by a subscriber while it is being called are delivered at once, depth first, in both
    modes.

    A subscriber that raises ``StoreUnavailableError`` (the database is restarting, failing over, cut
    off) has not failed: the events it could not take are held for it, in order, and every event
    published for it after them waits behind them, so it sees them in publication order once the
    store answers. The held events are tried again every ``HELD_RETRY_S`` (by the dispatcher, or by
    the next delivery without one): an alert raised during an outage still reaches the record, its
    incident and the hotline afterwards. At most ``max_held_events`` are held in all; beyond, the
    oldest are dropped and counted (``events_held``, ``events_held_dropped_total``).

    Events from other processes (a bus that spans processes, ``nats_bus``) reach only the subscribers
    that asked for them (``remote=True``): those that keep this process's memory current (the unit
    directory, the zones, the live streams and sockets), never those that write to the store, which
    the publishing process did already. In one process there are none, and ``remote`` changes nothing.
    """

    def __init__(self, *, max_queued_events: int = 200_000, max_held_events: int = 200_000) -> None:
        self._subscribers: list[tuple[bool, bool, Callable[[Any], None]]] = []  # (batches, live, subscriber)
        self._remote: list[tuple[bool, bool, Callable[[Any], None]]] = []  # those that take remote events too
        self._lock = threading.Lock()
        self._errors: deque[tuple[Event, BaseException]] = deque(maxlen=MAX_ERRORS_KEPT)
        #: Subscriber calls that raised, since start.
        self.failures_total = 0
        self._last_failure_s: float | None = None
        self._max_queued_events = max_queued_events
        self._queue: deque[_Queued] = deque()
        self._queued_events = 0
        self._changed = threading.Condition()
        self._dispatcher: threading.Thread | None = None
        self._stopping = False
        self._yield_to: Callable[[], None] | None = None
        #: Events held for subscribers that met a store outage, by subscriber, oldest first.
        self._held: dict[Callable[[Any], None], tuple[bool, deque[Event]]] = {}
        self._held_events = 0
        self._max_held_events = max_held_events
        self.held_dropped_total = 0
        self._held_tried_s = -float("inf")
        self._retrying = threading.Lock()

    @property
    def errors(self) -> list[tuple[Event, BaseException]]:
        """The last ``MAX_ERRORS_KEPT`` subscriber failures, oldest first: (event, error)."""
        return list(self._errors)

    @property
    def failing(self) -> bool:
        """A subscriber failed within the last ``FAILING_WINDOW_S``."""
        last = self._last_failure_s
        return last is not None and time.monotonic() - last < FAILING_WINDOW_S

    def _failed(self, subscriber: Callable[[Any], None], event: Event, exc: BaseException) -> None:
        self._errors.append((event, exc))
        self.failures_total += 1
        self._last_failure_s = time.monotonic()
        name = getattr(subscriber, "__qualname__", type(subscriber).__name__)
        _log.error("event subscriber %s failed on %s: %s: %s", name, event.kind, type(exc).__name__, exc)

    def subscribe(self, subscriber: Subscriber, *, remote: bool = False, local: bool = True) -> None:
        """Call ``subscriber`` with every event emitted from now on (``remote``: other processes' too;
        ``local=False``: only theirs, for what this process learns of another's writes)."""
        with self._lock:
            if local:
                self._subscribers.append((False, False, subscriber))
            if remote:
                self._remote.append((False, False, subscriber))

    def subscribe_batches(self, subscriber: BatchSubscriber, *, live: bool = False, remote: bool = False) -> None:
        """Call ``subscriber`` with every batch published from now on (a single ``emit`` is a batch of one).

        ``live``: the subscriber only hands events on in memory and is served ahead of the others
        (see the class docstring); it must be quick and must not publish. ``remote``: it is given the
        events other processes published as well (see the class docstring).
        """
        with self._lock:
            self._subscribers.append((True, live, subscriber))
            if remote:
                self._remote.append((True, live, subscriber))

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """Counters of the bus itself for ``/v1/metrics``."""
        return {"events_held": lambda: self._held_events, "events_held_dropped_total": lambda: self.held_dropped_total}

    @property
    def held_events(self) -> int:
        """Events held for subscribers that met a store outage."""
        return self._held_events

    def _hold(self, subscriber: Callable[[Any], None], takes_batches: bool, events: Sequence[Event]) -> None:
        """Put ``events`` behind what ``subscriber`` holds (bounded in all by ``max_held_events``)."""
        with self._lock:
            held = self._held.setdefault(subscriber, (takes_batches, deque()))[1]
            held.extend(events)
            self._held_events += len(events)
            dropped = 0
            while self._held_events > self._max_held_events and held:
                held.popleft()
                self._held_events -= 1
                dropped += 1
            self.held_dropped_total += dropped
        if dropped:
            _log.error("%d events held through a store outage dropped (%d in all)", dropped, self.held_dropped_total)

    def _holds(self, subscriber: Callable[[Any], None]) -> bool:
        with self._lock:
            return subscriber in self._held

    def retry_held(self, *, force: bool = False) -> None:
        """Hand the held events to their subscribers again, oldest first, at most every ``HELD_RETRY_S``
        (``force``: now); a subscriber that still meets the outage keeps the rest."""
        if not self._held or not (force or time.monotonic() - self._held_tried_s >= HELD_RETRY_S):
            return
        if not self._retrying.acquire(blocking=False):
            return  # another thread is at it
        try:
            self._held_tried_s = time.monotonic()
            with self._lock:
                waiting = list(self._held)
            for subscriber in waiting:
                self._retry(subscriber)
        finally:
            self._retrying.release()

    def _retry(self, subscriber: Callable[[Any], None]) -> None:
        while True:
            with self._lock:
                takes_batches, held = self._held[subscriber]
                if not held:
                    del self._held[subscriber]
                    _log.warning("events held through a store outage are delivered again")
                    return
                count = min(len(held), HELD_BATCH_EVENTS) if takes_batches else 1
                events = [held[i] for i in range(count)]
            try:
                subscriber(events if takes_batches else events[0])
            except StoreUnavailableError:
                return  # still away: kept, tried again later
            except Exception as exc:  # a failure of its own: counted, as any delivery's
                self._failed(subscriber, events[0], exc)
            with self._lock:
                for _ in range(count):
                    held.popleft()
                self._held_events -= count

    def close(self) -> None:
        """Release what the bus holds (nothing in one process)."""

    def deliver_remote(self, events: Sequence[Event]) -> None:
        """Hand ``events`` another process published to the ``remote`` subscribers, live ones first,
        on the calling thread (a bus that spans processes calls this; the in-process bus never does)."""
        self._deliver(events, (True, False), remote=True)

    @property
    def queued_events(self) -> int:
        """Events waiting for the dispatcher."""
        return self._queued_events

    @property
    def max_queued_events(self) -> int:
        """Events that may wait for the dispatcher before publishers wait (``event_queue_events``)."""
        return self._max_queued_events

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber."""
        self.publish((event,))

    def publish(self, events: Sequence[Event]) -> None:
        """Deliver ``events``, in order, to every subscriber; returns once they are delivered."""
        queued = self._enqueue(events, wait=True)
        if queued is not None and queued.delivered is not None:
            queued.delivered.wait()

    def publish_nowait(self, events: Sequence[Event]) -> None:
        """Hand ``events`` over for delivery without waiting for it (synchronous without a dispatcher).

        When ``max_queued_events`` are already waiting this blocks until the dispatcher catches up:
        memory stays bounded and the publisher slows down rather than the queue growing without end.
        """
        self._enqueue(events, wait=False)

    def _enqueue(self, events: Sequence[Event], *, wait: bool) -> _Queued | None:
        if not events:
            return None
        with self._changed:
            dispatching = self._dispatcher is not None and threading.current_thread() is not self._dispatcher
            if dispatching:
                if not wait:
                    while self._queued_events >= self._max_queued_events and self._dispatcher is not None:
                        self._changed.wait()
                queued = _Queued(events, threading.Event() if wait else None)
                self._queue.append(queued)
                self._queued_events += len(events)
                self._changed.notify_all()
                return queued
        self._deliver(events)
        return None

    def _deliver(
        self, events: Sequence[Event], lanes: tuple[bool, ...] = (True, False), *, remote: bool = False
    ) -> None:
        """Hand ``events`` to the subscribers of ``lanes`` (live, the others), in subscription order
        (``remote``: only those that take other processes' events)."""
        if not events:
            return
        with self._lock:
            chosen = self._remote if remote else self._subscribers
            subscribers = [(batches, s) for batches, live, s in chosen if live in lanes]
        yield_to = self._yield_to if False in lanes and threading.current_thread() is self._dispatcher else None
        if self._held and False in lanes:
            self.retry_held()
        for takes_batches, subscriber in subscribers:
            if yield_to is not None:
                yield_to()
            if self._held and self._holds(subscriber):  # behind what it holds: in publication order
                self._hold(subscriber, takes_batches, events)
                continue
            if takes_batches:
                try:
                    subscriber(events)
                except StoreUnavailableError as exc:
                    self._held_first(subscriber, True, events, exc)
                except Exception as exc:  # one broken consumer must not silence the rest
                    self._failed(subscriber, events[0], exc)
                continue
            for index, event in enumerate(events):
                try:
                    subscriber(event)
                except StoreUnavailableError as exc:
                    self._held_first(subscriber, False, events[index:], exc)
                    break
                except Exception as exc:
                    self._failed(subscriber, event, exc)

    def _held_first(
        self, subscriber: Callable[[Any], None], takes_batches: bool, events: Sequence[Event], exc: BaseException
    ) -> None:
        """``subscriber`` met a store outage on ``events``: held, and said once (not a trace a batch)."""
        self._hold(subscriber, takes_batches, events)
        name = getattr(subscriber, "__qualname__", type(subscriber).__name__)
        _log.warning("events for %s held until the store answers: %s", name, getattr(exc, "cause", exc))

    def start_dispatching(self, *, max_batch_events: int = 2_000, yield_to: Callable[[], None] | None = None) -> None:
        """Deliver on a dispatcher thread from now on (see the class docstring).

        Batches that queued up are delivered together up to ``max_batch_events``: large enough to
        make one transaction of many ledger entries, small enough that other writers (an
        acknowledgement, a hotline post) never wait long behind it. ``yield_to`` is called before
        each non-live subscriber's delivery and may block a moment: the probe's priority.
        """
        with self._changed:
            if self._dispatcher is not None:
                return
            self._stopping = False
            self._yield_to = yield_to
            self._dispatcher = threading.Thread(
                target=self._dispatch, args=(max_batch_events,), name="keepclear-events", daemon=True
            )
            self._dispatcher.start()

    def stop_dispatching(self) -> None:
        """Deliver whatever is queued, stop the dispatcher, and deliver synchronously again."""
        with self._changed:
            thread = self._dispatcher
            self._stopping = True
            self._changed.notify_all()
        if thread is not None:
            thread.join()

    def _dispatch(self, max_batch_events: int) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._stopping:
                    if not self._held:
                        self._changed.wait()
                    elif not self._changed.wait(HELD_RETRY_S) and not self._queue:
                        break  # a second with nothing new: try what a store outage left
                if not self._queue and self._stopping:
                    self._dispatcher = None
                    self._changed.notify_all()
                    return
                if not self._queue:
                    retry = True
                else:
                    retry = False
                    live = [e for queued in self._queue if not queued.live_done for e in queued.events]
                    for queued in self._queue:
                        queued.live_done = True
                    chunk, done = self._take_chunk(max_batch_events)
            if retry:
                self.retry_held()
                continue
            self._deliver(live, (True,))
            self._deliver(chunk, (False,))
            with self._changed:
                self._queued_events -= len(chunk)
                self._changed.notify_all()
            for queued in done:
                if queued.delivered is not None:
                    queued.delivered.set()

    def _take_chunk(self, max_batch_events: int) -> tuple[list[Event], list[_Queued]]:
        """Up to ``max_batch_events`` from the front of the queue (at least one batch, or the first
        ``max_batch_events`` of one too large) and the batches it completes. Holds ``_changed``."""
        head = self._queue[0]
        if len(head.events) > max_batch_events:
            self._queue[0] = _Queued(head.events[max_batch_events:], head.delivered, live_done=True)
            return list(head.events[:max_batch_events]), []
        done = [self._queue.popleft()]
        count = len(head.events)
        while self._queue and count + len(self._queue[0].events) <= max_batch_events:
            done.append(self._queue.popleft())
            count += len(done[-1].events)
        return [event for queued in done for event in queued.events], done


class WallClock:
    """The real clock, for the service and the CLI (never imported by domain, geo or detect)."""

    #: Clock seconds per wall second (clients such as the console extrapolate between readings).
    rate = 1.0

    def now_s(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        return time.time()


class ManualClock:
    """A clock tests and replays move by hand."""

    def __init__(self, start_s: float = 0.0, rate: float = 0.0) -> None:
        self._now_s = start_s
        #: Clock seconds per wall second while something moves it (a scenario played at ×60: 60.0);
        #: 0.0 while it stands still. Told to clients so they can run with it between readings.
        self.rate = rate

    def now_s(self) -> float:
        """The time last set."""
        return self._now_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now_s += seconds

    def set(self, time_s: float) -> None:
        """Jump to ``time_s``."""
        self._now_s = time_s
