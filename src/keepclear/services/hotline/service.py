"""The hotline service: threads, posting in total order, receipts, deadlines and escalation, availability.

Every write goes through ``db.write()``; a message is reported accepted (returned, and announced
with ``message.posted``) only after its transaction committed. The record entries of a write are
staged in its transaction (``services.record.stage``); the events are published after commit.
Construct one instance per deployment (it caches immutable thread membership: the most recently
used ``HotlineConfig.max_cached_threads`` threads, read again from the store when needed).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import PartyAdded
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.hotline import (
    SYSTEM_KINDS,
    Availability,
    Draft,
    Message,
    MessageKind,
    PartyAvailability,
    Receipt,
    ReceiptKind,
    Thread,
    draft_problems,
)
from keepclear.domain.ids import id_problem
from keepclear.domain.limits import DEFAULT_LIMITS, InputLimits, text_problem
from keepclear.domain.phrases import PhraseCatalogue
from keepclear.errors import KeepclearError, NotFoundError, ProblemCode, ValidationError, code_of
from keepclear.services.hotline.messages import (
    STORM_KINDS,
    EventPost,
    alert_storms,
    escalation_step,
    event_post,
    key_reused,
    message_view,
    same_request,
    status_draft,
    storm_post,
)
from keepclear.services.hotline.phrases import load_catalogue
from keepclear.services.policy import message_audience, thread_visible, unknown
from keepclear.services.record.signer import stage
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store

SYSTEM_PERSON = "keepclear"
MessageListener = Callable[[list[tuple[Message, Thread]]], None]


@dataclass(frozen=True, slots=True)
class HotlineConfig:
    """Tunables of the hotline (defaults fit a liaison cell answering within minutes).

    ``escalation_step_s``: seconds between escalation steps once a deadline passed; None uses the
    message's own acknowledgement window. ``max_thread_parties``: the most parties one thread may have.
    ``alert_summary_over``: alert changes between one pair of parties in one delivery above which the
    pair's thread gets one summary message instead of one message each. ``limits``: what a draft's
    text and data must keep to. ``max_cached_threads``: threads kept in memory, the most recently
    used (any party may open threads without end; one not kept is read from the store again).
    """

    escalation_step_s: float | None = None
    max_thread_parties: int = 16
    alert_summary_over: int = 20
    limits: InputLimits = DEFAULT_LIMITS
    max_cached_threads: int = 10_000


class ThreadCache:
    """Threads by id, at most ``capacity``, the least recently used forgotten first (a thread never
    changes once made, so a cached one is never stale); safe across threads."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"max_cached_threads: must be at least 1, got {capacity}")
        self.capacity = capacity
        self._threads: OrderedDict[str, Thread] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, thread_id: str) -> Thread | None:
        """The thread ``thread_id`` when kept (now the most recently used), else None."""
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is not None:
                self._threads.move_to_end(thread_id)
            return thread

    def put(self, thread: Thread) -> None:
        """Keep ``thread``, forgetting the least recently used one past ``capacity``."""
        with self._lock:
            self._threads[thread.id] = thread
            self._threads.move_to_end(thread.id)
            if len(self._threads) > self.capacity:
                self._threads.popitem(last=False)

    def __len__(self) -> int:
        return len(self._threads)


