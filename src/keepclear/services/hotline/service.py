"""The hotline service: one object for the routes, the live sessions and the runtime, made of its
parts, each a module of its own:

- ``threads``: membership (a bounded cache), standing pair threads, threads a party opens;
- ``posting``: messages in total order per thread, their record entries, their delivery after commit;
- ``notices``: other services' events posted into the standing threads;
- ``receipts``, ``escalation`` (acknowledgement deadlines), ``availability``, ``reading``.

Every write goes through ``db.write()``; a message is reported accepted (returned, and announced
with ``message.posted``) only after its transaction committed. The record entries of a write are
staged in its transaction (``services.record.stage``); the events are published after commit.
Construct one instance per deployment (it caches immutable thread membership).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.hotline import Availability, Draft, Message, MessageKind, PartyAvailability, Receipt, Thread
from keepclear.domain.ids import RandomBits
from keepclear.domain.phrases import PhraseCatalogue
from keepclear.errors import KeepclearError
from keepclear.services.hotline.availability import Availabilities
from keepclear.services.hotline.config import HotlineConfig
from keepclear.services.hotline.escalation import DUE_PAGE, Escalation
from keepclear.services.hotline.notices import Notices
from keepclear.services.hotline.phrases import load_catalogue
from keepclear.services.hotline.posting import MessageListener, Posting
from keepclear.services.hotline.reading import Reading
from keepclear.services.hotline.receipts import Receipts
from keepclear.services.hotline.threads import Threads
from keepclear.store import Database

__all__ = ["HotlineConfig", "HotlineService"]


class HotlineService:
    """The hotline of one deployment: each method is its part's (see the module)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        phrases: PhraseCatalogue | None = None,
        config: HotlineConfig | None = None,
        *,
        random_bits: RandomBits = secrets.randbits,
    ) -> None:
        """``random_bits`` draws the ids of the threads opened and the keys of channel-status messages
        (``domain.ids``; a replay passes a seeded one)."""
        self.phrases = phrases if phrases is not None else load_catalogue()
        self.config = config or HotlineConfig()
        self._threads = Threads(db, clock, self.config, random_bits)
        self._posting = Posting(db, clock, events, self.phrases, self.config, self._threads)
        self._notices = Notices(db, self.config, self._threads, self._posting)
        self._receipts = Receipts(db, clock, events, self._threads)
        self._escalation = Escalation(db, clock, events, self.config, self._threads, self._posting)
        self._availability = Availabilities(db, clock, events, self._posting, random_bits)
        self._reading = Reading(db, self.phrases, self._threads)

    # ---- threads

    @property
    def threads_cached(self) -> int:
        """Threads kept in memory (``hotline_threads_cached``; at most ``max_cached_threads``)."""
        return self._threads.cached

    @property
    def threads_refused_limit_total(self) -> int:
        """Threads refused for their opener's bound (``hotline_threads_refused_limit_total``)."""
        return self._threads.quota.refused_total

    @property
    def ack_requests_refused_limit_total(self) -> int:
        """Posts refused for their party's bound on outstanding acknowledgement requests
        (``hotline_ack_requests_refused_limit_total``)."""
        return self._posting.ack_quota.refused_total

    def ensure_pair_thread(self, a: str, b: str) -> Thread:
        """The standing thread between parties ``a`` and ``b``, created when missing."""
        return self._threads.ensure_pair_thread(a, b)

    def ensure_standing_threads(self) -> list[Thread]:
        """A standing thread for every pair of parties (for deployments whose parties predate the hotline)."""
        return self._threads.ensure_standing()

    def create_thread(self, creator_party: str, parties: list[str], title: str) -> Thread:
        """A new thread among ``parties`` (the creator included), e.g. with an observer such as the UN."""
        return self._threads.create(creator_party, parties, title)

    def threads_of(self, party_id: str) -> list[Thread]:
        """Every thread ``party_id`` is a member of."""
        return self._reading.threads_of(party_id)

    def thread_heads(self, party_id: str) -> list[tuple[Thread, int, int]]:
        """Every thread of ``party_id`` with its last seq and the messages of others it has not read."""
        return self._reading.thread_heads(party_id)

    def threads_with_last_seq(self, party_id: str, among: Collection[str] | None = None) -> list[tuple[Thread, int]]:
        """Every thread of ``party_id`` (``among``: of these ids) with its last seq (no unread counts:
        they count messages)."""
        return self._reading.threads_with_last_seq(party_id, among)

    def thread_heads_page(
        self, party_id: str, after: tuple[float, str] | None, limit: int
    ) -> tuple[list[tuple[Thread, int, int]], bool]:
        """A page of ``thread_heads`` after ``after`` (time, id), and whether a next may hold more."""
        return self._reading.thread_heads_page(party_id, after, limit)

    def thread_head(self, party_id: str, thread_id: str) -> tuple[Thread, int, int]:
        """One thread of ``party_id`` with its last seq and unread count (404 for any other)."""
        return self._reading.thread_head(party_id, thread_id)

    def unread_total(self, party_id: str) -> tuple[int, int]:
        """(threads with messages ``party_id`` has not read, those messages), over all its threads."""
        return self._reading.unread_total(party_id)

    def parties_of(self, thread_id: str) -> tuple[str, ...]:
        """The parties of ``thread_id``, a thread known to exist (a message of it was stored)."""
        return self._threads.known(thread_id).parties

    def thread(self, party_id: str, thread_id: str) -> Thread:
        """One thread ``party_id`` is a member of."""
        return self._reading.thread(party_id, thread_id)

    # ---- posting

    def post(self, sender_party: str, sender_person: str, draft: Draft) -> tuple[Message, bool]:
        """Post ``draft`` for a person of ``sender_party``: (the stored message, whether it is new)."""
        return self._posting.post(sender_party, sender_person, draft)

    def post_many(
        self, sender_party: str, sender_person: str, drafts: list[Draft]
    ) -> list[tuple[Message, bool] | KeepclearError]:
        """Post several drafts in one transaction (group commit), in order; each gets its own answer."""
        return self._posting.post_many(sender_party, sender_person, drafts)

    def post_system(self, thread_id: str, kind: MessageKind, idempotency_key: str, **fields: Any) -> Message:
        """Post a message from keepclear itself into ``thread_id`` (``fields``: those of ``Draft``)."""
        return self._posting.post_system(thread_id, kind, idempotency_key, **fields)

    def post_system_many(self, drafts: Sequence[Draft]) -> list[Message]:
        """``post_system`` for several drafts in one transaction, in order, all or nothing."""
        return self._posting.post_system_many(drafts)

    def post_system_within(self, conn: Connection, drafts: Sequence[Draft]) -> Callable[[], None]:
        """``post_system_many`` inside the caller's transaction (``conn``), their record entries staged
        in it (a repeated key answers its first: nothing new); returns what announces the new
        messages, to call after the commit."""
        for draft in drafts:
            self._posting.check(draft, system=True)
        _, fresh = self._posting.store_system(conn, drafts)
        return lambda: self._posting.announce_all(fresh)

    def post_within(self, conn: Connection, events: Sequence[Event]) -> tuple[list[Event], Callable[[], None]] | None:
        """Inside a writer's transaction: the notices of ``events`` stored with the write (``Notices``)."""
        return self._notices.post_within(conn, events)

    def add_listener(self, listener: MessageListener) -> None:
        """Call ``listener([(message, thread), ...])`` after each commit of messages, in seq order."""
        self._posting.add_listener(listener)

    # ---- reading

    def messages(self, party_id: str, thread_id: str, after_seq: int = 0, limit: int | None = None) -> list[Message]:
        """Messages of a thread ``party_id`` is a member of, after ``after_seq``, in order."""
        return self._reading.messages(party_id, thread_id, after_seq, limit)

    def resume_points(self, party_id: str, cursors: dict[str, int]) -> list[tuple[Thread, int]]:
        """Every thread of ``party_id`` with its last seq; a cursor beyond one is refused."""
        return self._reading.resume_points(party_id, cursors)

    def heads(self, party_id: str) -> dict[str, int]:
        """The last sequence number of every thread ``party_id`` is a member of."""
        return self._reading.heads(party_id)

    def view(self, message: Message, language: str, reader: str | None) -> dict[str, Any]:
        """``message`` as a reader of party ``reader`` in ``language`` sees it."""
        return self._reading.view(message, language, reader)

    def language_of(self, party_id: str) -> str:
        """The language ``party_id`` reads phrases in."""
        return self._reading.language_of(party_id)

    # ---- receipts and acknowledgements

    def mark_delivered(self, party_id: str, thread_id: str, through_seq: int) -> list[int]:
        """A client of ``party_id`` has every message up to ``through_seq``; the seqs newly receipted."""
        return self._receipts.mark_delivered(party_id, thread_id, through_seq)

    def mark_read(self, party_id: str, person: str, thread_id: str, through_seq: int) -> list[int]:
        """``person`` of ``party_id`` has read up to ``through_seq`` (read implies delivered)."""
        return self._receipts.mark_read(party_id, person, thread_id, through_seq)

    def receipts(self, party_id: str, thread_id: str, seq: int) -> list[Receipt]:
        """Receipts of message ``seq``, per party and kind."""
        return self._receipts.of_message(party_id, thread_id, seq)

    def ack_status(self, party_id: str, thread_id: str, seq: int) -> list[dict[str, Any]]:
        """Who was asked to acknowledge message ``seq``, who did, how far each escalation went."""
        return self._escalation.ack_status(party_id, thread_id, seq)

    def run_deadlines(self, now_s: float | None = None, *, max_batches: int | None = None) -> list[Message]:
        """One escalation step for every overdue acknowledgement (of the first ``max_batches`` pages
        of ``deadline_page``); the messages posted."""
        return self._escalation.run_deadlines(now_s, max_batches=max_batches)

    @property
    def deadline_page(self) -> int:
        """Overdue acknowledgements ``run_deadlines`` reads at a time."""
        return DUE_PAGE

    # ---- availability

    def set_availability(
        self, party_id: str, person: str, availability: Availability | str, reason: str = ""
    ) -> tuple[PartyAvailability, bool]:
        """``party_id`` declares its availability; a channel-status message goes into each of its standing
        threads (one per other party) when it changes: (the declaration that stands, whether anything
        was stored: a repeat of the stored declaration stores nothing)."""
        return self._availability.declare(party_id, person, availability, reason)

    def availability(self, party_id: str) -> PartyAvailability:
        """What ``party_id`` last declared."""
        return self._availability.of(party_id)

    # ---- the bus

    def on_event(self, event: Event) -> None:
        """Bus subscriber: standing threads for new parties; alerts, activities, incidents into threads."""
        self._notices.on_events((event,))

    def on_events(self, events: Sequence[Event]) -> None:
        """Bus subscriber for batches: what ``on_event`` does, with one transaction for all the posts."""
        self._notices.on_events(events)
