"""Typed event payloads and the wire form: round trips, and refusals that name the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import PAYLOAD_TYPES, AlertChange, MessageReceipt, schema_version
from keepclear.domain.event_wire import event_from_json, event_to_json, events_from_json, events_to_json
from keepclear.domain.events import Event
from keepclear.errors import ProblemCode, ValidationError

POINT = {"lat_deg": 35.1, "lon_deg": 40.2, "alt_m": 6000.0}
RAISED: dict[str, Any] = {
    "alert_id": "alert-000001",
    "unit_a": "jet",
    "unit_b": "heli",
    "party_a": "coalition",
    "party_b": "russia",
    "level": "caution",
    "level_number": 2,
    "raised_s": 1000.0,
    "previous_level": None,
    "time_s": 1000.0,
    "positions": {"jet": POINT, "heli": POINT},
    "cpa": {
        "t_in_s": 30.0,
        "t_out_s": 50.0,
        "tcpa_s": 40.0,
        "dcpa_m": 120.5,
        "vsep_cpa_m": -30.0,
        "los": True,
        "points": {"jet": POINT, "heli": POINT},
    },
}


def _refusal(call: Any, *args: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args)
    return caught.value


def test_a_typed_payload_reads_the_dict_producers_build_and_gives_it_back() -> None:
    alert = AlertChange.from_payload(RAISED)
    assert alert.cpa is not None and alert.cpa.points["jet"].alt_m == 6000.0
    assert alert.to_payload() == RAISED
    assert AlertChange.from_json(alert.to_json()) == alert
    assert json.loads(alert.to_json())["schema_version"] == AlertChange.SCHEMA_VERSION == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"colour": "red"}, "payload.colour: unknown field"),
        ({"level_number": "2"}, "payload.level_number: Input should be a valid integer"),
        ({"cpa": {**RAISED["cpa"], "dcpa_m": None}}, "payload.cpa.dcpa_m: Input should be a valid number"),
        ({"positions": {"jet": {"lat_deg": 1.0}}}, "payload.positions.jet.lon_deg: Field required"),
    ],
)
def test_a_wrong_field_is_refused_by_name(change: dict[str, Any], problem: str) -> None:
    error = _refusal(AlertChange.from_payload, {**RAISED, **change})
    assert problem in error.problems


def test_a_missing_field_is_refused_by_name() -> None:
    error = _refusal(AlertChange.from_payload, {k: v for k, v in RAISED.items() if k != "cpa"})
    assert error.problems == ["payload.cpa: Field required"]


@pytest.mark.parametrize("version", [2, 0, None, "1", True])
def test_a_version_this_build_does_not_read_is_refused(version: object) -> None:
    text = json.dumps(
        {"thread_id": "t", "party_id": "p", "kind": "read", "seqs": [1], "person": "x"} | {"schema_version": version}
    )
    error = _refusal(MessageReceipt.from_json, text)
    assert error.codes == [ProblemCode.UNKNOWN_VERSION]
    assert "this build reads (1)" in error.problems[0]


def test_every_payload_class_names_its_kinds_and_each_kind_has_one_class() -> None:
    for kind, cls in PAYLOAD_TYPES.items():
        assert kind in cls.KINDS and schema_version(kind) == cls.SCHEMA_VERSION
    assert schema_version(EventKind.THREAD_CREATED) == 1  # untyped kinds: version 1 of their plain form


def _event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": EventKind.ALERT_RAISED,
        "time_s": 1000.0,
        "party_id": None,
        "payload": RAISED,
        "parties": frozenset({"coalition", "russia"}),
    }
    return Event(**(fields | changes))


def test_an_event_crosses_the_wire_unchanged_with_a_stable_id() -> None:
    event = _event()
    again = event_from_json(event_to_json(event))
    assert again == event and again.id == event.id and type(again.kind) is EventKind
    assert event.id == _event().id and event.id.startswith("evt-")
    assert _event(time_s=1000.5).id != event.id
    assert _event(payload={**RAISED, "level": "warning"}).id != event.id
    assert _event(parties=frozenset({"coalition"})).id != event.id
    untyped = Event(EventKind.THREAD_CREATED, 5.0, "coalition", {"thread_id": "t-1", "anything": [1, 2]})
    assert event_from_json(event_to_json(untyped)) == untyped


def _wire(**changes: Any) -> str:
    document = json.loads(event_to_json(_event()))
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v != "DROP"})


@pytest.mark.parametrize(
    ("changes", "code", "problem"),
    [
        ({"kind": "alert.exploded"}, ProblemCode.UNKNOWN_KIND, "kind: 'alert.exploded' is not an event kind"),
        ({"schema_version": 2}, ProblemCode.UNKNOWN_VERSION, "schema_version: 2 is not a version"),
        ({"id": "evt-0"}, ProblemCode.INVALID, "id: 'evt-0' is not the id of this event"),
        ({"extra": 1}, ProblemCode.INVALID, "extra: unknown field"),
        ({"parties": "DROP"}, ProblemCode.INVALID, "parties: missing"),
        ({"time_s": "noon"}, ProblemCode.INVALID, "time_s: 'noon' is not a number"),
        ({"payload": {**RAISED, "level_number": 2.5}}, ProblemCode.INVALID, "payload.level_number: Input should be"),
    ],
)
def test_a_wrong_wire_document_is_refused_with_the_code_and_field(
    changes: dict[str, Any], code: ProblemCode, problem: str
) -> None:
    error = _refusal(event_from_json, _wire(**changes))
    assert code in error.codes
    assert any(p.startswith(problem) for p in error.problems), error.problems


def test_a_batch_crosses_the_wire_in_order_and_a_single_document_reads_as_one() -> None:
    events = [_event(time_s=1000.0 + k) for k in range(5)]
    assert events_from_json(events_to_json(events)) == events
    assert json.loads(events_to_json(events)) == {
        "batch_version": 1,
        "events": [json.loads(event_to_json(e)) for e in events],
    }
    assert events_from_json(event_to_json(events[0])) == events[:1]


@pytest.mark.parametrize(
    ("document", "code", "problem"),
    [
        ({"batch_version": 2, "events": []}, ProblemCode.UNKNOWN_VERSION, "batch_version: 2 is not a version"),
        ({"batch_version": 1, "events": []}, ProblemCode.INVALID, "events: must be a non-empty list"),
        ({"batch_version": 1}, ProblemCode.INVALID, "events: missing"),
        ({"batch_version": 1, "events": [], "more": 1}, ProblemCode.INVALID, "more: unknown field"),
        ({"batch_version": 1, "events": [1]}, ProblemCode.INVALID, "events/0: must be a JSON object"),
        (
            {"batch_version": 1, "events": ["GOOD", {**json.loads(_wire()), "kind": "alert.exploded"}]},
            ProblemCode.UNKNOWN_KIND,
            "events/1/kind: 'alert.exploded' is not an event kind",
        ),
        (
            {"batch_version": 1, "events": ["GOOD", {**json.loads(_wire()), "schema_version": 9}]},
            ProblemCode.UNKNOWN_VERSION,
            "events/1/schema_version: 9 is not a version",
        ),
    ],
)
def test_a_wrong_batch_is_refused_naming_the_event_by_index(
    document: dict[str, Any], code: ProblemCode, problem: str
) -> None:
    if "events" in document:
        document["events"] = [json.loads(_wire()) if e == "GOOD" else e for e in document["events"]]
    error = _refusal(events_from_json, json.dumps(document))
    assert code in error.codes
    assert any(p.startswith(problem) for p in error.problems), error.problems
