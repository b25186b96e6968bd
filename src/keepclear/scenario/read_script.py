"""Reading a scenario's script: the activities its parties notify and the hotline messages they
post, each with when the addressees acknowledge (``acks``). Every problem noted with its line."""

from __future__ import annotations

from keepclear.scenario.activity_body import read_activity_body
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path
from keepclear.scenario.model import ScriptedActivity, ScriptedMessage

_ACTIVITY = frozenset({"ref", "party", "notify_at", "acks", "body"})
_MESSAGE = frozenset({"ref", "at", "from", "to", "thread", "text", "phrase", "params", "reply_to", "acks"})


def _acks(r: FieldReader, p: Path, allowed: set[str]) -> dict[str, float | None]:
    raw = r.get(p)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        r.problem(p, "must map party ids to a delay in seconds, or none (never)")
        return {}
    out: dict[str, float | None] = {}
    for party in raw:
        if party not in allowed:
            r.problem((*p, party), f"{party!r} is not an addressee (addressees: {', '.join(sorted(allowed))})")
            continue
        ok, delay_s = r.delay((*p, party))
        if ok:
            out[party] = delay_s
    return out


def read_activities(r: FieldReader, party_ids: set[str], unit_party: dict[str, str]) -> list[ScriptedActivity]:
    """The scripted ``activities``, each notified by one of ``party_ids`` (``unit_party``: each
    unit's party, which the body's units must belong to)."""
    out: list[ScriptedActivity] = []
    seen: set[str] = set()
    for i, _ in enumerate(r.sequence(("activities",), required=False)):
        p: Path = ("activities", i)
        r.mapping(p, _ACTIVITY, frozenset({"ref", "party", "notify_at", "body"}))
        ref, party = r.ident((*p, "ref")), r.ident((*p, "party"))
        if ref in seen:
            r.problem((*p, "ref"), f"{ref!r} is used twice")
        if party and party not in party_ids:
            r.problem((*p, "party"), f"no party {party!r}")
            party = None
        notify_at_s = r.time((*p, "notify_at"))
        body = read_activity_body(r, (*p, "body"), party, party_ids, unit_party)
        addressees = set(body.get("addressees", [])) if body else set()
        acks = _acks(r, (*p, "acks"), addressees)
        if ref and party and notify_at_s is not None and body is not None:
            seen.add(ref)
            out.append(ScriptedActivity(ref, party, notify_at_s, body, acks))
    return out


def read_messages(r: FieldReader, party_ids: set[str]) -> list[ScriptedMessage]:
    """The scripted ``hotline`` messages between ``party_ids``; a reply names an earlier message."""
    out: list[ScriptedMessage] = []
    seen: set[str] = set()
    for i, _ in enumerate(r.sequence(("hotline",), required=False)):
        p: Path = ("hotline", i)
        r.mapping(p, _MESSAGE, frozenset({"ref", "at", "from", "to"}))
        ref, sender = r.ident((*p, "ref")), r.ident((*p, "from"))
        at_s = r.time((*p, "at"))
        if sender and sender not in party_ids:
            r.problem((*p, "from"), f"no party {sender!r}")
            sender = None
        recipients: list[str] = []
        for j, _ in enumerate(r.sequence((*p, "to"))):
            to = r.ident((*p, "to", j))
            if to and to not in party_ids:
                r.problem((*p, "to", j), f"no party {to!r}")
            elif to == sender:
                r.problem((*p, "to", j), "a party does not message itself")
            elif to:
                recipients.append(to)
        text = r.text((*p, "text"), required=False, default="") or None
        phrase = r.text((*p, "phrase"), required=False, default="") or None
        if (text is None) == (phrase is None):
            r.problem(p, "give exactly one of text (free text) or phrase (a standard phrase code)")
        params = r.get((*p, "params")) or {}
        if not isinstance(params, dict):
            r.problem((*p, "params"), "must be a mapping of phrase parameters")
            params = {}
        elif params and phrase is None:
            r.problem((*p, "params"), "only a phrase takes params")
        reply_to = r.ident((*p, "reply_to")) if r.has((*p, "reply_to")) else None
        if reply_to is not None and reply_to not in seen:
            r.problem((*p, "reply_to"), f"no earlier message {reply_to!r}")
        thread = r.ident((*p, "thread")) if r.has((*p, "thread")) else ref
        acks = _acks(r, (*p, "acks"), set(recipients))
        if ref in seen:
            r.problem((*p, "ref"), f"{ref!r} is used twice")
        if ref and sender and at_s is not None and recipients and thread:
            seen.add(ref)
            out.append(
                ScriptedMessage(ref, at_s, sender, tuple(recipients), thread, text, phrase, params, reply_to, acks)
            )
    return out
