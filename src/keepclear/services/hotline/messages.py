"""What the hotline says by itself, and how a message reads: pure builders the service uses.

Views for readers, the drafts of escalation steps and channel-status changes, and the mapping of
other services' events (alerts, activities, incidents) to messages in the right threads.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from keepclear.domain.event_kinds import ACTIVITY_KINDS, ALERT_KINDS, INCIDENT_KINDS, EventKind
from keepclear.domain.events import Event
from keepclear.domain.hotline import Availability, Draft, Message, MessageKind, PhraseUse
from keepclear.domain.parties import Contact
from keepclear.domain.phrases import PhraseCatalogue
from keepclear.domain.timefmt import format_utc
from keepclear.errors import ConflictError

_EVENT_KINDS = {
    EventKind.ALERT_ACKNOWLEDGED: MessageKind.ACKNOWLEDGEMENT,
    EventKind.ACTIVITY_ACKNOWLEDGED: MessageKind.ACKNOWLEDGEMENT,
}
_EVENT_FAMILIES = (
    (ALERT_KINDS, MessageKind.ALERT),
    (ACTIVITY_KINDS, MessageKind.NOTIFICATION),
    (INCIDENT_KINDS, MessageKind.INCIDENT_REPORT),
)
_STATUS_PHRASES = {
    Availability.AVAILABLE: "CHAVAIL",
    Availability.DEGRADED: "CHDEGRADED",
    Availability.SUSPENDED: "CHSUSPENDED",
}


def message_view(message: Message, catalogue: PhraseCatalogue, language: str, reader: str | None) -> dict[str, Any]:
    """The JSON view of ``message`` for a reader of party ``reader`` (None: keepclear's own tools) in
    ``language``: ``text`` is what the reader sees."""
    message = without_contact(message, reader)
    text = message.body
    if message.phrase is not None and message.phrase.code in catalogue:
        rendered = catalogue.render(message.phrase, language)
        text = f"{rendered}\n{message.body}" if message.body else rendered
    return {
        "thread_id": message.thread_id,
        "seq": message.seq,
        "kind": message.kind.value,
        "sender_party": message.sender_party,
        "sender_person": message.sender_person,
        "time": format_utc(message.time_s),
        "time_s": message.time_s,
        "idempotency_key": message.idempotency_key,
        "body": message.body,
        "phrase": None if message.phrase is None else {"code": message.phrase.code, "params": message.phrase.params},
        "text": text,
        "language": language,
        "reply_to_seq": message.reply_to_seq,
        "ack_deadline": None if message.ack_deadline_s is None else format_utc(message.ack_deadline_s),
        "data": message.data,
    }


def same_request(message: Message, draft: Draft) -> bool:
    """Whether ``draft`` asks for what ``message`` already says (a true retry)."""
    return (
        message.thread_id == draft.thread_id
        and message.kind == draft.kind
        and message.body == draft.body
        and message.phrase == draft.phrase
        and message.reply_to_seq == draft.reply_to_seq
    )


def key_reused(key: str, prior: Message) -> ConflictError:
    """The refusal of a key already used for other content."""
    return ConflictError(
        f"idempotency_key: {key!r} was already used for message {prior.seq} of thread {prior.thread_id!r}"
        " with other content; use a new key for a new message"
    )


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One escalation step: the message to post, who is called (``contact``: told to the overdue party
    alone, never in the message), how many contacts its roster has, when the next step is due (None:
    last)."""

    draft: Draft
    contact: str
    contacts: int
    next_due_s: float | None


def escalation_step(
    thread_id: str, seq: int, party_id: str, step: int, roster: list[Contact], now_s: float, step_s: float
) -> EscalationStep:
    """Step ``step`` (from 1) for ``party_id`` not acknowledging message ``seq``: contact ``step`` of the
    roster, or, past its end, the last message saying every contact was tried.

    The message, which every member of the thread reads (and the record keeps for them), says which
    step of how many, never who: a roster is its party's alone (docs/need-to-know.md), its contacts'
    names and roles included. ``contact`` names the one called, for the overdue party's own event.
    """
    ref = f"#{seq}"
    if step <= len(roster):
        contact = roster[step - 1]
        who = f"{contact.name} ({contact.role})" if contact.role else contact.name
        params = {"party": party_id, "ref": ref, "step": str(step), "contacts": str(len(roster))}
        phrase = PhraseUse("ESCALATE", params)
        next_due_s: float | None = now_s + step_s
    else:
        who, next_due_s = "", None
        phrase = PhraseUse("NOANSWER", {"party": party_id, "ref": ref})
    draft = Draft(
        thread_id,
        MessageKind.ESCALATION,
        f"esc.{thread_id}.{seq}.{party_id}.{step}"[:128],
        phrase=phrase,
        reply_to_seq=seq,
        data={"party_id": party_id, "step": step, "contacts": len(roster)},
    )
    return EscalationStep(draft, who, len(roster), next_due_s)


def without_contact(message: Message, reader: str | None) -> Message:
    """``message`` as ``reader`` may read it: an escalation message stored before escalations stopped
    naming the contact called (its phrase and ``data`` carry ``contact``) loses the name, except for the
    overdue party itself; every message that names no contact is returned as it is."""
    phrase = message.phrase
    if message.kind != MessageKind.ESCALATION or phrase is None or "contact" not in phrase.params:
        return message
    step = str(message.data.get("step", "?"))
    params = {"party": phrase.params.get("party", ""), "ref": phrase.params.get("ref", ""), "step": step}
    params["contacts"] = "?"  # not stored then
    data = {k: v for k, v in message.data.items() if k != "contact"}
    if reader is not None and reader == message.data.get("party_id"):
        params["contact"], data["contact"] = phrase.params["contact"], message.data.get("contact")
    return replace(message, phrase=PhraseUse(phrase.code, params), data=data)


def status_draft(
    thread_id: str, party_id: str, value: Availability, previous: Availability, reason: str, key: str
) -> Draft:
    """The channel-status message announcing ``party_id``'s availability in one of its threads."""
    return Draft(
        thread_id,
        MessageKind.CHANNEL_STATUS,
        key,
        body=reason,
        phrase=PhraseUse(_STATUS_PHRASES[value], {"party": party_id}),
        data={"party_id": party_id, "availability": value.value, "previous": previous.value},
    )


@dataclass(frozen=True, slots=True)
class EventPost:
    """What an event from another service becomes: a message of ``kind`` in each pair thread."""

    kind: MessageKind
    pairs: list[tuple[str, str]]
    body: str
    key_prefix: str
    data: dict[str, Any]


def event_post(event: Event) -> EventPost | None:
    """The messages ``event`` should post, or None for events the hotline does not carry.

    Alerts, activities and incidents go into the standing thread of each pair: the acting party with
    each other party concerned (also when the event is not told to the actor itself: a withdrawal
    goes to the dropped addressees only, each in its thread with the notifier, never in one between
    two of them, which would tell each that the other was addressed), or every pair when keepclear
    itself acts. Only the summary and the reference travel (the full record stays with its service:
    need to know). Conflicts are told on the streams and on the activities' own views, not here.
    """
    kind = _EVENT_KINDS.get(event.kind) or next((k for family, k in _EVENT_FAMILIES if event.kind in family), None)
    if kind is None or event.kind == EventKind.ACTIVITY_CONFLICT:
        return None
    parties = sorted(event.parties)
    if event.party_id is not None:
        pairs = [(event.party_id, p) for p in parties if p != event.party_id]
    else:
        pairs = [(a, b) for i, a in enumerate(parties) for b in parties[i + 1 :]]
    data = reference(event)
    data["say"] = say(event)
    ref = data["ref"]
    summary = event.payload.get("summary") or (
        alert_text(event) if event.kind in ALERT_KINDS else f"{event.kind} {ref or ''}".strip()
    )
    return EventPost(kind, pairs, str(summary)[:4000], f"evt.{_digest(event)}", data)


def reference(event: Event) -> dict[str, Any]:
    """What a hotline notice of ``event`` says it is about: the event, its subject's id (``ref``), who
    acted and, for an activity, the activity's id and version (to open it from the message)."""
    payload = event.payload
    raw_activity = payload.get("activity")
    activity: dict[str, Any] = raw_activity if isinstance(raw_activity, dict) else {}
    activity_id = payload.get("activity_id") or activity.get("id")
    ref = payload.get("id") or payload.get("alert_id") or activity_id
    data: dict[str, Any] = {"event": event.kind, "ref": ref, "by": event.party_id}
    if event.kind in ACTIVITY_KINDS and activity_id is not None:
        data["activity_id"] = activity_id
        data["version"] = payload.get("version") or activity.get("version")
    return data


#: Payload fields an incident or activity notice passes on as its parameters (plain values only).
_SAY_FIELDS = ("incident_id", "activity_id", "version", "kind", "status", "time_s", "zone_id", "zone_kind", "position")


def say(event: Event) -> dict[str, Any]:
    """What a notice of ``event`` says as a code (the event's kind) and parameters, so that a client
    renders it in its reader's language; the message's English ``body`` stays for other clients."""
    p = event.payload
    params: dict[str, Any] = {"ref": reference(event)["ref"] or p.get("incident_id"), "by": event.party_id}
    if event.kind in ALERT_KINDS:
        for name in ("alert_id", "level", "previous_level", "unit_a", "party_a", "unit_b", "party_b"):
            params[name] = p.get(name)
        params["acknowledged_by"] = list(p.get("acknowledged_by") or [])
        cpa = p.get("cpa") if event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED) else None
        if isinstance(cpa, dict) and {"tcpa_s", "dcpa_m", "vsep_cpa_m"} <= cpa.keys():
            params.update(tcpa_s=cpa["tcpa_s"], dcpa_m=cpa["dcpa_m"], vsep_m=abs(cpa["vsep_cpa_m"]))
    else:
        raw_activity = p.get("activity")
        activity: dict[str, Any] = raw_activity if isinstance(raw_activity, dict) else {}
        for name in _SAY_FIELDS:
            value = p.get(name, activity.get(name))
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                params[name] = value
        if isinstance(activity.get("kind"), str):
            params["activity_kind"] = activity["kind"]
        units = p.get("unit_ids")
        if isinstance(units, list):
            params["unit_ids"] = [str(u) for u in units]
    return {"code": event.kind, "params": params}


