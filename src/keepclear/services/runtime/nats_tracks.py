"""Track reports by cell over NATS JetStream: API processes publish, detector workers consume (issue 20).

The stream ``KEEPCLEAR_TRACKS`` holds ``keepclear.tracks.<cell>`` and ``keepclear.tracks.wide``
(``services.tactical.track_wire``), replicated like the event stream and kept ``TRACK_MAX_AGE_S``
(the longest a report stays in a track table, the stale age of land and sea units: an older one
changes no picture). ``TrackPublisher`` is a consumer of the ingest pump: it publishes each chunk's
reports by cell and returns once JetStream has acknowledged every message (retrying until it does;
meanwhile the ingest queue fills and feeds get 429, as when the probe falls behind). ``TrackFeed``
is one worker's durable pull consumer of its cells' and halo's subjects: it hands the reports to
the worker and acknowledges them once taken, so a worker restarted under the same name resumes
after the last report it took (what it had not acknowledged comes again; the track table ignores a
report it has). ``TrackPicture`` is an API process's ordered consumer of every subject: it takes the
reports the other API processes accepted into its own track table, so every process has the picture.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import logging
from collections.abc import Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError

from keepclear.detect.cells import CellPlan
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.services.runtime.jetstream import connected, ensure_stream, publish_each
from keepclear.services.runtime.log_every import RepeatedWarning
from keepclear.services.runtime.nats_bus import NatsBus
from keepclear.services.runtime.nats_messages import ORIGIN_HEADER, acknowledge_each, events_of_message
from keepclear.services.runtime.nats_messages import STREAM as EVENTS_STREAM
from keepclear.services.runtime.nats_messages import SUBJECT_PREFIX as EVENTS_PREFIX
from keepclear.services.tactical.track_wire import (
    WIDE,
    message_key,
    reports_from_bytes,
    reports_to_bytes,
    split_by_cell,
)
from keepclear.services.tactical.tracks import ReportColumns

__all__ = [
    "TRACK_PREFIX",
    "TRACK_STREAM",
    "TrackFeed",
    "TrackPicture",
    "TrackPublisher",
    "drain_alert_events",
    "recent_alert_events",
    "track_subjects",
]

_log = logging.getLogger("keepclear.tracks.nats")

TRACK_STREAM = "KEEPCLEAR_TRACKS"
TRACK_PREFIX = "keepclear.tracks"
#: Seconds the stream keeps a report (the longest stale age, land and sea).
TRACK_MAX_AGE_S = 600.0
DUPLICATE_WINDOW_S = 120.0
#: A worker's consumer outlives its process this long (seconds): a restart within it resumes.
FEED_INACTIVE_S = 3600.0
#: Seconds JetStream waits for a worker's acknowledgement before it delivers a message again.
FEED_ACK_WAIT_S = 30.0
FETCH_BATCH = 64
REQUEST_TIMEOUT_S = 2.0
#: Seconds a stream's or consumer's creation may take (a cluster just formed, a leader being elected).
MANAGE_TIMEOUT_S = 10.0
RETRY_PAUSE_S = 0.2


def track_subjects(cells: Sequence[int], cell_count: int) -> list[str]:
    """The subjects a worker whose view holds ``cells`` (of the ``cell_count`` of the grid) consumes:
    theirs and the wide units', or every subject at once when its view is the whole globe."""
    if len(set(cells)) >= cell_count:
        return [f"{TRACK_PREFIX}.>"]
    return [f"{TRACK_PREFIX}.{int(c)}" for c in cells] + [f"{TRACK_PREFIX}.{WIDE}"]


async def _ensure_stream(js: nats.js.JetStreamContext, replicas: int) -> None:
    await ensure_stream(js, TRACK_STREAM, TRACK_PREFIX, replicas, TRACK_MAX_AGE_S, DUPLICATE_WINDOW_S)


