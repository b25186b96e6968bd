"""An event as one JSON document: the form events take between processes (the bus over NATS, issue 20).

``{"id", "kind", "schema_version", "time_s", "party_id", "parties", "payload"}``: ``payload`` is the
event's payload as is (the record signs those very values, so a process that records an event it
received records the same bytes), ``schema_version`` the version of its kind's form
(``event_payloads``), ``id`` the event's stable id (``Event.id``: the same event always has the same
id, so a receiver drops a repeat). Reading checks everything: a known kind, the version this build
reads, the id against the content, and the payload against its kind's typed form where it has one.

Several events go as one document, ``{"batch_version": 1, "events": [<event document>, …]}`` in
order (one message on the bus carries a run of events: the per-message cost is paid once);
``events_from_json`` reads either form, naming the index of an event that does not read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payload_base import check_version, json_object
from keepclear.domain.event_payloads import PAYLOAD_TYPES, schema_version
from keepclear.domain.events import Event
from keepclear.errors import Problem, ProblemCode, ValidationError

#: The members of the document, exactly.
WIRE_FIELDS = frozenset({"id", "kind", "schema_version", "time_s", "party_id", "parties", "payload"})


#: The members of a batch document, exactly, and the version of its form this build writes and reads.
BATCH_FIELDS = frozenset({"batch_version", "events"})
BATCH_VERSION = 1


def _document(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "schema_version": schema_version(event.kind),
        "time_s": event.time_s,
        "party_id": event.party_id,
        "parties": sorted(event.parties),
        "payload": event.payload,
    }


def event_to_json(event: Event) -> str:
    """``event`` as its wire document (JSON text)."""
    return json.dumps(_document(event), allow_nan=False, separators=(",", ":"))


def events_to_json(events: Sequence[Event]) -> str:
    """``events`` as one batch document (JSON text), in order."""
    return batch_of_documents([event_to_json(e).encode() for e in events]).decode()


def batch_of_documents(documents: Sequence[bytes]) -> bytes:
    """The batch document of event documents already serialised (``event_to_json``), in order: what
    ``events_to_json`` gives, without serialising each event again."""
    return b'{"batch_version":%d,"events":[%s]}' % (BATCH_VERSION, b",".join(documents))


def event_from_json(text: str | bytes) -> Event:
    """The event of a wire document; ``ValidationError`` naming each thing wrong with it."""
    return _event(json_object(text, "event"))


def events_from_json(text: str | bytes) -> list[Event]:
    """The events of a wire document: one event's, or a batch's in order; ``ValidationError`` naming
    each thing wrong (``events/<index>/<field>`` in a batch)."""
    document = json_object(text, "event")
    if "batch_version" not in document:
        return [_event(document)]
    problems = [Problem(name, ProblemCode.INVALID, "unknown field") for name in sorted(document.keys() - BATCH_FIELDS)]
    problems += [Problem(name, ProblemCode.INVALID, "missing") for name in sorted(BATCH_FIELDS - document.keys())]
    if problems:
        raise ValidationError(problems)
    check_version("event batches", BATCH_VERSION, document["batch_version"], "batch_version")
    items = document["events"]
    if not isinstance(items, list) or not items:
        raise ValidationError([Problem("events", ProblemCode.INVALID, "must be a non-empty list of events")])
    events = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValidationError([Problem("", ProblemCode.INVALID, "must be a JSON object")])
            events.append(_event(item))
        except ValidationError as exc:
            raise ValidationError(
                [
                    Problem(
                        "/".join(filter(None, ("events", str(index), getattr(p, "field", "")))),
                        getattr(p, "code", ProblemCode.INVALID),
                        str(p).removeprefix(f"{getattr(p, 'field', '')}: "),
                    )
                    for p in exc.problems
                ]
            ) from None
    return events


def _event(document: dict[str, Any]) -> Event:
    problems = [Problem(name, ProblemCode.INVALID, "unknown field") for name in sorted(document.keys() - WIRE_FIELDS)]
    problems += [Problem(name, ProblemCode.INVALID, "missing") for name in sorted(WIRE_FIELDS - document.keys())]
    if problems:
        raise ValidationError(problems)
    kind = _kind(document["kind"])
    check_version(f"{kind} events", schema_version(kind), document["schema_version"])
    time_s, party_id, parties = _time_s(document["time_s"]), _party(document["party_id"]), _parties(document["parties"])
    event = Event(kind, time_s, party_id, _payload(kind, document["payload"]), parties)
    if document["id"] != event.id:
        raise ValidationError([Problem("id", ProblemCode.INVALID, f"{document['id']!r} is not the id of this event")])
    return event


def _kind(value: Any) -> EventKind:
    try:
        return EventKind(value)
    except ValueError:
        raise ValidationError([Problem("kind", ProblemCode.UNKNOWN_KIND, f"{value!r} is not an event kind")]) from None


def _time_s(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError([Problem("time_s", ProblemCode.INVALID, f"{value!r} is not a number")])
    return value


def _party(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError([Problem("party_id", ProblemCode.INVALID, f"{value!r} is not a party id or null")])
    return value


def _parties(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ValidationError([Problem("parties", ProblemCode.INVALID, "must be a list of party ids")])
    return frozenset(value)


def _payload(kind: EventKind, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError([Problem("payload", ProblemCode.INVALID, "must be a JSON object")])
    typed = PAYLOAD_TYPES.get(kind)
    if typed is not None:
        typed.from_payload(value)
    return value