def _digest(event: Event) -> str:
    return hashlib.sha256(
        json.dumps([event.kind, event.time_s, event.payload], sort_keys=True, default=str).encode()
    ).hexdigest()[:24]


#: What an alert storm sums up, and how the summary counts each.
STORM_KINDS = {
    EventKind.ALERT_RAISED: "raised",
    EventKind.ALERT_LEVEL_CHANGED: "changed level",
    EventKind.ALERT_RESOLVED: "resolved",
    EventKind.ALERT_SEPARATION_LOST: "lost separation",
    EventKind.INCIDENT_OPENED: "incidents opened",
}


def alert_text(event: Event) -> str:
    """The line a liaison officer reads for an alert event: what, between whom, how close and when."""
    p = event.payload
    level = str(p.get("level", "")).upper()
    what = {
        EventKind.ALERT_RAISED: f"{level} alert {p.get('alert_id')} raised",
        EventKind.ALERT_LEVEL_CHANGED: f"alert {p.get('alert_id')} now {level} (was {str(p.get('previous_level')).upper()})",
        EventKind.ALERT_RESOLVED: f"alert {p.get('alert_id')} resolved (was {str(p.get('previous_level')).upper()})",
        EventKind.ALERT_SEPARATION_LOST: f"{level} alert {p.get('alert_id')}: SEPARATION LOST",
        EventKind.ALERT_ACKNOWLEDGED: f"alert {p.get('alert_id')} acknowledged by {', '.join(p.get('acknowledged_by', []))}",
    }.get(event.kind, f"{event.kind} {p.get('alert_id')}")
    text = f"{what}: {p.get('unit_a')} ({p.get('party_a')}) and {p.get('unit_b')} ({p.get('party_b')})"
    cpa = p.get("cpa") if event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED) else None
    if cpa:
        text += (
            f"; closest approach in {cpa['tcpa_s']:.0f} s at {cpa['dcpa_m'] / 1852.0:.1f} NM,"
            f" {abs(cpa['vsep_cpa_m']) / 0.3048:.0f} ft vertically"
        )
    return text


