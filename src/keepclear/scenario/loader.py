"""Load and validate a scenario: one YAML file plus the GeoJSON of its zones.

Every problem is reported at once, each naming the file, the line and the field
(``euphrates.yaml line 88: units[4].route[2].alt_ft: must be a finite number, got 'high'``).
Nothing is repaired. The format is described in ``docs/scenarios.md``.

The parts are read one concept a module: parties and forces (``read_parties``), units
(``read_units``), the script (``read_script``), zones and sensors (``read_world``), expectations
and story (``read_expect``); the bundled packs are ``packs``.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any

from keepclear.errors import ValidationError
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import load_located, read_utf8
from keepclear.scenario.model import Scenario
from keepclear.scenario.packs import PACKS_FOLDER, SCENARIO_FILE, pack_names, pack_path
from keepclear.scenario.read_expect import read_expectations, read_story
from keepclear.scenario.read_parties import read_forces, read_parties
from keepclear.scenario.read_script import read_activities, read_messages
from keepclear.scenario.read_units import read_plans
from keepclear.scenario.read_world import read_sensors, read_zones

__all__ = [
    "PACKS_FOLDER",
    "SCENARIO_FILE",
    "load_scenario",
    "pack_names",
    "pack_path",
    "parse_scenario",
    "resolve_scenario",
    "scenario_document",
]

_TOP = frozenset({"scenario", "parties", "forces", "units", "activities", "hotline", "sensors", "expect", "story"})
_SCENARIO = frozenset({"id", "name", "description", "start", "end", "seed", "zones"})


def parse_scenario(text: str, source: str = "<scenario>", base: FilePath | None = None) -> Scenario:
    """Validate scenario YAML ``text``; ``base`` is the folder its zones file is read from.

    Raises ``ValidationError`` listing every problem, each with file, line and field.
    """
    located = load_located(text, source)
    r = FieldReader(located)
    r.mapping((), _TOP, frozenset({"scenario", "parties", "forces", "units"}))
    if r.problems:
        raise ValidationError(r.problems)
    r.mapping(("scenario",), _SCENARIO, frozenset({"id", "name", "start", "end"}))
    start_s = r.time(("scenario", "start"))
    r.start_s = start_s or 0.0
    end_s = r.time(("scenario", "end"))
    if start_s is not None and end_s is not None and end_s <= start_s:
        r.problem(("scenario", "end"), "must be after start")
    scenario_id = r.ident(("scenario", "id"))
    name = r.text(("scenario", "name"))
    description = r.text(("scenario", "description"), required=False) or ""
    seed = r.number(("scenario", "seed"), required=False, default=0.0, minimum=0.0, maximum=2.0**32 - 1)
    if seed is not None and seed != int(seed):
        r.problem(("scenario", "seed"), "must be a whole number")
    parties = read_parties(r)
    party_ids = {p.party.id for p in parties}
    forces = read_forces(r, party_ids)
    plans = read_plans(r, {f.id for f in forces}, end_s, base)
    party_of_force = {f.id: f.party_id for f in forces}
    unit_party = {plan.unit.id: party_of_force[plan.unit.force_id] for plan in plans}
    for kind, ids in (("party", [p.party.id for p in parties]), ("force", [f.id for f in forces]),
                      ("unit", [u.unit.id for u in plans])):  # fmt: skip
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            r.problem((f"{kind}s" if kind != "party" else "parties",), f"{kind} id used twice: {', '.join(dupes)}")
    activities = read_activities(r, party_ids, unit_party)
    messages = read_messages(r, party_ids)
    sensors = read_sensors(r)
    zones = read_zones(r, base, party_ids)
    expectations = read_expectations(
        r, {a.ref for a in activities}, set(unit_party), {z.id for z in zones}, party_ids
    )  # fmt: skip
    story = read_story(r, start_s, end_s)
    if r.problems or scenario_id is None or name is None or start_s is None or end_s is None or seed is None:
        raise ValidationError(r.problems or [f"{source}: incomplete scenario"])
    return Scenario(
        id=scenario_id,
        name=name,
        description=description,
        start_s=start_s,
        end_s=end_s,
        seed=int(seed),
        parties=tuple(parties),
        forces=tuple(forces),
        plans=tuple(plans),
        zones=tuple(zones),
        activities=tuple(sorted(activities, key=lambda a: a.notify_at_s)),
        messages=tuple(sorted(messages, key=lambda m: m.at_s)),
        sensors=sensors,
        expectations=tuple(expectations),
        story=tuple(story),
    )


def load_scenario(path: str | FilePath) -> Scenario:
    """Load the scenario file at ``path`` (zones resolved next to it)."""
    file = FilePath(path)
    text = read_utf8(file, "the scenario")
    return parse_scenario(text, source=file.name, base=file.parent)


def resolve_scenario(name_or_path: str) -> Scenario:
    """A bundled pack's name (``euphrates-2017``) or a path to a scenario file, loaded and validated."""
    as_path = FilePath(name_or_path)
    if as_path.suffix in (".yaml", ".yml") or as_path.exists():
        return load_scenario(as_path)
    return load_scenario(pack_path(name_or_path))


def scenario_document(scenario: Scenario) -> dict[str, Any]:
    """A short JSON-ready summary of ``scenario`` (for progress output and reports)."""
    return {
        "id": scenario.id,
        "name": scenario.name,
        "parties": [p.party.id for p in scenario.parties],
        "units": len(scenario.plans),
        "zones": len(scenario.zones),
        "activities": len(scenario.activities),
        "messages": len(scenario.messages),
        "duration_s": scenario.end_s - scenario.start_s,
    }
