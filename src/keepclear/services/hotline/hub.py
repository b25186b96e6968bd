"""Live delivery of the hotline inside one process: a queue per connected client, fed after commit.

The service calls ``on_messages`` after each commit of messages and the bus hands ``message.receipt``
and ``party.availability`` events to ``on_event``; both may run on any thread, so items reach a
client's asyncio queue through its loop's ``call_soon_threadsafe``. A client that falls too far
behind (``HubConfig.queue_limit`` items or ``backlog_bytes`` of them) is marked ``overflowed`` and
told to reconnect: resuming from its cursors loses nothing.
When it falls behind because it does not read at all, ``on_overflow`` lets its session cut it at
once (the overflow frame could not be sent anyway).
With ``texts`` a committed message's frame is rendered here, once per party and language of the
clients it goes to (on the committing thread, not on the clients' loop), and every client sends that text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.hotline import Message, Thread
from keepclear.domain.json_input import canonical_size_bytes
from keepclear.services.backlog import BACKLOG_BYTES, Backlog
from keepclear.services.hotline.frame_texts import FrameText, MessageTexts
from keepclear.services.policy import revokes

LIVE_EVENT_KINDS = frozenset({EventKind.MESSAGE_RECEIPT, EventKind.PARTY_AVAILABILITY, EventKind.HOTLINE_ESCALATED})

#: Bytes a delivery's frame takes beside what its sender chose (ids, kind, times, sender...), about.
FRAME_OVERHEAD_BYTES = 256


@dataclass(frozen=True, slots=True)
class HubConfig:
    """``queue_limit``: items a client may fall behind before it is told to reconnect and resume;
    ``backlog_bytes``: the bytes of them it may fall behind (a commit's messages may be megabytes)."""

    queue_limit: int = 50_000
    backlog_bytes: int = BACKLOG_BYTES


def message_size_bytes(message: Message) -> int:
    """About the bytes ``message`` takes in a client's backlog and its frame: its body, phrase and
    data (each bounded, ``max_body_bytes`` and ``max_message_data_bytes``) and the fields beside."""
    phrase = message.phrase
    said = 0 if phrase is None else len(phrase.code) + sum(len(k) + len(str(v)) for k, v in phrase.params.items())
    return FRAME_OVERHEAD_BYTES + len(message.body.encode("utf-8")) + said + canonical_size_bytes(message.data)


def frame_size_bytes(frame: object) -> int:
    """About the bytes of ``frame`` (a receipt's, an answer's) as the client is sent it."""
    return len(json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


class Queued(NamedTuple):
    """An item of a client's queue (``Subscription``) and the bytes it counts in its backlog."""

    kind: str
    value: Any
    size_bytes: int = 0


@dataclass(eq=False)
class Subscription:
    """One connected client of ``party_id``: items arrive on ``queue`` as ``Queued`` (kind, value,
    their bytes), taken with ``get`` or ``get_nowait`` (which count them out of ``backlog``) as
    ``(kind, value)`` pairs:

    ``("messages", [(Message, FrameText | None), ...])`` (one commit's worth, in order, each with its
    frame's text in the client's ``language`` when the hub renders them), ``("event", Event)``,
    ``("catch_up", thread_id)`` (another process committed a message there), or, as the last item,
    ``("overflow", None)`` or ``("revoked", None)`` (the key it connected with was revoked).
    """

    party_id: str
    person: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Queued]
    #: The key the client connected with (its revocation ends the session).
    key_id: str | None = None
    #: The language its messages are rendered in (None: the client renders them).
    language: str | None = None
    overflowed: bool = False
    #: What it may fall behind: the queue's items and their bytes.
    backlog: Backlog = field(default_factory=lambda: Backlog(HubConfig().queue_limit), repr=False)
    #: Called on the client's loop when it overflows (its session cuts a client that does not read).
    on_overflow: Callable[[], None] | None = field(default=None, repr=False)
    #: How many of the client's posts wait for their commit (its session's bounded queue).
    posts_waiting: Callable[[], int] | None = field(default=None, repr=False)
    #: Their bytes (the frames' UTF-8 text), the posts in the commit under way included.
    posts_waiting_bytes: Callable[[], int] | None = field(default=None, repr=False)
    _counted: Callable[[], None] | None = field(default=None, repr=False)

    def _put(self, item: tuple[str, Any], size_bytes: int) -> None:
        # Runs on the client's loop.
        if self.overflowed:
            return
        kind, value = item
        if kind == "revoked":  # the last item, whatever the backlog
            self.overflowed = True
            self.queue.put_nowait(Queued(kind, value))
            return
        if not self.backlog.fits(self.queue.qsize(), size_bytes):
            self.overflowed = True
            self.queue.put_nowait(Queued("overflow", None))
            if self._counted is not None:
                self._counted()
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self.backlog.add(size_bytes)
        self.queue.put_nowait(Queued(kind, value, size_bytes))

    def offer(self, item: tuple[str, Any]) -> None:
        """Queue ``item`` from the client's own loop, within the same bounds as everything else: a
        reply to the client's own frames (a pong, an error) counts as any delivery does, in items
        and in bytes (an error quoting what it answers, an ``accepted`` its ``ref``)."""
        self._put(item, frame_size_bytes(item[1]) if item[0] == "frame" else 0)

    def push(self, item: tuple[str, Any], size_bytes: int = 0) -> None:
        """Hand ``item`` (of about ``size_bytes``) to the client's loop (from any thread); dropped
        once the loop is closed."""
        with contextlib.suppress(RuntimeError):  # loop closed: the client is gone; its cursor resumes it
            self.loop.call_soon_threadsafe(self._put, item, size_bytes)

    async def get(self) -> tuple[str, Any]:
        """The next item (``(kind, value)``), waiting for one; it leaves the backlog."""
        queued = await self.queue.get()
        self.backlog.take(queued.size_bytes)
        return queued.kind, queued.value

    def get_nowait(self) -> tuple[str, Any]:
        """The next item when one waits (``asyncio.QueueEmpty`` otherwise); it leaves the backlog."""
        queued = self.queue.get_nowait()
        self.backlog.take(queued.size_bytes)
        return queued.kind, queued.value


class HotlineHub:
    """Connected clients by party, and fan-out of committed messages and live events to them; with
    ``texts``, each message's frame rendered once per party and language, however many clients send it."""

    def __init__(self, config: HubConfig | None = None, texts: MessageTexts | None = None) -> None:
        self.config = config or HubConfig()
        self.texts = texts
        self._lock = threading.Lock()
        self._subscriptions: dict[str, list[Subscription]] = {}
        self.overflowed_total = 0

    def connect(
        self,
        party_id: str,
        person: str,
        loop: asyncio.AbstractEventLoop,
        key_id: str | None = None,
        language: str | None = None,
    ) -> Subscription:
        """Register a client of ``party_id`` on ``loop`` reading ``language``; it receives everything
        committed from now on, until the revocation of ``key_id`` (the key it connected with)."""
        subscription = Subscription(
            party_id,
            person,
            loop,
            asyncio.Queue(),
            key_id,
            language if self.texts is not None else None,
            backlog=Backlog(self.config.queue_limit, self.config.backlog_bytes),
            _counted=self._count_overflow,
        )
        with self._lock:
            self._subscriptions[party_id] = [*self._subscriptions.get(party_id, []), subscription]
        return subscription

    def _count_overflow(self) -> None:
        with self._lock:
            self.overflowed_total += 1

    def gauges(self) -> dict[str, Callable[[], float]]:
        """Metrics: connected clients, the largest backlog of one (items, bytes), the most posts one
        has waiting for their commit, clients that overflowed."""

        def subscriptions() -> list[Subscription]:
            with self._lock:
                return [s for subs in self._subscriptions.values() for s in subs]

        return {
            "hotline_clients": lambda: len(subscriptions()),
            "hotline_backlog_items_max": lambda: max((s.queue.qsize() for s in subscriptions()), default=0),
            "hotline_backlog_bytes_max": lambda: max((s.backlog.queued_bytes for s in subscriptions()), default=0),
            "hotline_posts_waiting_max": lambda: max(
                (s.posts_waiting() for s in subscriptions() if s.posts_waiting is not None), default=0
            ),
            "hotline_posts_waiting_bytes_max": lambda: max(
                (s.posts_waiting_bytes() for s in subscriptions() if s.posts_waiting_bytes is not None), default=0
            ),
            "hotline_clients_overflowed_total": lambda: self.overflowed_total,
            "hotline_message_frames_rendered_total": lambda: 0 if self.texts is None else self.texts.rendered_total,
        }

    def disconnect(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (idempotent)."""
        with self._lock:
            remaining = [s for s in self._subscriptions.get(subscription.party_id, []) if s is not subscription]
            if remaining:
                self._subscriptions[subscription.party_id] = remaining
            else:
                self._subscriptions.pop(subscription.party_id, None)

    def connected_parties(self) -> set[str]:
        """Parties with at least one connected client."""
        with self._lock:
            return set(self._subscriptions)

    def _targets(self, parties: frozenset[str] | tuple[str, ...]) -> list[Subscription]:
        with self._lock:
            return [s for p in parties for s in self._subscriptions.get(p, [])]

    def on_messages(self, batch: list[tuple[Message, Thread]]) -> None:
        """Service listener: hand one commit's messages to every connected client of their threads' parties.

        One hand-over per client per commit (not per message) keeps thread wake-ups few under load;
        each message's frame is rendered once per party and language of its clients, here (the committing
        thread).
        """
        per_client: dict[int, tuple[Subscription, list[tuple[Message, FrameText | None]], list[int]]] = {}
        for message, thread in batch:
            targets = self._targets(thread.parties)
            if not targets:
                continue
            size_bytes = message_size_bytes(message)  # once, however many clients get it
            texts: dict[tuple[str, str], FrameText] = {}  # by the reader's party and language
            for subscription in targets:
                language, reader = subscription.language, subscription.party_id
                if language is not None and self.texts is not None and (reader, language) not in texts:
                    texts[reader, language] = self.texts.text(message, language, reader)
                _, messages, sizes = per_client.setdefault(id(subscription), (subscription, [], []))
                messages.append((message, None if language is None else texts.get((reader, language))))
                sizes.append(size_bytes)
        for subscription, messages, sizes in per_client.values():
            subscription.push(("messages", messages), sum(sizes))

    def on_remote_event(self, event: Event) -> None:
        """Bus subscriber for other processes' events only: a message another API process committed
        wakes every connected client of its thread's parties here to read what it has not been sent
        (``("catch_up", thread_id)``), so live delivery crosses processes without polling the store."""
        if event.kind == EventKind.MESSAGE_POSTED:
            self.catch_up(event.payload.get("thread_id"), event.parties)

    def catch_up(self, thread_id: object, parties: Iterable[str]) -> None:
        """Another process committed messages in ``thread_id`` (its bus event, or ``StoreWatch`` without a
        bus): every connected client of ``parties`` reads from the store what it was not sent."""
        for subscription in self._targets(tuple(parties)):
            subscription.push(("catch_up", thread_id))

    def on_event(self, event: Event) -> None:
        """Bus subscriber: receipts, availability changes and escalations to the parties they concern;
        a key's revocation ends the sessions it opened."""
        if event.kind == EventKind.APIKEY_REVOKED:
            with self._lock:
                revoked = [s for subs in self._subscriptions.values() for s in subs if revokes(event, s.key_id)]
            for subscription in revoked:
                subscription.push(("revoked", None))
        if event.kind in LIVE_EVENT_KINDS:
            targets = self._targets(event.parties)
            size_bytes = FRAME_OVERHEAD_BYTES + frame_size_bytes(event.payload) if targets else 0
            for subscription in targets:
                subscription.push(("event", event), size_bytes)
