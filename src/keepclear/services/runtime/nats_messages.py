"""The event stream's messages: their subjects and headers, how events go as messages (a run of one
kind as one batch document) and come back out of them, and the ids a process remembers to drop
repeats. The bus that sends and receives them is ``nats_bus``.

What emitted an event, where the deployment's processes need to know it and no party may
(``Event.emitted_by``: the detector worker's share and run that raised an alert), goes as the
``Keepclear-Emitted-By`` header of its message, never in the document: a message carries events of
one emitter (a run is cut where it changes), and a receiver puts the header back on each event it
reads (``events_of_message``; so does a worker reading the stream back at its start). JetStream
stores the header with the message, so a redelivery and a reading back carry it too; the API
processes hand parties the documents' payloads only, so no stream, list, record entry or incident
shows it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from nats.aio.msg import Msg

from keepclear.domain.event_wire import batch_of_documents, events_from_json
from keepclear.domain.events import Event

_log = logging.getLogger("keepclear.bus.nats")

#: The stream every process publishes to and consumes from.
STREAM = "KEEPCLEAR_EVENTS"
#: Subjects are ``<prefix>.<kind>``: ``keepclear.events.alert.raised``.
SUBJECT_PREFIX = "keepclear.events"
#: Names the publishing process on each message, so it skips its own.
ORIGIN_HEADER = "Keepclear-Origin"
#: What emitted the message's events (``Event.emitted_by``), on messages whose events say.
EMITTED_BY_HEADER = "Keepclear-Emitted-By"
#: At most this many events, and about this many bytes, in one message.
BATCH_EVENTS = 128
BATCH_BYTES = 256 * 1024


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


class Message(NamedTuple):
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
    last_error: Exception | None = None
    for message in messages:
        try:
            await message.ack()
        except Exception as exc:
            failed += 1
            last_error = exc
    if failed:  # one line for the batch: a connection lost fails every acknowledgement in it
        _log.warning("acknowledging %d of %d messages to JetStream failed: %r", failed, len(messages), last_error)
    return failed


def subject_of(event: Event) -> str:
    """The subject ``event`` is published on."""
    return f"{SUBJECT_PREFIX}.{event.kind}"


def messages_of(wired: Sequence[tuple[Event, bytes]]) -> list[Message]:
    """Events and their wire forms as messages in order: each run of events of one kind and one
    emitter (``Event.emitted_by``) cut at ``BATCH_EVENTS``/``BATCH_BYTES``, a run of one as the plain
    event document; an event twice among them goes once."""
    unique, seen = [], set()
    for w in wired:
        if w[1] not in seen:
            seen.add(w[1])
            unique.append(w)
    messages: list[Message] = []
    run: list[tuple[Event, bytes]] = []
    run_bytes = 0

    def flush() -> None:
        if len(run) == 1:
            event, data = run[0]
            messages.append(Message(subject_of(event), data, event.id, 1, event.emitted_by))
        elif run:
            # the documents' bytes name their events (each holds its id): their hash names the batch
            documents = [data for _, data in run]
            key = "batch-" + hashlib.sha256(b"\n".join(documents)).hexdigest()[:32]
            first = run[0][0]
            batch = batch_of_documents(documents)
            messages.append(Message(subject_of(first), batch, key, len(run), first.emitted_by))
        run.clear()

    for event, data in unique:
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