class TrackPublisher:
    """Publishes the reports the ingest pump moves, by cell (module docstring); a ``TrackConsumer``."""

    def __init__(self, bus: NatsBus, plan: CellPlan, *, replicas: int = 3) -> None:
        self._bus = bus
        self._plan = plan
        self._replicas = replicas
        self._ready = False
        self._warning = RepeatedWarning(_log)
        #: Reports and messages JetStream acknowledged; publishes that failed and were retried.
        self.reports_published_total = 0
        self.messages_published_total = 0
        self.publish_failures_total = 0

    def __call__(self, batches: list[ReportColumns]) -> None:
        """Publish ``batches`` and return once all are acknowledged: the chunk's reports as one
        message a cell (fewer, larger messages than a message a cell of each batch; a unit's
        reports stay in their order)."""
        messages = [
            (f"{TRACK_PREFIX}.{suffix}", reports_to_bytes(part), len(part))
            for suffix, parts in split_by_cell(self._plan, ReportColumns.joined(batches)).items()
            for part in parts
        ]
        if messages:
            self._bus.call(lambda nc: self._publish(nc, messages)).result()

    async def _publish(self, nc: NatsClient, messages: list[tuple[str, bytes, int]]) -> None:
        js = nc.jetstream(timeout=REQUEST_TIMEOUT_S)
        origin = self._bus.origin  # this process's own picture has the reports (``TrackPicture`` skips them)
        pending = messages
        while pending:
            try:
                if not self._ready:
                    await _ensure_stream(js, self._replicas)
                    self._ready = True
                results = await publish_each(
                    nc,
                    js,
                    [
                        (subject, data, {"Nats-Msg-Id": message_key(data), ORIGIN_HEADER: origin})
                        for subject, data, _ in pending
                    ],
                    REQUEST_TIMEOUT_S,
                    RETRY_PAUSE_S,
                )
            except Exception as exc:  # the stream could not be made now: all again after a pause
                results = [exc] * len(pending)
            failed = []
            for message, result in zip(pending, results, strict=True):
                if result is not None:
                    failed.append(message)
                else:
                    self.messages_published_total += 1
                    self.reports_published_total += message[2]
            if failed:
                self.publish_failures_total += len(failed)
                self._warning("%d track messages not acknowledged; sent again", len(failed))
                await asyncio.sleep(RETRY_PAUSE_S)
            pending = failed

    def gauges(self) -> dict[str, Callable[[], float]]:
        """Counters for ``/v1/metrics``."""
        return {
            "tracks_published_total": lambda: self.reports_published_total,
            "track_messages_published_total": lambda: self.messages_published_total,
            "track_publish_failures_total": lambda: self.publish_failures_total,
        }


