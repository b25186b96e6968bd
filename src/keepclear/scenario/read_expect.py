"""Reading what a scenario should show: its expectations (outcomes a run is checked against, naming
its activities, units, zones and parties) and its story beats (timed lines of narrative). Every
problem noted with its line."""

from __future__ import annotations

from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path
from keepclear.scenario.model import Expectation, ExpectationKind, StoryBeat

_EXPECT = frozenset({"kind", "activities", "units", "zone", "parties"})
_STORY = frozenset({"at", "text"})


def read_expectations(
    r: FieldReader, activity_refs: set[str], unit_ids: set[str], zone_ids: set[str], party_ids: set[str]
) -> list[Expectation]:
    """The ``expect`` section, each naming known activities, units, zones and parties."""
    out: list[Expectation] = []
    for i, _ in enumerate(r.sequence(("expect",), required=False)):
        p: Path = ("expect", i)
        r.mapping(p, _EXPECT, frozenset({"kind"}))
        kind_text = r.get((*p, "kind"))
        try:
            kind = ExpectationKind(kind_text)
        except ValueError:
            r.problem(
                (*p, "kind"), f"unknown kind {kind_text!r} (known: {', '.join(k.value for k in ExpectationKind)})"
            )
            continue
        refs: dict[str, list[str]] = {}
        for name, known in (("activities", activity_refs), ("units", unit_ids), ("parties", party_ids)):
            refs[name] = []
            for j, _ in enumerate(r.sequence((*p, name), required=False)):
                value = r.ident((*p, name, j))
                if value and value not in known:
                    r.problem((*p, name, j), f"no {name[:-1] if name != 'activities' else 'activity'} {value!r}")
                elif value:
                    refs[name].append(value)
        zone = r.ident((*p, "zone")) if r.has((*p, "zone")) else None
        if zone and zone not in zone_ids:
            r.problem((*p, "zone"), f"no zone {zone!r}")
        out.append(Expectation(kind, tuple(refs["activities"]), tuple(refs["units"]), zone, tuple(refs["parties"])))
    return out


def read_story(r: FieldReader, start_s: float | None, end_s: float | None) -> list[StoryBeat]:
    """The ``story`` beats between ``start_s`` and ``end_s``, by time."""
    out: list[StoryBeat] = []
    for i, _ in enumerate(r.sequence(("story",), required=False)):
        p: Path = ("story", i)
        r.mapping(p, _STORY, _STORY)
        at_s = r.time((*p, "at"))
        text = r.text((*p, "text"))
        if at_s is not None and start_s is not None and end_s is not None and not start_s <= at_s <= end_s:
            r.problem((*p, "at"), "must fall between the scenario's start and end")
        elif at_s is not None and text:
            out.append(StoryBeat(at_s, text))
    return sorted(out, key=lambda beat: beat.at_s)
