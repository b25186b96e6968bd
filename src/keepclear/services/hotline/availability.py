"""Availability: what each party declares of itself (available, degraded, suspended), told by a
channel-status message in each of its standing threads (one per other party) when it changes.

Only the standing threads: every other party has one with it, and ``party.availability`` reaches
each of them. Threads the others open with a party (up to ``max_hotline_threads_per_party`` each)
would let them make its every change thousands of messages and record entries in one transaction.
"""

from __future__ import annotations

import secrets

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.hotline import Availability, Draft, Message, PartyAvailability, Thread
from keepclear.domain.ids import RandomBits, random_id
from keepclear.domain.limits import text_problem
from keepclear.errors import KeepclearError, ValidationError
from keepclear.services.hotline.messages import status_draft
from keepclear.services.hotline.posting import Posting
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store

#: The longest reason a party may give, in bytes of UTF-8.
MAX_REASON_BYTES = 2000


class Availabilities:
    """The availability each party last declared."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        posting: Posting,
        random_bits: RandomBits = secrets.randbits,
    ) -> None:
        """``random_bits`` draws the idempotency keys of the channel-status messages (a replay passes a
        seeded one, so two replays post the same)."""
        self._db = db
        self._random_bits = random_bits
        self._clock = clock
        self._events = events
        self._posting = posting

    def declare(
        self, party_id: str, person: str, availability: Availability | str, reason: str = ""
    ) -> tuple[PartyAvailability, bool]:
        """``party_id`` declares its availability; a channel-status message goes into each of its standing
        threads when it changes, and ``party.availability`` to the parties of those threads.

        Returns (the declaration that stands, whether anything was stored). A repeat of the stored
        declaration (the same availability and reason) stores, records, posts and tells nothing: the
        stored one answers, its ``since`` unchanged (the API gives such a declaration its token back).
        A new reason for the same availability is stored and recorded for the party alone (nothing
        is posted to the others).
        """
        try:
            value = Availability(availability)
        except ValueError:
            raise ValidationError(
                [f"availability: {availability!r} is not one of {', '.join(a.value for a in Availability)}"]
            ) from None
        if p := text_problem(reason, "reason"):
            raise ValidationError([p])
        if len(reason.encode("utf-8")) > MAX_REASON_BYTES:
            raise ValidationError([f"reason: longer than {MAX_REASON_BYTES} bytes"])
        now_s = self._clock.now_s()
        declared = PartyAvailability(party_id, value, now_s, person, reason.strip())
        posted: list[Message] = []
        concerned = {party_id}
        with self._db.write() as conn:
            registry_store.get_party(conn, party_id)
            previous = store.get_availability(conn, party_id)
            if previous.since_s and previous.availability == value and previous.reason == declared.reason:
                return previous, False  # a repeat (since 0: never declared, so a first declaration is stored)
            store.set_availability(conn, declared)
            if previous.availability != value:
                told: list[tuple[Thread, Draft]] = []
                for thread, _ in store.threads_with_last_seq(conn, party_id, standing_only=True):
                    key = f"status.{party_id}.{random_id('k', self._random_bits)}"
                    told.append(
                        (thread, status_draft(thread.id, party_id, value, previous.availability, declared.reason, key))
                    )
                    concerned.update(thread.parties)
                # One batch: the threads' rows, then the unread counts, locked once each in order.
                for answer in self._posting.append_batch(conn, party_id, person, told):
                    if isinstance(answer, KeepclearError):
                        raise answer
                    posted.append(answer)
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
            self._posting.stage_posted(conn, posted)
            stage(conn, [changed])
        self._posting.announce_all(posted)
        self._events.emit(changed)
        return declared, True

    def of(self, party_id: str) -> PartyAvailability:
        """What ``party_id`` last declared."""
        with self._db.read() as conn:
            registry_store.get_party(conn, party_id)
            return store.get_availability(conn, party_id)
