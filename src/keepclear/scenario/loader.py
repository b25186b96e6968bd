"""Load and validate a scenario: one YAML file plus the GeoJSON of its zones.

Every problem is reported at once, each naming the file, the line and the field
(``euphrates.yaml line 88: units[4].route[2].alt_ft: must be a finite number, got 'high'``).
Nothing is repaired. The format is described in ``docs/scenarios.md``.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path as FilePath
from typing import Any

from keepclear.domain import Contact, Domain, Force, Party, Unit, Zone
from keepclear.errors import NotFoundError, ValidationError
from keepclear.geo.zone_geojson import zones_from_geojson
from keepclear.scenario.activity_body import read_activity_body
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path, load_located
from keepclear.scenario.model import (
    DEFAULT_PERFORMANCE,
    Dropouts,
    Expectation,
    ExpectationKind,
    LoiterDirection,
    PartyRole,
    PartySpec,
    Performance,
    Scenario,
    ScriptedActivity,
    ScriptedMessage,
    SensorModel,
    StoryBeat,
    UnitPlan,
    Waypoint,
)
from keepclear.scenario.recording import read_recording
from keepclear.scenario.schedule import FT_PER_M, KT_PER_MPS, route_timing_problems

_TOP = frozenset({"scenario", "parties", "forces", "units", "activities", "hotline", "sensors", "expect", "story"})
_STORY = frozenset({"at", "text"})
_SCENARIO = frozenset({"id", "name", "description", "start", "end", "seed", "zones"})
_PARTY = frozenset({"id", "name", "language", "role", "roster"})
_FORCE = frozenset({"id", "name", "party", "partner"})
_UNIT = frozenset(
    {"id", "callsign", "domain", "kind", "force", "start", "route", "recording", "performance", "report_interval_s"}
)
_PERF = frozenset(
    {"min_speed_kt", "max_speed_kt", "max_turn_rate_dps", "max_climb_fpm", "max_descent_fpm", "max_accel_mps2"}
)
_WAYPOINT = frozenset(
    {"lat", "lon", "alt_ft", "speed_kt", "at", "until", "loiter_radius_m", "loiter_direction"}
)  # fmt: skip
_ACTIVITY = frozenset({"ref", "party", "notify_at", "acks", "body"})
_MESSAGE = frozenset({"ref", "at", "from", "to", "thread", "text", "phrase", "params", "reply_to", "acks"})
_SENSORS = frozenset({"position_sigma_m", "altitude_sigma_m", "velocity_sigma_mps", "report_interval_s", "dropout"})
_DROPOUT = frozenset({"probability", "outages_per_h", "outage_mean_s"})
_EXPECT = frozenset({"kind", "activities", "units", "zone", "parties"})

#: The folder of bundled packs inside the package (package data, no ``__init__``).
PACKS_FOLDER = ("data", "scenarios")
SCENARIO_FILE = "scenario.yaml"


def _parties(r: FieldReader) -> list[PartySpec]:
    out: list[PartySpec] = []
    for i, _ in enumerate(r.sequence(("parties",))):
        p: Path = ("parties", i)
        r.mapping(p, _PARTY, frozenset({"id", "name"}))
        pid, name = r.ident((*p, "id")), r.text((*p, "name"))
        language = r.text((*p, "language"), required=False, default="en")
        role_text = r.get((*p, "role")) or "party"
        try:
            role = PartyRole(role_text)
        except ValueError:
            r.problem((*p, "role"), f"unknown role {role_text!r} (known: party, observer)")
            role = PartyRole.PARTY
        roster: list[Contact] = []
        for j, _ in enumerate(r.sequence((*p, "roster"), required=False)):
            r.mapping((*p, "roster", j), frozenset({"name", "role"}), frozenset({"name"}))
            cname = r.text((*p, "roster", j, "name"))
            crole = r.text((*p, "roster", j, "role"), required=False)
            if cname:
                roster.append(Contact(cname, crole or ""))
        if pid and name and language:
            out.append(PartySpec(Party(pid, name, language), tuple(roster), role))
    return out


def _forces(r: FieldReader, party_ids: set[str]) -> list[Force]:
    out: list[Force] = []
    for i, _ in enumerate(r.sequence(("forces",))):
        p: Path = ("forces", i)
        r.mapping(p, _FORCE, frozenset({"id", "name", "party"}))
        fid, name, party = r.ident((*p, "id")), r.text((*p, "name")), r.ident((*p, "party"))
        if party and party not in party_ids:
            r.problem((*p, "party"), f"no party {party!r} (parties: {', '.join(sorted(party_ids))})")
            party = None
        partner = r.boolean((*p, "partner"), False)
        if fid and name and party:
            out.append(Force(fid, name, party, partner))
    return out


def _performance(r: FieldReader, p: Path, domain: Domain) -> Performance:
    base = DEFAULT_PERFORMANCE[domain]
    if r.get(p) is None:
        return base
    r.mapping(p, _PERF)

    def pick(name: str, default: float, scale: float) -> float:
        value = r.number((*p, name), required=False, default=default * scale, minimum=0.0)
        return (default * scale if value is None else value) / scale

    perf = Performance(
        min_speed_mps=pick("min_speed_kt", base.min_speed_mps, KT_PER_MPS),
        max_speed_mps=pick("max_speed_kt", base.max_speed_mps, KT_PER_MPS),
        max_turn_rate_dps=pick("max_turn_rate_dps", base.max_turn_rate_dps, 1.0),
        max_climb_mps=pick("max_climb_fpm", base.max_climb_mps, FT_PER_M * 60),
        max_descent_mps=pick("max_descent_fpm", base.max_descent_mps, FT_PER_M * 60),
        max_accel_mps2=pick("max_accel_mps2", base.max_accel_mps2, 1.0),
    )
    if perf.min_speed_mps > perf.max_speed_mps:
        r.problem(p, "min_speed_kt is above max_speed_kt")
    if perf.max_turn_rate_dps <= 0 or perf.max_accel_mps2 <= 0:
        r.problem(p, "max_turn_rate_dps and max_accel_mps2 must be > 0")
    return perf


def _waypoint(r: FieldReader, p: Path, domain: Domain, perf: Performance) -> Waypoint | None:
    r.mapping(p, _WAYPOINT, frozenset({"lat", "lon"}))
    lat = r.number((*p, "lat"), minimum=-90.0, maximum=90.0)
    lon = r.number((*p, "lon"), minimum=-180.0, maximum=180.0)
    alt_ft = r.number((*p, "alt_ft"), required=False, default=0.0, minimum=-1000.0, maximum=60000.0)
    speed_kt = r.number((*p, "speed_kt"), required=False, minimum=0.0, exclusive_minimum=True)
    at_s = r.time((*p, "at"), required=False)
    until_s = r.time((*p, "until"), required=False)
    radius_m = r.number((*p, "loiter_radius_m"), required=False, default=5000.0, minimum=0.0, exclusive_minimum=True)
    direction_text = r.get((*p, "loiter_direction")) or "cw"
    try:
        direction = LoiterDirection(direction_text)
    except ValueError:
        r.problem((*p, "loiter_direction"), f"must be cw or ccw, got {direction_text!r}")
        direction = LoiterDirection.CLOCKWISE
    speed_mps = None if speed_kt is None else speed_kt / KT_PER_MPS
    if speed_mps is not None and not perf.min_speed_mps <= speed_mps <= perf.max_speed_mps:
        r.problem(
            (*p, "speed_kt"),
            f"{speed_kt:g} kt is outside this unit's performance "
            f"[{perf.min_speed_mps * KT_PER_MPS:.0f}, {perf.max_speed_mps * KT_PER_MPS:.0f}] kt",
        )
    if domain is Domain.AIR and until_s is not None and radius_m is not None:
        orbit_speed = speed_mps or perf.min_speed_mps
        need_m = orbit_speed / math.radians(perf.max_turn_rate_dps)
        if radius_m < need_m:
            r.problem((*p, "loiter_radius_m"), f"{radius_m:g} m is tighter than this unit can turn ({need_m:.0f} m)")
    if lat is None or lon is None or alt_ft is None or radius_m is None:
        return None
    return Waypoint(lat, lon, alt_ft / FT_PER_M, speed_mps, at_s, until_s, radius_m, direction)


def _recorded_plan(r: FieldReader, p: Path, unit: Unit, perf: Performance, base: FilePath | None) -> UnitPlan | None:
    for field in ("start", "route"):
        if r.has((*p, field)):
            r.problem((*p, field), "a unit with a recording has no start or route")
    name = r.text((*p, "recording"))
    if name is None:
        return None
    if base is None:
        r.problem((*p, "recording"), "a recording must be a CSV file next to the scenario file")
        return None
    reports, problems = read_recording(base / name, unit.id)
    for problem in problems:
        r.problem((*p, "recording"), problem)
    if problems:
        return None
    return UnitPlan(unit, reports[0].time_s, (), perf, recording=reports)


def _plans(r: FieldReader, force_ids: set[str], scenario_end_s: float | None, base: FilePath | None) -> list[UnitPlan]:
    out: list[UnitPlan] = []
    for i, _ in enumerate(r.sequence(("units",))):
        p: Path = ("units", i)
        recorded = r.has((*p, "recording"))
        needed = {"id", "domain", "force"} if recorded else {"id", "domain", "force", "start", "route"}
        r.mapping(p, _UNIT, frozenset(needed))
        uid, force = r.ident((*p, "id")), r.ident((*p, "force"))
        callsign = r.text((*p, "callsign"), required=False, default=(uid or "").upper())
        kind = r.text((*p, "kind"), required=False, default="unit")
        if force and force not in force_ids:
            r.problem((*p, "force"), f"no force {force!r} (forces: {', '.join(sorted(force_ids))})")
            force = None
        domain_text = r.get((*p, "domain"))
        try:
            domain = Domain(domain_text)
        except ValueError:
            r.problem((*p, "domain"), f"unknown domain {domain_text!r} (known: air, land, sea)")
            continue
        perf = _performance(r, (*p, "performance"), domain)
        if recorded:
            if uid is not None and force is not None:
                unit = Unit(uid, callsign or uid, domain, kind or "unit", force)
                plan = _recorded_plan(r, p, unit, perf, base)
                if plan is not None:
                    out.append(plan)
            continue
        start_s = r.time((*p, "start"))
        interval = r.number((*p, "report_interval_s"), required=False, minimum=0.0, exclusive_minimum=True)
        route_raw = r.sequence((*p, "route"))
        if route_raw and len(route_raw) < 2:
            r.problem((*p, "route"), "needs at least 2 waypoints")
        route = [_waypoint(r, (*p, "route", j), domain, perf) for j in range(len(route_raw))]
        if uid is None or force is None or start_s is None or any(w is None for w in route) or len(route) < 2:
            continue
        waypoints = tuple(w for w in route if w is not None)
        for j, message in route_timing_problems(start_s, waypoints, perf, domain):
            r.problem((*p, "route", j), message)
        if scenario_end_s is not None and start_s >= scenario_end_s:
            r.problem((*p, "start"), "is at or after the scenario end")
        out.append(
            UnitPlan(Unit(uid, callsign or uid, domain, kind or "unit", force), start_s, waypoints, perf, interval)
        )
    return out


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


def _activities(r: FieldReader, party_ids: set[str], unit_party: dict[str, str]) -> list[ScriptedActivity]:
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


def _messages(r: FieldReader, party_ids: set[str]) -> list[ScriptedMessage]:
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


def _sensors(r: FieldReader) -> SensorModel:
    p: Path = ("sensors",)
    if r.get(p) is None:
        return SensorModel()
    r.mapping(p, _SENSORS)
    default = SensorModel()
    intervals = dict(default.report_interval_s)
    raw = r.get((*p, "report_interval_s"))
    if raw is not None:
        r.mapping((*p, "report_interval_s"), frozenset(d.value for d in Domain))
        for domain in Domain:
            value = r.number((*p, "report_interval_s", domain.value), required=False, minimum=0.1)
            if value is not None:
                intervals[domain] = value
    d: Path = (*p, "dropout")
    dropouts = Dropouts()
    if r.get(d) is not None:
        r.mapping(d, _DROPOUT)
        dropouts = Dropouts(
            probability=r.number((*d, "probability"), required=False, default=0.0, minimum=0.0, maximum=1.0) or 0.0,
            outages_per_h=r.number((*d, "outages_per_h"), required=False, default=0.0, minimum=0.0) or 0.0,
            outage_mean_s=r.number((*d, "outage_mean_s"), required=False, default=60.0, minimum=0.0) or 60.0,
        )
    return SensorModel(
        position_sigma_m=r.number((*p, "position_sigma_m"), required=False, default=0.0, minimum=0.0) or 0.0,
        altitude_sigma_m=r.number((*p, "altitude_sigma_m"), required=False, default=0.0, minimum=0.0) or 0.0,
        velocity_sigma_mps=r.number((*p, "velocity_sigma_mps"), required=False, default=0.0, minimum=0.0) or 0.0,
        report_interval_s=intervals,
        dropouts=dropouts,
    )


def _expectations(
    r: FieldReader, activity_refs: set[str], unit_ids: set[str], zone_ids: set[str], party_ids: set[str]
) -> list[Expectation]:
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


def _story(r: FieldReader, start_s: float | None, end_s: float | None) -> list[StoryBeat]:
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


def _zones(r: FieldReader, base: FilePath | None) -> list[Zone]:
    name = r.get(("scenario", "zones"))
    if name is None:
        return []
    if not isinstance(name, str) or base is None:
        r.problem(("scenario", "zones"), "must name a GeoJSON file next to the scenario file")
        return []
    path = base / name
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        r.problem(("scenario", "zones"), f"cannot read {path}: {exc.strerror}")
        return []
    except json.JSONDecodeError as exc:
        r.problem(("scenario", "zones"), f"{name} line {exc.lineno}: not JSON ({exc.msg})")
        return []
    try:
        return zones_from_geojson(document)
    except ValidationError as exc:
        for problem in exc.problems:
            r.problem(("scenario", "zones"), f"{name} {problem}")
        return []


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
    parties = _parties(r)
    party_ids = {p.party.id for p in parties}
    forces = _forces(r, party_ids)
    plans = _plans(r, {f.id for f in forces}, end_s, base)
    party_of_force = {f.id: f.party_id for f in forces}
    unit_party = {plan.unit.id: party_of_force[plan.unit.force_id] for plan in plans}
    for kind, ids in (("party", [p.party.id for p in parties]), ("force", [f.id for f in forces]),
                      ("unit", [u.unit.id for u in plans])):  # fmt: skip
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            r.problem((f"{kind}s" if kind != "party" else "parties",), f"{kind} id used twice: {', '.join(dupes)}")
    activities = _activities(r, party_ids, unit_party)
    messages = _messages(r, party_ids)
    sensors = _sensors(r)
    zones = _zones(r, base)
    expectations = _expectations(
        r, {a.ref for a in activities}, set(unit_party), {z.id for z in zones}, party_ids
    )  # fmt: skip
    story = _story(r, start_s, end_s)
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
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError([f"{file}: cannot read ({exc.strerror})"]) from None
    return parse_scenario(text, source=file.name, base=file.parent)


def _packs_root() -> Traversable:
    return resources.files("keepclear").joinpath(*PACKS_FOLDER)


def pack_names() -> list[str]:
    """The bundled scenario packs, by name."""
    root = _packs_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / SCENARIO_FILE).is_file())


def pack_path(name: str) -> FilePath:
    """The scenario file of bundled pack ``name``; ``NotFoundError`` lists the packs there are."""
    candidate = _packs_root() / name / SCENARIO_FILE
    if not candidate.is_file():
        raise NotFoundError(f"no scenario pack {name!r} (packs: {', '.join(pack_names()) or 'none'})")
    return FilePath(str(candidate))


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
