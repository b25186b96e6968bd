"""Posting: each message stored as the next of its thread (gapless, totally ordered), its record entry
in the same transaction, and after the commit its live delivery and its ``message.posted`` event.

A message is reported accepted (returned, and announced) only after its transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.hotline import SYSTEM_KINDS, Draft, Message, MessageKind, Thread, draft_problems
from keepclear.domain.phrases import PhraseCatalogue
from keepclear.errors import KeepclearError, NotFoundError, ProblemCode, ValidationError, code_of
from keepclear.services.hotline.config import HotlineConfig
from keepclear.services.hotline.messages import key_reused, same_request
from keepclear.services.hotline.threads import Threads
from keepclear.services.policy import message_audience
from keepclear.services.quota import Quota
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store

#: The sending person of the messages keepclear posts itself.
SYSTEM_PERSON = "keepclear"
MessageListener = Callable[[list[tuple[Message, Thread]]], None]


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


class Posting:
    """Stores drafts as messages (the parties' and keepclear's own) and tells of them after commit."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        phrases: PhraseCatalogue,
        config: HotlineConfig,
        threads: Threads,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._phrases = phrases
        self._config = config
        self._threads = threads
        self._listeners: list[MessageListener] = []
        #: The acknowledgement requests one party may have outstanding towards others; its refusals
        #: are ``hotline_ack_requests_refused_limit_total``.
        self.ack_quota = Quota(config.max_ack_requests_per_party)

    def check(self, draft: Draft, *, system: bool = False) -> None:
        """Refuse a bad draft; keepclear's own (``system``) need not reply to a message of the thread."""
        problems = draft_problems(draft, self._config.limits)
        if system:
            problems = [p for p in problems if code_of(p) is not ProblemCode.REPLY_TO_REQUIRED]
        if draft.phrase is not None:
            problems += self._phrases.use_problems(draft.phrase)
        if not problems and draft.ack_within_s is not None and draft.ack_within_s < self._config.min_ack_within_s:
            least_s = self._config.min_ack_within_s
            problems.append(
                f"ack_within_s: {draft.ack_within_s:g} s is shorter than the shortest acknowledgement window a"
                f" post may ask, {least_s:g} s (hotline_min_ack_within_s): ask {least_s:g} s or more"
            )
        if problems:
            raise ValidationError(problems)

    # ---- storing, in the writer's transaction

    def append_batch(
        self, conn: Connection, sender_party: str | None, sender_person: str, items: list[tuple[Thread, Draft]]
    ) -> list[Message | KeepclearError]:
        """Store each draft as the next message of its thread, in order; open or settle ack requests.

        Sequence numbers are reserved first, which locks the threads' rows (SQLite has one writer anyway),
        so they stay gapless and totally ordered even across processes. A party's draft asking more
        acknowledgements than its bound leaves (``max_ack_requests_per_party``) is refused (409).
        """
        outstanding = self._lock_ack_requests(conn, sender_party, [draft for _, draft in items])
        counts: dict[str, int] = {}
        for thread, _ in items:
            counts[thread.id] = counts.get(thread.id, 0) + 1
        now_s = self._clock.now_s()
        last = store.reserve_seqs(conn, counts, now_s)
        reserved = {thread_id: last[thread_id] + n for thread_id, n in counts.items()}
        out: list[Message | KeepclearError] = []
        new: list[tuple[Thread, Draft, Message]] = []
        for thread, draft in items:
            seq = last[thread.id] + 1
            if draft.reply_to_seq is not None and draft.reply_to_seq >= seq:
                out.append(NotFoundError(f"reply_to_seq: thread {thread.id!r} has no message {draft.reply_to_seq}"))
                continue
            if outstanding is not None and sender_party is not None and draft.ack_within_s is not None:
                asking = sum(1 for p in thread.parties if p != sender_party)
                if not self.ack_quota.allows(outstanding, asking):
                    out.append(self._ack_requests_refused(sender_party, outstanding, asking))
                    continue
                outstanding += asking
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
                step_s = self._config.escalation_spacing_s(draft.ack_within_s)
                store.insert_ack_requests(conn, thread.id, message.seq, recipients, message.ack_deadline_s, step_s)
            if draft.kind == MessageKind.ACKNOWLEDGEMENT and draft.reply_to_seq is not None and sender_party:
                store.settle_ack_request(conn, thread.id, draft.reply_to_seq, sender_party, now_s, message.seq)
        return out

    def _lock_ack_requests(self, conn: Connection, sender_party: str | None, drafts: list[Draft]) -> int | None:
        """The acknowledgement requests ``sender_party`` has outstanding, counted with its row locked
        (before the threads' rows, the order every writer takes) when one of ``drafts`` asks more, so
        that processes posting for it at the same moment count one after the other; None when none asks
        or keepclear itself posts."""
        if sender_party is None or all(d.ack_within_s is None for d in drafts):
            return None
        registry_store.lock_party(conn, sender_party)
        return store.outstanding_ack_requests(conn, sender_party)

    def _ack_requests_refused(self, sender_party: str, outstanding: int, asking: int) -> KeepclearError:
        """The 409 of a post asking ``asking`` acknowledgements past its party's bound (counted)."""
        return self.ack_quota.refused(
            f"party {sender_party} has {outstanding} acknowledgement requests outstanding towards other parties and"
            f" this post asks {asking} more, past the most one party may have (max_hotline_ack_requests_per_party:"
            f" {self.ack_quota.most}); nothing was stored: post it without ack_within_s, or again once recipients"
            " have acknowledged or their escalation has ended"
        )

    def append(
        self, conn: Connection, thread: Thread, sender_party: str | None, sender_person: str, draft: Draft
    ) -> Message:
        """Store one draft (see ``append_batch``); raises its refusal."""
        (answer,) = self.append_batch(conn, sender_party, sender_person, [(thread, draft)])
        if isinstance(answer, KeepclearError):
            raise answer
        return answer

    # ---- the parties' posts

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
                self.check(draft)
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
                self.stage_posted(conn, posted)
        done = [a for a in answers if a is not None]
        self.announce_all(posted)
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
                    to_append.append((i, self._threads.of_member(conn, draft.thread_id, sender_party), draft))
                except NotFoundError as exc:
                    answers[i] = exc
        stored = self.append_batch(conn, sender_party, sender_person, [(t, d) for _, t, d in to_append])
        for (i, _, _), result in zip(to_append, stored, strict=True):
            answers[i] = result if isinstance(result, KeepclearError) else (result, True)
        for i, first in repeats:
            original = answers[first]
            if isinstance(original, tuple):
                same = same_request(original[0], drafts[i])
                answers[i] = (original[0], False) if same else key_reused(drafts[i].idempotency_key, original[0])
            else:
                answers[i] = original

    # ---- keepclear's own posts

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
            self.check(draft, system=True)
        if not drafts:
            return []
        with self._db.write() as conn:
            answers, new = self.store_system(conn, drafts)
        self.announce_all(new)
        return answers

    def store_system(
        self, conn: Connection, drafts: Sequence[Draft], *, staged: bool = True
    ) -> tuple[list[Message], list[Message]]:
        """Store checked system drafts in ``conn``'s transaction, with their record entries unless
        ``staged`` is false: (the message answering each draft, the messages new to the store); a
        repeated key answers its first."""
        answers: dict[str, Message] = store.find_by_keys(conn, None, [d.idempotency_key for d in drafts])
        new: dict[str, tuple[Thread, Draft]] = {}
        for draft in drafts:
            if draft.idempotency_key not in answers:
                new.setdefault(draft.idempotency_key, (self._threads.get(conn, draft.thread_id), draft))
        stored = self.append_batch(conn, None, SYSTEM_PERSON, list(new.values()))
        for key, message in zip(new, stored, strict=True):
            if isinstance(message, KeepclearError):
                raise message
            answers[key] = message
        fresh = [answers[key] for key in new]
        if staged:
            self.stage_posted(conn, fresh)
        return [answers[d.idempotency_key] for d in drafts], fresh

    # ---- telling of them

    def posted_events(self, messages: list[Message], conn: Connection | None = None) -> list[Event]:
        """One ``message.posted`` per message: what was said (a phrase's code and parameters, the
        text, the data) for the thread's members (``policy.message_audience``); the others' exports hold
        a placeholder for it."""
        return [
            Event(
                kind=EventKind.MESSAGE_POSTED,
                time_s=message.time_s,
                party_id=message.sender_party,
                payload=posted_payload(message),
                parties=frozenset(message_audience(self._threads.known(message.thread_id, conn).parties)),
            )
            for message in messages
        ]

    def stage_posted(self, conn: Connection, messages: list[Message]) -> None:
        """The record entries of ``messages``, in the transaction that stores them."""
        stage(conn, self.posted_events(messages, conn))

    def announce_all(self, messages: list[Message]) -> None:
        """After commit: live delivery first, then one ``message.posted`` each, handed to the bus
        together without waiting for the record: the message and its record entry are durable once
        committed, and the next posts must not queue behind the signing of ledger entries."""
        if not messages:
            return
        self.deliver_live(messages)
        self._events.publish_nowait(self.posted_events(messages))

    def deliver_live(self, messages: list[Message]) -> None:
        """The listeners once with the whole batch (one hand-over per commit), in seq order."""
        batch = [(m, self._threads.known(m.thread_id)) for m in messages]
        for listener in self._listeners:
            listener(batch)

    def add_listener(self, listener: MessageListener) -> None:
        """Call ``listener([(message, thread), ...])`` after each commit of messages, in seq order (the
        live hub uses this: one hand-over per commit, not one per message)."""
        self._listeners = [*self._listeners, listener]
