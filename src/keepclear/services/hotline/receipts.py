"""Receipts: a party's clients got (delivered) or its people read messages of a thread, cumulative
per party; each advance recorded and told to the thread's members (``message.receipt``)."""

from __future__ import annotations

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.hotline import Receipt, ReceiptKind
from keepclear.errors import ValidationError
from keepclear.services.hotline.threads import Threads
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import hotline as store


class Receipts:
    """Delivered and read receipts of the parties."""

    def __init__(self, db: Database, clock: Clock, events: EventSink, threads: Threads) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._threads = threads

    def _advance(self, party_id: str, person: str, thread_id: str, through_seq: int, kind: ReceiptKind) -> list[int]:
        if not isinstance(through_seq, int) or isinstance(through_seq, bool) or through_seq < 0:
            raise ValidationError([f"through_seq: {through_seq!r} is not a sequence number"])
        now_s = self._clock.now_s()
        with self._db.write() as conn:
            thread = self._threads.of_member(conn, thread_id, party_id)
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
        return self._advance(party_id, "", thread_id, through_seq, ReceiptKind.DELIVERED)

    def mark_read(self, party_id: str, person: str, thread_id: str, through_seq: int) -> list[int]:
        """``person`` of ``party_id`` has read up to ``through_seq`` (read implies delivered)."""
        self._advance(party_id, "", thread_id, through_seq, ReceiptKind.DELIVERED)
        return self._advance(party_id, person, thread_id, through_seq, ReceiptKind.READ)

    def of_message(self, party_id: str, thread_id: str, seq: int) -> list[Receipt]:
        """Receipts of message ``seq``, per party and kind (any member may see them, the sender first of all)."""
        with self._db.read() as conn:
            self._threads.of_member(conn, thread_id, party_id)
            return store.receipts_for(conn, thread_id, seq)
