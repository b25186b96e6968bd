"""Reading a scenario's units: what each is (domain, kind, force), how it can move (its
performance, by default its domain's), and where it goes: a timed route of waypoints, checked
against that performance, or a recording of real reports. Every problem noted with its line."""

from __future__ import annotations

import math
from pathlib import Path as FilePath

from keepclear.domain import Domain, Unit
from keepclear.domain.parties import unit_problems
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path
from keepclear.scenario.model import DEFAULT_PERFORMANCE, LoiterDirection, Performance, UnitPlan, Waypoint
from keepclear.scenario.recording import read_recording
from keepclear.scenario.schedule import FT_PER_M, KT_PER_MPS, route_timing_problems

_UNIT = frozenset(
    {"id", "callsign", "domain", "kind", "force", "start", "route", "recording", "performance", "report_interval_s"}
)
_PERF = frozenset(
    {"min_speed_kt", "max_speed_kt", "max_turn_rate_dps", "max_climb_fpm", "max_descent_fpm", "max_accel_mps2"}
)
_WAYPOINT = frozenset(
    {"lat", "lon", "alt_ft", "speed_kt", "at", "until", "loiter_radius_m", "loiter_direction"}
)  # fmt: skip


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


def read_plans(
    r: FieldReader, force_ids: set[str], scenario_end_s: float | None, base: FilePath | None
) -> list[UnitPlan]:
    """The ``units`` with their plans, each of one of ``force_ids``; a route must start before
    ``scenario_end_s``, a recording is read from the folder ``base``."""
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
        unit = Unit(uid, callsign or uid, domain, kind or "unit", force) if uid and force else None
        if unit is not None:
            r.rule_problems(p, unit_problems(unit))
        if recorded:
            if unit is not None:
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
        if unit is None or start_s is None or any(w is None for w in route) or len(route) < 2:
            continue
        waypoints = tuple(w for w in route if w is not None)
        for j, message in route_timing_problems(start_s, waypoints, perf, domain):
            r.problem((*p, "route", j), message)
        if scenario_end_s is not None and start_s >= scenario_end_s:
            r.problem((*p, "start"), "is at or after the scenario end")
        out.append(UnitPlan(unit, start_s, waypoints, perf, interval))
    return out
