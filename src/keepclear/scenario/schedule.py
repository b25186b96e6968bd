"""The planned timing of a route: when each leg starts and ends, at what speed, and whether it can be flown.

The loader uses it to refuse impossible plans (a timed waypoint too far to reach at top speed, a climb
steeper than the unit can climb); the simulator uses the same legs to fly them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keepclear.domain import Domain
from keepclear.domain.timefmt import format_utc
from keepclear.geo import distance_m
from keepclear.scenario.model import Performance, Waypoint

FT_PER_M = 1.0 / 0.3048
KT_PER_MPS = 3600.0 / 1852.0
#: Slack for turns and acceleration when judging whether a timed waypoint can be met.
TIMING_MARGIN = 0.97


@dataclass(frozen=True, slots=True)
class Leg:
    """From ``route[index]`` to ``route[index + 1]``: planned departure, arrival and speed."""

    index: int
    depart_s: float
    arrive_s: float
    speed_mps: float
    distance_m: float


def plan_legs(start_s: float, route: Sequence[Waypoint]) -> tuple[list[Leg], list[tuple[int, str]]]:
    """The legs of ``route`` flown from ``start_s``, and (waypoint index, problem) for each impossibility.

    A leg's speed is set by the timed arrival at its end (``at``), else the end waypoint's speed, else
    the speed flown so far. A waypoint's ``until`` delays the departure of the next leg.
    """
    legs: list[Leg] = []
    problems: list[tuple[int, str]] = []
    time_s = start_s
    speed_mps = route[0].speed_mps
    for index in range(len(route) - 1):
        here, there = route[index], route[index + 1]
        if here.until_s is not None:
            if here.until_s < time_s:
                problems.append(
                    (index, f"until {format_utc(here.until_s)} is before the unit gets here ({format_utc(time_s)})")
                )
            time_s = max(time_s, here.until_s)
        dist_m = float(distance_m(here.lat_deg, here.lon_deg, there.lat_deg, there.lon_deg))
        if there.at_s is not None:
            if there.at_s <= time_s:
                problems.append(
                    (index + 1, f"at {format_utc(there.at_s)} is not after the leg starts ({format_utc(time_s)})")
                )
                speed_mps = speed_mps or 1.0
                arrive_s = time_s + dist_m / speed_mps
            else:
                speed_mps = dist_m / (there.at_s - time_s)
                arrive_s = there.at_s
        else:
            speed_mps = there.speed_mps or speed_mps
            if speed_mps is None:
                problems.append((index + 1, "give speed_kt or at (a timed arrival) for the first leg"))
                speed_mps = 1.0
            arrive_s = time_s + dist_m / speed_mps
        legs.append(Leg(index, time_s, arrive_s, speed_mps, dist_m))
        time_s = arrive_s
    last = route[-1]
    if last.until_s is not None and last.until_s < time_s:
        problems.append(
            (len(route) - 1, f"until {format_utc(last.until_s)} is before the unit gets here ({format_utc(time_s)})")
        )
    return legs, problems


def route_timing_problems(
    start_s: float, route: Sequence[Waypoint], perf: Performance, domain: Domain
) -> list[tuple[int, str]]:
    """(waypoint index, problem) for every leg the unit cannot fly as planned."""
    legs, problems = plan_legs(start_s, route)
    for leg in legs:
        end = leg.index + 1
        if leg.speed_mps > perf.max_speed_mps * TIMING_MARGIN and route[end].at_s is not None:
            problems.append(
                (
                    end,
                    f"needs {leg.speed_mps * KT_PER_MPS:.0f} kt to arrive on time; this unit makes at most"
                    f" {perf.max_speed_mps * TIMING_MARGIN * KT_PER_MPS:.0f} kt (with margin)",
                )
            )
        if domain is Domain.AIR and leg.speed_mps < perf.min_speed_mps and route[end].at_s is not None:
            problems.append(
                (
                    end,
                    f"needs {leg.speed_mps * KT_PER_MPS:.0f} kt, below this aircraft's minimum"
                    f" {perf.min_speed_mps * KT_PER_MPS:.0f} kt; arrive earlier and loiter (until)",
                )
            )
        climb_m = route[end].alt_m - route[leg.index].alt_m
        duration_s = max(leg.arrive_s - leg.depart_s, 1e-9)
        limit = perf.max_climb_mps if climb_m > 0 else perf.max_descent_mps
        if abs(climb_m) > 0 and abs(climb_m) / duration_s > limit * TIMING_MARGIN:
            problems.append(
                (
                    end,
                    f"changing {abs(climb_m) * FT_PER_M:.0f} ft in {duration_s:.0f} s exceeds this unit's"
                    f" {limit * FT_PER_M * 60:.0f} ft/min",
                )
            )
    return problems