class PostedWithin:
    """Ids of the events whose notices a writer posted in its own transaction (``post_within``),
    which the bus subscriber then skips before making their notices again: bounded (``max_keys``,
    oldest dropped) and safe across threads. An id it no longer holds costs only a lookup: the
    notice's idempotency key answers the stored message."""

    def __init__(self, max_keys: int = 4096) -> None:
        self._keys: dict[str, None] = {}
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def add(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._keys[key] = None
            while len(self._keys) > self._max_keys:
                del self._keys[next(iter(self._keys))]

    def take(self, key: str) -> bool:
        """Was the notice of event ``key`` posted within its write? (Forgotten once taken: the bus
        delivers an event once.)"""
        if not self._keys:
            return False
        with self._lock:
            return self._keys.pop(key, 0) is None


class HotlineService:
    """The hotline of one deployment."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        phrases: PhraseCatalogue | None = None,
        config: HotlineConfig | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self.phrases = phrases if phrases is not None else load_catalogue()
        self.config = config or HotlineConfig()
        self._threads = ThreadCache(self.config.max_cached_threads)
        self._pair_threads: dict[str, str] = {}
        self._listeners: list[MessageListener] = []
        self._posted_within = PostedWithin()

    # ---- threads

    @property
    def threads_cached(self) -> int:
        """Threads kept in memory (``hotline_threads_cached``; at most ``max_cached_threads``)."""
        return len(self._threads)

    def _thread(self, conn: Connection, thread_id: str) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = store.get_thread(conn, thread_id)
            self._threads.put(thread)
        return thread

    def _thread_of(self, thread_id: str, conn: Connection | None = None) -> Thread:
        """A thread known to exist (a message of it was just stored): kept, or read again through
        ``conn`` (or a read of its own, after a commit) when other threads pushed it out meanwhile."""
        thread = self._threads.get(thread_id)
        if thread is not None:
            return thread
        if conn is not None:
            return self._thread(conn, thread_id)
        with self._db.read() as own:
            return self._thread(own, thread_id)

    def _member_thread(self, conn: Connection, thread_id: str, party_id: str) -> Thread:
        """The thread, if ``party_id`` is a member; otherwise the same answer as for no thread at all."""
        try:
            thread = self._thread(conn, thread_id)
        except NotFoundError:
            thread = None
        if thread is None or not thread_visible(party_id, thread.parties):
            raise NotFoundError(f"thread_id: {unknown('thread', thread_id)}")
        return thread

    def ensure_pair_thread(self, a: str, b: str) -> Thread:
        """The standing thread between parties ``a`` and ``b``, created when missing."""
        with self._db.write() as conn:
            thread = self._ensure_pair(conn, a, b)
        return thread

    def _ensure_pair(self, conn: Connection, a: str, b: str) -> Thread:
        existing = store.thread_id_for_pair(conn, a, b)
        if existing is not None:
            return self._thread(conn, existing)
        first, second = sorted((a, b))
        for party_id in (first, second):
            registry_store.get_party(conn, party_id)
        thread = Thread(f"t-{uuid.uuid4().hex[:16]}", f"{first} – {second}", (first, second), True, self._clock.now_s())
        if not store.insert_pair_thread(conn, thread, store.pair_key(first, second)):
            # Another process made it meanwhile (API processes starting side by side): theirs stands.
            made = store.thread_id_for_pair(conn, a, b)
            if made is None:
                raise RuntimeError(f"the standing thread of {first} and {second} could neither be stored nor found")
            return self._thread(conn, made)
        stage(conn, [self._thread_created(thread, None)])
        return thread

    @staticmethod
    def _thread_created(thread: Thread, creator_party: str | None) -> Event:
        """``thread.created``: who opened a thread among whom (recorded; seen by its members)."""
        return Event(
            kind=EventKind.THREAD_CREATED,
            time_s=thread.created_s,
            party_id=creator_party,
            payload={
                "thread_id": thread.id,
                "title": thread.title,
                "parties": list(thread.parties),
                "standing": thread.standing,
            },
            parties=frozenset(thread.parties),
        )

    def ensure_standing_threads(self) -> list[Thread]:
        """A standing thread for every pair of parties (for deployments whose parties predate the hotline)."""
        with self._db.write() as conn:
            ids = [p.id for p in registry_store.list_parties(conn)]
            return [self._ensure_pair(conn, a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]

    def create_thread(self, creator_party: str, parties: list[str], title: str) -> Thread:
        """A new thread among ``parties`` (the creator included), e.g. with an observer such as the UN."""
        problems = [p for i, party in enumerate(parties) if (p := id_problem(party, f"parties[{i}]"))]
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            problems.append("title: must be 1-200 characters")
        elif p := text_problem(title, "title"):
            problems.append(p)
        if problems:
            raise ValidationError(problems)
        members = sorted({creator_party, *parties})
        if len(members) < 2:
            problems.append("parties: a thread needs at least one party besides its creator")
        if len(members) > self.config.max_thread_parties:
            problems.append(f"parties: at most {self.config.max_thread_parties} parties per thread")
        if problems:
            raise ValidationError(problems)
        thread = Thread(f"t-{uuid.uuid4().hex[:16]}", title.strip(), tuple(members), False, self._clock.now_s())
        with self._db.write() as conn:
            registry_store.get_party(conn, creator_party)
            for i, party_id in enumerate(parties):
                try:
                    registry_store.get_party(conn, party_id)
                except NotFoundError:
                    raise NotFoundError(f"parties[{i}]: party {party_id!r} does not exist") from None
            store.insert_thread(conn, thread, None)
            stage(conn, [self._thread_created(thread, creator_party)])
        self._threads.put(thread)
        return thread

    def threads_of(self, party_id: str) -> list[Thread]:
        """Every thread ``party_id`` is a member of."""
        with self._db.read() as conn:
            return store.threads_of(conn, party_id)

    def thread_heads(self, party_id: str) -> list[tuple[Thread, int, int]]:
        """Every thread of ``party_id`` with its last sequence number and how many messages of others
        ``party_id`` has not marked read yet (the console's unread counts)."""
        with self._db.read() as conn:
            threads = store.threads_of(conn, party_id)
            ids = [t.id for t in threads]
            last = store.last_seqs(conn, ids)
            unread = store.unread_counts(conn, party_id, ids)
        return [(t, last[t.id], unread[t.id]) for t in threads]

    def thread_heads_page(
        self, party_id: str, after: tuple[float, str] | None, limit: int
    ) -> tuple[list[tuple[Thread, int, int]], bool]:
        """Up to ``limit`` threads of ``party_id`` by creation after ``after`` (time, id), as
        ``thread_heads`` gives them, and whether a next page may hold more; three statements."""
        with self._db.read() as conn:
            found = store.threads_page(conn, party_id, after, limit + 1)
            shown = found[:limit]
            unread = store.unread_counts(conn, party_id, [t.id for t, _ in shown])
        return [(t, last, unread[t.id]) for t, last in shown], len(found) > limit

    def thread(self, party_id: str, thread_id: str) -> Thread:
        """One thread ``party_id`` is a member of."""
        with self._db.read() as conn:
            return self._member_thread(conn, thread_id, party_id)

    # ---- posting

    def _check(self, draft: Draft, *, system: bool = False) -> None:
        """Refuse a bad draft; keepclear's own (``system``) need not reply to a message of the thread."""
        problems = draft_problems(draft, self.config.limits)
        if system:
            problems = [p for p in problems if code_of(p) is not ProblemCode.REPLY_TO_REQUIRED]
        if draft.phrase is not None:
            problems += self.phrases.use_problems(draft.phrase)
        if problems:
            raise ValidationError(problems)

    def _append_batch(
        self, conn: Connection, sender_party: str | None, sender_person: str, items: list[tuple[Thread, Draft]]
    ) -> list[Message | KeepclearError]:
        """Store each draft as the next message of its thread, in order; open or settle ack requests.

        Sequence numbers are reserved first, which locks the threads' rows (SQLite has one writer anyway),
        so they stay gapless and totally ordered even across processes.
        """
        counts: dict[str, int] = {}
        for thread, _ in items:
            counts[thread.id] = counts.get(thread.id, 0) + 1
        last = store.reserve_seqs(conn, counts)
        reserved = {thread_id: last[thread_id] + n for thread_id, n in counts.items()}
        now_s = self._clock.now_s()
        out: list[Message | KeepclearError] = []
        new: list[tuple[Thread, Draft, Message]] = []
        for thread, draft in items:
            seq = last[thread.id] + 1
            if draft.reply_to_seq is not None and draft.reply_to_seq >= seq:
                out.append(NotFoundError(f"reply_to_seq: thread {thread.id!r} has no message {draft.reply_to_seq}"))
                continue
            message = Message(
                thread_id=thread.id,
                seq=seq,
                kind=draft.kind,
                sender_party=sender_party,
                sender_person=sender_person,
                time_s=now_s,
                idempotency_key=draft.idempotency_key,
                body=draft.body,
                phrase=draft.phrase,
                reply_to_seq=draft.reply_to_seq,
                ack_deadline_s=None if draft.ack_within_s is None else now_s + draft.ack_within_s,
                data=draft.data,
            )
            last[thread.id] = seq
            new.append((thread, draft, message))
            out.append(message)
        unused = {thread_id: seq for thread_id, seq in last.items() if seq != reserved[thread_id]}
        if unused:  # some drafts were refused: give their numbers back, no gap
            store.set_last_seqs(conn, unused)
        if not new:
            return out
        store.insert_messages(conn, [m for _, _, m in new])
        for thread, draft, message in new:
            if message.ack_deadline_s is not None and draft.ack_within_s is not None:
                recipients = [p for p in thread.parties if p != sender_party]
                step_s = self.config.escalation_step_s or draft.ack_within_s
                store.insert_ack_requests(conn, thread.id, message.seq, recipients, message.ack_deadline_s, step_s)
            if draft.kind == MessageKind.ACKNOWLEDGEMENT and draft.reply_to_seq is not None and sender_party:
                store.settle_ack_request(conn, thread.id, draft.reply_to_seq, sender_party, now_s, message.seq)
        return out

    def _append(
        self, conn: Connection, thread: Thread, sender_party: str | None, sender_person: str, draft: Draft
    ) -> Message:
        """Store one draft (see ``_append_batch``); raises its refusal."""
        (answer,) = self._append_batch(conn, sender_party, sender_person, [(thread, draft)])
        if isinstance(answer, KeepclearError):
            raise answer
        return answer

    def post(self, sender_party: str, sender_person: str, draft: Draft) -> tuple[Message, bool]:
        """Post ``draft`` for a person of ``sender_party``; returns the stored message and whether it is new.

        A retry with the same idempotency key returns the original message and stores nothing.
        Refused (nothing stored): invalid draft, unknown thread or not a member, unknown phrase.
        """
        (answer,) = self.post_many(sender_party, sender_person, [draft])
        if isinstance(answer, KeepclearError):
            raise answer
        return answer

    def post_many(
        self, sender_party: str, sender_person: str, drafts: list[Draft]
    ) -> list[tuple[Message, bool] | KeepclearError]:
        """Post several drafts in one transaction (group commit), in order; each gets its own answer.

        Answers are ``(message, created)`` or the refusal; a refused draft stores nothing.
        """
        answers: list[tuple[Message, bool] | KeepclearError | None] = []
        for draft in drafts:
            try:
                self._check(draft)
                if draft.kind in SYSTEM_KINDS:
                    raise ValidationError([f"kind: {draft.kind.value} messages are posted by keepclear only"])
                answers.append(None)
            except KeepclearError as exc:
                answers.append(exc)
        pending = [i for i, answer in enumerate(answers) if answer is None]
        posted: list[Message] = []
        if pending:
            with self._db.write() as conn:
                self._post_pending(conn, sender_party, sender_person, drafts, pending, answers)
                posted = [a[0] for a in answers if isinstance(a, tuple) and a[1]]
                self._stage_posted(conn, posted)
        done = [a for a in answers if a is not None]
        self._announce_all(posted)
        return done

    def _post_pending(
        self,
        conn: Connection,
        sender_party: str,
        sender_person: str,
        drafts: list[Draft],
        pending: list[int],
        answers: list[tuple[Message, bool] | KeepclearError | None],
    ) -> None:
        existing = store.find_by_keys(conn, sender_party, [drafts[i].idempotency_key for i in pending])
        first_with_key: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        to_append: list[tuple[int, Thread, Draft]] = []
        for i in pending:
            draft = drafts[i]
            key = draft.idempotency_key
            prior = existing.get(key)
            if prior is not None:
                answers[i] = (prior, False) if same_request(prior, draft) else key_reused(key, prior)
            elif key in first_with_key:
                repeats.append((i, first_with_key[key]))
            else:
                first_with_key[key] = i
                try:
                    to_append.append((i, self._member_thread(conn, draft.thread_id, sender_party), draft))
                except NotFoundError as exc:
                    answers[i] = exc
        stored = self._append_batch(conn, sender_party, sender_person, [(t, d) for _, t, d in to_append])
        for (i, _, _), result in zip(to_append, stored, strict=True):
            answers[i] = result if isinstance(result, KeepclearError) else (result, True)
        for i, first in repeats:
            original = answers[first]
            if isinstance(original, tuple):
                same = same_request(original[0], drafts[i])
                answers[i] = (original[0], False) if same else key_reused(drafts[i].idempotency_key, original[0])
            else:
                answers[i] = original

    def post_system(self, thread_id: str, kind: MessageKind, idempotency_key: str, **fields: Any) -> Message:
        """Post a message from keepclear itself (alerts, notifications, incidents) into ``thread_id``.

        ``fields`` are those of ``Draft`` (body, phrase, data, reply_to_seq, ack_within_s). A second
        call with the same ``idempotency_key`` returns the first message.
        """
        draft = Draft(thread_id=thread_id, kind=kind, idempotency_key=idempotency_key, **fields)
        (message,) = self.post_system_many([draft])
        return message

    def post_system_many(self, drafts: Sequence[Draft]) -> list[Message]:
        """``post_system`` for several drafts in one transaction, in order (a probe tick's alerts).

        All or nothing: a draft keepclear should never make (a bug) refuses the batch before any write.
        """
        for draft in drafts:
            self._check(draft, system=True)
        if not drafts:
            return []
        with self._db.write() as conn:
            answers, new = self._store_system(conn, drafts)
        self._announce_all(new)
        return answers

    def _store_system(
        self, conn: Connection, drafts: Sequence[Draft], *, staged: bool = True
    ) -> tuple[list[Message], list[Message]]:
        """Store checked system drafts in ``conn``'s transaction, with their record entries unless
        ``staged`` is false: (the message answering each draft, the messages new to the store); a
        repeated key answers its first."""
        answers: dict[str, Message] = store.find_by_keys(conn, None, [d.idempotency_key for d in drafts])
        new: dict[str, tuple[Thread, Draft]] = {}
        for draft in drafts:
            if draft.idempotency_key not in answers:
                new.setdefault(draft.idempotency_key, (self._thread(conn, draft.thread_id), draft))
        stored = self._append_batch(conn, None, SYSTEM_PERSON, list(new.values()))
        for key, message in zip(new, stored, strict=True):
            if isinstance(message, KeepclearError):
                raise message
            answers[key] = message
        fresh = [answers[key] for key in new]
        if staged:
            self._stage_posted(conn, fresh)
        return [answers[d.idempotency_key] for d in drafts], fresh

    def post_within(self, conn: Connection, events: Sequence[Event]) -> tuple[list[Event], Callable[[], None]] | None:
        """Inside a writer's transaction: the hotline notices of ``events`` (its own few: a notification,
        an answer) stored with the write, so a notification and its notice are one commit and one
        signing. Returns their ``message.posted`` events, which the writer stages for the record with
        its own and publishes with them after the commit (one delivery), and their live delivery to
        the sockets, for after the commit; None when nothing was posted. The bus delivers ``events``
        to ``on_events`` later: it skips them.

        An event whose notice cannot be made here (a pair thread not made yet, a draft the hotline
        refuses) is left to ``on_events``, which posts it or reports why not, as for any other event:
        the write stands.
        """
        drafts: list[Draft] = []
        keys: list[str] = []
        for event in events:
            post = event_post(event)
            if post is None:
                continue
            refused: list[KeepclearError] = []
            made = self._post_drafts(post, lambda a, b: self._stored_pair_thread_id(conn, a, b), refused)
            try:
                for draft in made:
                    self._check(draft, system=True)
            except KeepclearError as exc:
                refused.append(exc)
            if not refused:
                drafts += made
                keys.append(event.id)
        if not drafts:
            return None
        _, fresh = self._store_system(conn, drafts, staged=False)
        self._posted_within.add(keys)
        return self._posted_events(fresh), lambda: self._deliver_live(fresh)

    def _announce(self, message: Message) -> None:
        self._announce_all([message])

    def _posted_events(self, messages: list[Message], conn: Connection | None = None) -> list[Event]:
        """One ``message.posted`` per message: what was said (a phrase's code and parameters, the
        text, the data) for the thread's members (``policy.message_audience``); the others' exports hold
        a placeholder for it."""
        return [
            Event(
                kind=EventKind.MESSAGE_POSTED,
                time_s=message.time_s,
                party_id=message.sender_party,
                payload=posted_payload(message),
                parties=frozenset(message_audience(self._thread_of(message.thread_id, conn).parties)),
            )
            for message in messages
        ]

    def _stage_posted(self, conn: Connection, messages: list[Message]) -> None:
        """The record entries of ``messages``, in the transaction that stores them."""
        stage(conn, self._posted_events(messages, conn))

    def _announce_all(self, messages: list[Message]) -> None:
        """After commit: live delivery first, then one ``message.posted`` each, handed to the bus
        together without waiting for the record: the message and its record entry are durable once
        committed, and the next posts must not queue behind the signing of ledger entries."""
        if not messages:
            return
        self._deliver_live(messages)
        self._events.publish_nowait(self._posted_events(messages))

    def _deliver_live(self, messages: list[Message]) -> None:
        """The listeners once with the whole batch (one hand-over per commit), in seq order."""
        batch = [(m, self._thread_of(m.thread_id)) for m in messages]
        for listener in self._listeners:
            listener(batch)

    def add_listener(self, listener: MessageListener) -> None:
        """Call ``listener([(message, thread), ...])`` after each commit of messages, in seq order (the
        live hub uses this: one hand-over per commit, not one per message)."""
        self._listeners = [*self._listeners, listener]

    # ---- reading

    def messages(self, party_id: str, thread_id: str, after_seq: int = 0, limit: int | None = None) -> list[Message]:
        """Messages of a thread ``party_id`` is a member of, after ``after_seq``, in order."""
        with self._db.read() as conn:
            self._member_thread(conn, thread_id, party_id)
            return store.messages_after(conn, thread_id, after_seq, limit)

    def resume_points(self, party_id: str, cursors: dict[str, int]) -> list[tuple[Thread, int]]:
        """Where a reconnecting client of ``party_id`` resumes: every thread of the party with its last
        sequence number; what it missed is read after its cursors a page at a time (``messages``), so
        a resume holds one page, whatever others posted meanwhile.

        Threads absent from ``cursors`` start from 0 (everything). Cursors naming threads the party is
        not a member of are ignored (the answer is the same as for threads that do not exist). A cursor
        beyond a thread's last message is refused: the client would silently skip what comes next.
        """
        with self._db.read() as conn:
            threads = store.threads_of(conn, party_id)
            last = store.last_seqs(conn, [t.id for t in threads])
        beyond = [
            f"cursors.{t.id}: {cursors[t.id]} is beyond the last message ({last[t.id]}) of the thread;"
            " resume from a cursor this deployment gave you"
            for t in threads
            if cursors.get(t.id, 0) > last[t.id]
        ]
        if beyond:
            raise ValidationError(beyond)
        return [(thread, last[thread.id]) for thread in threads]

    def heads(self, party_id: str) -> dict[str, int]:
        """The last sequence number of every thread ``party_id`` is a member of."""
        with self._db.read() as conn:
            threads = store.threads_of(conn, party_id)
            return store.last_seqs(conn, [t.id for t in threads])

    def view(self, message: Message, language: str) -> dict[str, Any]:
        """``message`` as a reader of ``language`` sees it."""
        return message_view(message, self.phrases, language)

    def language_of(self, party_id: str) -> str:
        """The language ``party_id`` reads phrases in."""
        with self._db.read() as conn:
            return registry_store.get_party(conn, party_id).language

    # ---- receipts

    def _receipt(self, party_id: str, person: str, thread_id: str, through_seq: int, kind: ReceiptKind) -> list[int]:
        if not isinstance(through_seq, int) or isinstance(through_seq, bool) or through_seq < 0:
            raise ValidationError([f"through_seq: {through_seq!r} is not a sequence number"])
        now_s = self._clock.now_s()
        with self._db.write() as conn:
            thread = self._member_thread(conn, thread_id, party_id)
            last = store.last_seqs(conn, [thread_id])[thread_id]
            if through_seq > last:
                raise ValidationError([f"through_seq: thread {thread_id!r} has only {last} messages"])
            seqs = store.advance_receipts(conn, thread_id, party_id, kind, through_seq, now_s, person)
            event = Event(
                kind=EventKind.MESSAGE_RECEIPT,
                time_s=now_s,
                party_id=party_id,
                payload={
                    "thread_id": thread_id,
                    "party_id": party_id,
                    "kind": kind.value,
                    "seqs": seqs,
                    "person": person,
                },
                parties=frozenset(thread.parties),
            )
            if seqs:
                stage(conn, [event])
        if seqs:
            self._events.emit(event)
        return seqs

    def mark_delivered(self, party_id: str, thread_id: str, through_seq: int) -> list[int]:
        """A client of ``party_id`` has every message up to ``through_seq``; returns the seqs newly receipted."""
        return self._receipt(party_id, "", thread_id, through_seq, ReceiptKind.DELIVERED)

    def mark_read(self, party_id: str, person: str, thread_id: str, through_seq: int) -> list[int]:
        """``person`` of ``party_id`` has read up to ``through_seq`` (read implies delivered)."""
        self._receipt(party_id, "", thread_id, through_seq, ReceiptKind.DELIVERED)
        return self._receipt(party_id, person, thread_id, through_seq, ReceiptKind.READ)

    def receipts(self, party_id: str, thread_id: str, seq: int) -> list[Receipt]:
        """Receipts of message ``seq``, per party and kind (any member may see them, the sender first of all)."""
        with self._db.read() as conn:
            self._member_thread(conn, thread_id, party_id)
            return store.receipts_for(conn, thread_id, seq)

    def ack_status(self, party_id: str, thread_id: str, seq: int) -> list[dict[str, Any]]:
        """Who was asked to acknowledge message ``seq``, who did, how far each escalation went."""
        with self._db.read() as conn:
            self._member_thread(conn, thread_id, party_id)
            rows = store.ack_status(conn, thread_id, seq)
        return [
            {
                "party_id": r.party_id,
                "deadline_s": r.deadline_s,
                "acked_s": r.acked_s,
                "acked_seq": r.acked_seq,
                "escalation_steps": r.steps_taken,
            }
            for r in rows
        ]

    # ---- deadlines and escalation

    def run_deadlines(self, now_s: float | None = None) -> list[Message]:
        """Take one escalation step for every overdue acknowledgement; returns the messages posted.

        Step k (from 1) calls contact k of the recipient's roster; once the roster is exhausted a
        last message says so and the escalation stops. Call it periodically (or from a test clock).
        """
        now_s = self._clock.now_s() if now_s is None else now_s
        with self._db.read() as conn:
            due = store.due_ack_requests(conn, now_s)
        posted: list[Message] = []
        for request in due:
            step = request.steps_taken + 1
            with self._db.write() as conn:
                current = [
                    r for r in store.ack_status(conn, request.thread_id, request.seq) if r.party_id == request.party_id
                ]
                if not current or current[0].next_due_s is None or current[0].steps_taken != request.steps_taken:
                    continue  # acknowledged or escalated meanwhile
                roster = registry_store.get_roster(conn, request.party_id)
                plan = escalation_step(
                    request.thread_id, request.seq, request.party_id, step, roster, now_s, request.step_s
                )
                message = self._append(conn, self._thread(conn, request.thread_id), None, SYSTEM_PERSON, plan.draft)
                store.record_escalation_step(
                    conn, request.thread_id, request.seq, request.party_id, step, plan.next_due_s
                )
                escalated = Event(
                    kind=EventKind.HOTLINE_ESCALATED,
                    time_s=now_s,
                    party_id=None,
                    payload={
                        "thread_id": request.thread_id,
                        "seq": request.seq,
                        "party_id": request.party_id,
                        "step": step,
                        "contact": plan.contact,
                        "exhausted": plan.next_due_s is None,
                    },
                    parties=frozenset(self._thread_of(request.thread_id, conn).parties),
                )
                self._stage_posted(conn, [message])
                stage(conn, [escalated])
            self._announce(message)
            self._events.emit(escalated)
            posted.append(message)
        return posted

    # ---- availability

    def set_availability(
        self, party_id: str, person: str, availability: Availability | str, reason: str = ""
    ) -> PartyAvailability:
        """``party_id`` declares its availability; a channel-status message goes into each of its threads."""
        try:
            value = Availability(availability)
        except ValueError:
            raise ValidationError(
                [f"availability: {availability!r} is not one of {', '.join(a.value for a in Availability)}"]
            ) from None
        if p := text_problem(reason, "reason"):
            raise ValidationError([p])
        if len(reason.encode("utf-8")) > 2000:
            raise ValidationError(["reason: longer than 2000 bytes"])
        now_s = self._clock.now_s()
        declared = PartyAvailability(party_id, value, now_s, person, reason.strip())
        posted: list[Message] = []
        concerned = {party_id}
        with self._db.write() as conn:
            registry_store.get_party(conn, party_id)
            previous = store.get_availability(conn, party_id)
            store.set_availability(conn, declared)
            if previous.availability != value:
                for thread in store.threads_of(conn, party_id):
                    key = f"status.{party_id}.{uuid.uuid4().hex}"
                    draft = status_draft(thread.id, party_id, value, previous.availability, declared.reason, key)
                    posted.append(self._append(conn, thread, party_id, person, draft))
                    concerned.update(thread.parties)
            changed = Event(
                kind=EventKind.PARTY_AVAILABILITY,
                time_s=now_s,
                party_id=party_id,
                payload={
                    "party_id": party_id,
                    "availability": value.value,
                    "reason": declared.reason,
                    "person": person,
                },
                parties=frozenset(concerned),
            )
            self._stage_posted(conn, posted)
            stage(conn, [changed])
        self._announce_all(posted)
        self._events.emit(changed)
        return declared

    def availability(self, party_id: str) -> PartyAvailability:
        """What ``party_id`` last declared."""
        with self._db.read() as conn:
            registry_store.get_party(conn, party_id)
            return store.get_availability(conn, party_id)

    # ---- the bus: standing threads, and other services' events posted into threads

    def on_event(self, event: Event) -> None:
        """Bus subscriber: standing threads for new parties; alerts, activities, incidents into threads."""
        self.on_events((event,))

    def on_events(self, events: Sequence[Event]) -> None:
        """Bus subscriber for batches: what ``on_event`` does, with one transaction for all the posts."""
        drafts: list[Draft] = []
        refusals: list[KeepclearError] = []
        storms = alert_storms(events, self.config.alert_summary_over)
        posts: list[EventPost] = [storm_post(pair, changes) for pair, changes in storms.items()]
        for event in events:
            if event.kind == EventKind.PARTY_ADDED:
                added = PartyAdded.from_payload(event.payload)
                with self._db.write() as conn:
                    for other in added.others:
                        self._ensure_pair(conn, added.party_id, other)
                continue
            if storms and event.kind in STORM_KINDS and tuple(sorted(event.parties)) in storms:
                continue  # in its pair's storm summary
            if self._posted_within.take(event.id):
                continue  # its notice was stored in its writer's transaction
            post = event_post(event)
            if post is not None:
                posts.append(post)
        for post in posts:  # a refused pair does not stop the others; the bus keeps the error
            drafts += self._post_drafts(post, self._pair_thread_id, refusals)
        self.post_system_many(drafts)
        if refusals:
            raise refusals[0]

    @staticmethod
    def _post_drafts(
        post: EventPost, thread_of: Callable[[str, str], str], refusals: list[KeepclearError]
    ) -> list[Draft]:
        """The drafts of ``post``: one in the standing thread of each of its pairs (``thread_of``); a
        pair whose thread ``thread_of`` refuses goes to ``refusals`` instead."""
        drafts = []
        for a, b in post.pairs:
            try:
                thread_id = thread_of(a, b)
            except KeepclearError as exc:
                refusals.append(exc)
                continue
            drafts.append(
                Draft(
                    thread_id=thread_id,
                    kind=post.kind,
                    idempotency_key=f"{post.key_prefix}.{thread_id}",
                    body=post.body,
                    data=post.data,
                )
            )
        return drafts

    def _pair_thread_id(self, a: str, b: str) -> str:
        """The id of the standing thread of ``a`` and ``b`` (made when missing), remembered once known."""
        thread_id = self._pair_threads.get(store.pair_key(a, b))
        return thread_id if thread_id is not None else self._remember_pair(a, b, self.ensure_pair_thread(a, b).id)

    def _stored_pair_thread_id(self, conn: Connection, a: str, b: str) -> str:
        """The id of the standing thread of ``a`` and ``b`` as ``conn`` reads it; a missing one is not
        made here (in a writer's transaction that may roll back, nothing is remembered that may not stand)."""
        thread_id = self._pair_threads.get(store.pair_key(a, b))
        if thread_id is not None:
            return thread_id
        stored = store.thread_id_for_pair(conn, a, b)
        if stored is None:
            raise NotFoundError(f"the standing thread of {a} and {b} is not made yet")
        return self._remember_pair(a, b, stored)

    def _remember_pair(self, a: str, b: str, thread_id: str) -> str:
        self._pair_threads[store.pair_key(a, b)] = thread_id
        return thread_id


def posted_payload(message: Message) -> dict[str, Any]:
    """The record payload of a posted message: where, who, and what was said.

    A phrase message carries its ``phrase`` (code and parameters, the same in every language), a
    free-text message its ``text`` (a phrase with a remark both); all their ``data`` and what they
    answer (``reply_to_seq``).
    """
    said: dict[str, Any] = {}
    if message.phrase is not None:
        said["phrase"] = {"code": message.phrase.code, "params": dict(message.phrase.params)}
    if message.body or message.phrase is None:
        said["text"] = message.body
    return {
        "thread_id": message.thread_id,
        "seq": message.seq,
        "kind": message.kind.value,
        "person": message.sender_person,
        "reply_to_seq": message.reply_to_seq,
        "ack_deadline_s": message.ack_deadline_s,
        **said,
        "data": message.data,
    }
