"""Acknowledgement deadlines: who was asked to acknowledge a message, who did, and the escalation of
every overdue party one roster contact at a time (each step a message in the thread)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.hotline import Message
from keepclear.services.hotline.config import HotlineConfig
from keepclear.services.hotline.messages import EscalationStep, escalation_step
from keepclear.services.hotline.posting import SYSTEM_PERSON, Posting
from keepclear.services.hotline.threads import Threads
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store

#: Due requests read at a time (each is stepped in its own transaction): a flood of them, a party
#: asking thousands of messages to be acknowledged at once, is never held in memory whole.
DUE_PAGE = 500


class Escalation:
    """The deadlines of acknowledgement requests and their escalation."""

    def __init__(
        self, db: Database, clock: Clock, events: EventSink, config: HotlineConfig, threads: Threads, posting: Posting
    ) -> None:
        self._db = db
        self._config = config
        self._clock = clock
        self._events = events
        self._threads = threads
        self._posting = posting

    def ack_status(self, party_id: str, thread_id: str, seq: int) -> list[dict[str, Any]]:
        """Who was asked to acknowledge message ``seq``, who did, how far each escalation went."""
        with self._db.read() as conn:
            self._threads.of_member(conn, thread_id, party_id)
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

    def run_deadlines(self, now_s: float | None = None, *, max_batches: int | None = None) -> list[Message]:
        """Take one escalation step for every overdue acknowledgement (those of the first
        ``max_batches`` pages of ``DUE_PAGE``, oldest first); returns the messages posted.

        Step k (from 1) calls contact k of the recipient's roster; once the roster is exhausted a
        last message says so and the escalation stops. Steps of one request are at least
        ``min_escalation_step_s`` apart, requests stored before that bound included. Call it
        periodically (or from a test clock).
        """
        now_s = self._clock.now_s() if now_s is None else now_s
        posted: list[Message] = []
        pages = 0
        while True:
            with self._db.read() as conn:
                due = store.due_ack_requests(conn, now_s, limit=DUE_PAGE)
            stepped = [m for m in (self._step(request, now_s) for request in due) if m is not None]
            posted += stepped
            pages += 1
            if len(due) < DUE_PAGE or not stepped or pages == max_batches:  # all taken meanwhile: next tick
                return posted

    def _step(self, request: Row[Any], now_s: float) -> Message | None:
        """One escalation step of ``request`` in its own transaction; None when it was acknowledged or
        escalated meanwhile."""
        step = request.steps_taken + 1
        with self._db.write() as conn:
            current = [
                r for r in store.ack_status(conn, request.thread_id, request.seq) if r.party_id == request.party_id
            ]
            if not current or current[0].next_due_s is None or current[0].steps_taken != request.steps_taken:
                return None  # acknowledged or escalated meanwhile
            roster = registry_store.get_roster(conn, request.party_id)
            step_s = max(request.step_s, self._config.min_escalation_step_s)
            plan = escalation_step(request.thread_id, request.seq, request.party_id, step, roster, now_s, step_s)
            thread = self._threads.get(conn, request.thread_id)
            message = self._posting.append(conn, thread, None, SYSTEM_PERSON, plan.draft)
            store.record_escalation_step(conn, request.thread_id, request.seq, request.party_id, step, plan.next_due_s)
            members = frozenset(self._threads.known(request.thread_id, conn).parties)
            told = escalated_events(request, step, plan, members, now_s)
            self._posting.stage_posted(conn, [message])
            stage(conn, told)
        self._posting.announce_all([message])
        self._events.publish(told)
        return message


def escalated_events(
    request: Row[Any], step: int, plan: EscalationStep, members: frozenset[str], now_s: float
) -> list[Event]:
    """``hotline.escalated`` of one step, twice: to the thread's other members which step of how many
    contacts (``contact`` null), and to the overdue party alone the contact it called. A roster is its
    party's alone: its contacts' names and roles reach no other party's stream, socket or record."""
    payload = {
        "thread_id": request.thread_id,
        "seq": request.seq,
        "party_id": request.party_id,
        "step": step,
        "contacts": plan.contacts,
        "contact": None,
        "exhausted": plan.next_due_s is None,
    }
    overdue = frozenset({request.party_id})
    own = {**payload, "contact": plan.contact or None}
    return [
        Event(EventKind.HOTLINE_ESCALATED, now_s, None, payload, members - overdue),
        Event(EventKind.HOTLINE_ESCALATED, now_s, None, own, overdue),
    ]