def alert_storms(events: Sequence[Event], over: int) -> dict[tuple[str, str], list[Event]]:
    """The alert changes of ``events`` (and the incidents they open) by pair of parties, for the pairs
    with more than ``over`` of them: a storm a liaison cell reads as one summary, not as hundreds of
    messages."""
    by_pair: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        if event.kind in STORM_KINDS and len(event.parties) == 2:
            a, b = sorted(event.parties)
            by_pair.setdefault((a, b), []).append(event)
    return {pair: changes for pair, changes in by_pair.items() if len(changes) > over}


def storm_post(pair: tuple[str, str], changes: Sequence[Event], listed: int = 50) -> EventPost:
    """One message summing up an alert storm between ``pair``; every alert stays in the alert list and the record."""
    kinds = Counter(STORM_KINDS[e.kind] for e in changes)
    levels = Counter(str(e.payload.get("level")) for e in changes if e.kind == EventKind.ALERT_RAISED)
    ids = [str(e.payload.get("alert_id") or e.payload.get("incident_id")) for e in changes]
    first, last = min(e.time_s for e in changes), max(e.time_s for e in changes)
    when = format_utc(first) if first == last else f"{format_utc(first)} to {format_utc(last)}"
    body = (
        f"ALERT STORM: {len(changes)} changes between {pair[0]} and {pair[1]} at {when}: "
        + ", ".join(f"{n} {k}" for k, n in kinds.items())
        + (
            "; raised by level: "
            + ", ".join(f"{levels[lv]} {lv}" for lv in ("warning", "caution", "advisory") if levels[lv])
            if levels
            else ""
        )
        + ". Each is in the alert or incident list and the record; first: "
        + ", ".join(ids[:5])
    )
    marks = (f"{e.kind}:{e.time_s!r}:{ref}:{e.payload.get('level')}" for e, ref in zip(changes, ids, strict=True))
    digest = hashlib.sha256("|".join(marks).encode()).hexdigest()[:24]
    data = {"event": "alert.storm", "count": len(changes), "changes": dict(kinds), "alerts": ids[:listed]}
    data["say"] = {
        "code": "alert.storm",
        "params": {
            "count": len(changes),
            "party_a": pair[0],
            "party_b": pair[1],
            "first_s": first,
            "last_s": last,
            "changes": dict(Counter(e.kind for e in changes)),
            "raised": {lv: levels[lv] for lv in ("warning", "caution", "advisory") if levels[lv]},
            "alerts": ids[:5],
        },
    }
    return EventPost(MessageKind.ALERT, [pair], body[:4000], f"evt.storm.{digest}", data)
