"""How events become the record's entries: which kinds it keeps, the outbox rows a writer stages in
its transaction (``stage``), and the entry drafts the signer (``signer``) appends from rows and
from events of state kept in memory.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import ACTIVITY_KINDS, EventKind
from keepclear.domain.events import Event
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.model import payload_text
from keepclear.services.record.kinds import IN_MEMORY_KINDS, RECORDED_KINDS
from keepclear.store import outbox

#: What an event kind looks like: short lower-case dotted words (``activity.late_notice``).
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_KIND_CHARS = 64


def recorded(kind: str) -> bool:
    """Does the record keep events of ``kind``? (``RECORDED_KINDS``; the ledger's own entries it writes itself.)"""
    return kind in RECORDED_KINDS


def in_memory(kind: str) -> bool:
    """Is ``kind`` the event of state kept in memory only (``IN_MEMORY_KINDS``: the signer appends it as delivered)?"""
    return kind in IN_MEMORY_KINDS


def _audience(event: Event) -> list[str] | None:
    return sorted(event.parties) if event.parties else None


def _audiences(event: Event) -> list[list[str] | None]:
    """The audience of each entry ``event`` is recorded as: one, its parties; but an activity's
    event that reaches several addressees is recorded once per addressee (with the notifier when the
    event names it), for each addressee reads its entry and its audience, and an addressee never
    learns who else was addressed (need to know: docs/need-to-know.md)."""
    others = event.parties - {event.party_id}
    if event.kind not in ACTIVITY_KINDS or len(others) < 2:
        return [_audience(event)]
    notifier = frozenset(p for p in event.parties if p == event.party_id)
    return [sorted(notifier | {party}) for party in sorted(others)]


def stage(conn: Connection, events: Iterable[Event], now_s: float | None = None) -> None:
    """Inside a writer's transaction: an outbox row for every event of ``events`` the record keeps.

    The entry's kind, acting party and time are the event's; its payload is the event payload; its
    audience is the event's parties (everyone when the event names none), an activity's event
    reaching several addressees one entry each (``_audiences``). A payload that is not
    canonical JSON, or a kind that is not a short lower-case dotted name (``KIND_PATTERN``), raises
    ``ValueError``, and the write with it: nothing unrecordable is stored. A full outbox raises
    ``outbox.OutboxFull`` (503): nothing is stored that the record could not take.
    """
    events = list(events)
    for event in events:
        if len(event.kind) > MAX_KIND_CHARS or not KIND_PATTERN.fullmatch(event.kind):
            raise ValueError(f"kind: {str(event.kind)!r} is not a short lower-case dotted name")
    kept = [event for event in events if recorded(event.kind) and not in_memory(event.kind)]
    rows = [
        (str(e.kind), e.party_id, e.time_s, text, audience)
        for e in kept
        for text in (payload_text(e.payload),)
        for audience in _audiences(e)
    ]
    outbox.stage(conn, rows, time.time() if now_s is None else now_s)


def admits_of(kind: str, payload: Any) -> str | None:
    """The party a ``party.added`` entry admits (its key is registered with it); None for other kinds."""
    if kind != EventKind.PARTY_ADDED:
        return None
    party_id = payload.get("party_id") if isinstance(payload, dict) else None
    return party_id if isinstance(party_id, str) else None


def draft_of(event: Event) -> EntryDraft:
    """The entry draft of an event whose state is kept in memory only (no outbox row: ``IN_MEMORY_KINDS``)."""
    # The ledger sorts an audience (once per distinct set in a batch).
    admits = admits_of(event.kind, event.payload)
    return EntryDraft(str(event.kind), event.party_id, event.payload, event.time_s, event.parties or None, None, admits)


def row_draft(row: outbox.StagedEntry) -> EntryDraft:
    """The entry draft of an outbox row."""
    # The outbox holds the canonical text ``stage`` wrote: the ledger takes it as it is (only an
    # admission's is read, for the party it admits).
    admits = None
    if row.kind == EventKind.PARTY_ADDED:
        try:
            admits = admits_of(row.kind, json.loads(row.payload))
        except (TypeError, ValueError):  # not JSON: the ledger refuses the row itself, and says why
            admits = None
    return EntryDraft(row.kind, row.party_id, None, row.time_s, row.audience, row.payload, admits)


def staged_row(draft: EntryDraft) -> tuple[str, str | None, float, str, Sequence[str] | None]:
    """An entry draft as an outbox row (a draft the signer keeps for a later try)."""
    audience = None if draft.audience is None else sorted(draft.audience)
    text = payload_text(draft.payload) if draft.text is None else draft.text
    return (draft.kind, draft.party_id, draft.time_s or time.time(), text, audience)