class TrackFeed:
    """One worker's durable consumer ``keepclear-detect-<name>`` of ``subjects`` (module docstring).

    ``take`` is called with each fetched batch's reports, on a thread of the bus's executor, before
    the batch's messages are acknowledged, each on its own. A consumer left by an earlier run with
    other subjects (its cells were reassigned) or acknowledging "all up to" a message (an older
    version) is made again.
    """

    def __init__(
        self,
        bus: NatsBus,
        name: str,
        subjects: Sequence[str],
        take: Callable[[list[ReportColumns]], None],
        *,
        replicas: int = 3,
    ) -> None:
        self._bus = bus
        self.durable = f"keepclear-detect-{name}"
        self._subjects = list(subjects)
        self._take = take
        self._replicas = replicas
        self._task: asyncio.Task[None] | None = None
        self._warning = RepeatedWarning(_log)
        #: Messages and reports taken, messages that did not read, fetches that failed.
        self.messages_total = 0
        self.reports_total = 0
        self.bad_messages_total = 0
        self.failures_total = 0

    def start(self, timeout_s: float = 4 * MANAGE_TIMEOUT_S) -> TrackFeed:
        """Make (or find) the consumer and start taking reports; raises ``ConnectionError`` if JetStream
        does not answer within ``timeout_s``."""
        future = self._bus.call(self._start)
        try:
            future.result(timeout=timeout_s)
        except Exception as exc:
            future.cancel()  # a start still under way must not start a second reader later
            raise ConnectionError(f"cannot consume the track subjects: {exc!r}") from exc
        return self

    async def _start(self, nc: NatsClient) -> None:
        js = nc.jetstream(timeout=MANAGE_TIMEOUT_S)
        await _ensure_stream(js, self._replicas)
        config = js_api.ConsumerConfig(
            durable_name=self.durable,
            filter_subjects=self._subjects,
            deliver_policy=js_api.DeliverPolicy.ALL,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=FEED_ACK_WAIT_S,
            inactive_threshold=FEED_INACTIVE_S,
            num_replicas=self._replicas,
        )
        try:
            info = await js.consumer_info(TRACK_STREAM, self.durable)
            subjects = sorted(info.config.filter_subjects or [info.config.filter_subject or ""])
            if subjects != sorted(self._subjects) or info.config.ack_policy != js_api.AckPolicy.EXPLICIT:
                await js.delete_consumer(TRACK_STREAM, self.durable)
                raise NotFoundError
        except NotFoundError:
            with contextlib.suppress(BadRequestError):  # made meanwhile by a twin: use it
                await js.add_consumer(TRACK_STREAM, config)
        pull = await js.pull_subscribe_bind(durable=self.durable, stream=TRACK_STREAM)
        self._task = asyncio.create_task(self._run(nc, pull), name=f"keepclear-feed-{self.durable}")

    async def _run(self, nc: NatsClient, pull: nats.js.JetStreamContext.PullSubscription) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await connected(nc, RETRY_PAUSE_S)
                messages = await pull.fetch(FETCH_BATCH, timeout=1.0)
            except NatsTimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node lost, the connection moving: fetch again
                self.failures_total += 1
                self._warning("fetching track reports failed: %r", exc)
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            if not messages:
                continue
            batches = []
            for message in messages:
                try:
                    batches.append(reports_from_bytes(message.data))
                except ValidationError as exc:
                    self.bad_messages_total += 1
                    _log.error("track reports on %s do not read: %s", message.subject, exc)
            if batches:
                try:
                    await loop.run_in_executor(None, self._take, batches)
                except Exception:  # logged and counted; acknowledged still: it would fail each time again
                    self.failures_total += 1
                    _log.exception("taking %d track messages failed", len(batches))
            self.messages_total += len(messages)
            self.reports_total += sum(len(b) for b in batches)
            # each on its own: one lost on its way here comes again (the table ignores repeats)
            self.failures_total += await acknowledge_each(messages)

    def stop(self) -> None:
        """Stop taking reports (the consumer stays, for the next run)."""
        task = self._task
        if task is not None:
            self._bus.call(lambda _nc: _cancel(task)).result(timeout=5.0)
            self._task = None

    def gauges(self) -> dict[str, Callable[[], float]]:
        """Counters for the worker's status."""
        return {
            "feed_messages_total": lambda: self.messages_total,
            "feed_reports_total": lambda: self.reports_total,
            "feed_bad_messages_total": lambda: self.bad_messages_total,
            "feed_failures_total": lambda: self.failures_total,
        }


class TrackPicture:
    """An API process's share of the reports the other API processes accept (``detect_in_workers``).

    Each API process takes the reports it accepts into its own track table and publishes them by
    cell; this ordered (ephemeral, unacknowledged) consumer of every track subject hands ``take`` the
    messages the other processes published, from the newest on (its own carry its origin and are
    skipped), so ``/v1/tracks``, the streams' pictures and the zone watch answer the same whichever
    process serves the client. A process started later begins with the kept reports of the store
    (``Runtime._seed_picture``) and this from then on.
    """

    def __init__(self, bus: NatsBus, take: Callable[[list[ReportColumns]], None], *, replicas: int = 3) -> None:
        self._bus = bus
        self._take = take
        self._replicas = replicas
        self._future: concurrent.futures.Future[None] | None = None
        self._subscription: Any = None
        #: Messages and reports taken from the other processes, messages that did not read, failures.
        self.messages_total = 0
        self.reports_total = 0
        self.bad_messages_total = 0
        self.failures_total = 0
        self._warning = RepeatedWarning(_log)

    def start(self) -> None:
        """Subscribe on the bus's loop, trying again until JetStream answers (the process serves meanwhile)."""
        if self._future is None:
            self._future = self._bus.call(self._start)

    async def _start(self, nc: NatsClient) -> None:
        while True:
            try:
                js = nc.jetstream(timeout=MANAGE_TIMEOUT_S)
                await _ensure_stream(js, self._replicas)
                self._subscription = await js.subscribe(
                    f"{TRACK_PREFIX}.>",
                    cb=self._on_message,
                    ordered_consumer=True,
                    deliver_policy=js_api.DeliverPolicy.NEW,
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a cluster just formed, a leader being elected: again
                self.failures_total += 1
                self._warning("subscribing to the other processes' track reports failed: %r", exc)
                await asyncio.sleep(1.0)

    async def _on_message(self, message: Any) -> None:
        if (message.headers or {}).get(ORIGIN_HEADER) == self._bus.origin:
            return
        try:
            batch = reports_from_bytes(message.data)
        except ValidationError as exc:
            self.bad_messages_total += 1
            _log.error("track reports on %s do not read: %s", message.subject, exc)
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._take, [batch])
        except Exception:  # logged and counted; the next message goes on
            self.failures_total += 1
            _log.exception("taking another process's track reports failed")
            return
        self.messages_total += 1
        self.reports_total += len(batch)

    def stop(self) -> None:
        """Stop taking reports (the ordered consumer goes with the subscription)."""
        future, self._future = self._future, None
        if future is None:
            return
        future.cancel()
        subscription = self._subscription
        if subscription is not None:
            with contextlib.suppress(Exception):
                self._bus.call(lambda _nc: subscription.unsubscribe()).result(timeout=5.0)

    def gauges(self) -> dict[str, Callable[[], float]]:
        """Counters for ``/v1/metrics``."""
        return {
            "picture_reports_from_others_total": lambda: self.reports_total,
            "picture_messages_from_others_total": lambda: self.messages_total,
            "picture_failures_total": lambda: self.failures_total + self.bad_messages_total,
        }


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def recent_alert_events(nc: NatsClient, since_s: float, *, limit: int = 1_000_000) -> list[Event]:
    """The alert events the event stream holds from ``since_s`` on, oldest first, each with the
    ``emitted_by`` of its message (a worker starting learns from them which alerts are held, by the
    others and by its own earlier runs). Events that do not read are skipped; at most ``limit``."""
    js = nc.jetstream(timeout=MANAGE_TIMEOUT_S)
    config = js_api.ConsumerConfig(
        deliver_policy=js_api.DeliverPolicy.BY_START_TIME,
        opt_start_time=datetime.datetime.fromtimestamp(since_s, tz=datetime.UTC),
        ack_policy=js_api.AckPolicy.NONE,
        inactive_threshold=30.0,
        num_replicas=1,
        mem_storage=True,
    )
    try:
        pull = await js.pull_subscribe(f"{EVENTS_PREFIX}.alert.>", stream=EVENTS_STREAM, config=config)
    except NotFoundError:  # no event stream yet: nothing was ever raised
        return []
    try:
        return await drain_alert_events(pull, limit, stall_s=MANAGE_TIMEOUT_S)
    finally:
        with contextlib.suppress(Exception):
            await pull.unsubscribe()


async def drain_alert_events(pull: Any, limit: int, *, stall_s: float) -> list[Event]:
    """The events of every message ``pull`` (a consumer without acknowledgements) has to give, in
    order, at most ``limit``. A fetch that times out ends the reading only when the consumer has
    nothing pending: a loaded server answering late must not make a starting worker believe fewer
    alerts are held (it would raise them again). ``NatsTimeoutError`` once nothing came for
    ``stall_s`` while messages are pending, for the caller to try again whole."""
    loop = asyncio.get_running_loop()
    events: list[Event] = []
    stalled_at = loop.time() + stall_s
    while len(events) < limit:
        try:
            messages = await pull.fetch(FETCH_BATCH * 4, timeout=1.0)
        except NatsTimeoutError:
            info = await pull.consumer_info()
            if not info.num_pending:
                break
            if loop.time() > stalled_at:
                raise
            continue
        stalled_at = loop.time() + stall_s
        for message in messages:
            with contextlib.suppress(ValidationError):
                events.extend(events_of_message(message.data, message.headers))
        if not messages or messages[-1].metadata.num_pending == 0:
            break
    return events
