"""Fly, drive or sail one unit plan into a true trajectory, one step at a time, within its performance.

Aircraft and vessels steer toward the next waypoint with a limited turn rate (fly-by: they turn early
by the lead distance of the turn), change speed with a limited acceleration, climb and descend at a
limited rate spread over the leg, and orbit a loiter point until its time. Ground units follow their
route polyline exactly (roads) and brake to stop where they hold. Integration is in a local plane
(metres); the result is returned as geodetic arrays with velocities from the positions themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.domain import Domain
from keepclear.geo import LocalPlane
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2
from keepclear.scenario.model import LoiterDirection, UnitPlan
from keepclear.scenario.schedule import plan_legs

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Trajectory:
    """The true state of one unit at each step: times (s), position, velocity (m/s) and plane state."""

    unit_id: str
    time_s: FloatArray
    lat_deg: FloatArray
    lon_deg: FloatArray
    alt_m: FloatArray
    vel_east_mps: FloatArray
    vel_north_mps: FloatArray
    vel_up_mps: FloatArray
    speed_mps: FloatArray
    heading_deg: FloatArray

    @property
    def start_s(self) -> float:
        """First time with a state."""
        return float(self.time_s[0])

    @property
    def end_s(self) -> float:
        """Last time with a state."""
        return float(self.time_s[-1])


def _wrap_rad(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def _toward(value: float, target: float, max_step: float) -> float:
    return value + max(-max_step, min(max_step, target - value))


@dataclass
class _State:
    x: float
    y: float
    alt: float
    heading: float  # radians clockwise from grid north
    speed: float
    vz: float = 0.0


def integrate(plan: UnitPlan, plane: LocalPlane, end_s: float, step_s: float = 1.0) -> Trajectory:
    """The true trajectory of ``plan`` from its start until its last waypoint (or hold) or ``end_s``."""
    route = plan.route
    perf = plan.performance
    legs, _ = plan_legs(plan.start_s, route)
    xs, ys = plane.to_xy(np.array([w.lat_deg for w in route]), np.array([w.lon_deg for w in route]))
    wx, wy = [float(v) for v in xs], [float(v) for v in ys]
    ground = plan.unit.domain is Domain.LAND
    turn_rate = math.radians(perf.max_turn_rate_dps)
    first_heading = math.atan2(wx[1] - wx[0], wy[1] - wy[0])
    s = _State(wx[0], wy[0], route[0].alt_m, first_heading, legs[0].speed_mps)
    target = 1
    holding = route[0].until_s is not None
    if holding:
        target = 0
    leg_speed = legs[0].speed_mps
    t = plan.start_s
    out: list[tuple[float, float, float, float, float, float, float]] = []
    while t <= end_s:
        until_s = route[target].until_s
        if holding and until_s is not None and t >= until_s:
            holding = False
            target += 1
            if target >= len(route):
                out.append((t, s.x, s.y, s.alt, s.vz, s.speed, s.heading))
                break
            leg_speed = legs[target - 1].speed_mps
        out.append((t, s.x, s.y, s.alt, s.vz, s.speed, s.heading))
        wp = route[target]
        if holding:
            if ground or (plan.unit.domain is Domain.SEA and wp.loiter_radius_m <= 0):
                s.speed = _toward(s.speed, 0.0, perf.max_accel_mps2 * step_s)
                s.vz = 0.0
            else:
                _orbit(s, wx[target], wy[target], wp.loiter_radius_m, wp.loiter_direction, turn_rate, step_s)
                s.speed = _toward(s.speed, max(perf.min_speed_mps, wp.speed_mps or leg_speed),
                                  perf.max_accel_mps2 * step_s)  # fmt: skip
                s.vz = 0.0
                s.x += s.speed * math.sin(s.heading) * step_s
                s.y += s.speed * math.cos(s.heading) * step_s
            t += step_s
            continue
        dx, dy = wx[target] - s.x, wy[target] - s.y
        dist = math.hypot(dx, dy)
        stops_here = wp.until_s is not None or target == len(route) - 1
        # Speed: meet a timed arrival, else the leg's speed; ground units brake to stop where they hold.
        want = dist / (wp.at_s - t) if wp.at_s is not None and wp.at_s - t > step_s else leg_speed
        if ground and stops_here:
            want = min(want, math.sqrt(2.0 * perf.max_accel_mps2 * dist))
        want = min(perf.max_speed_mps, max(perf.min_speed_mps, want))
        s.speed = _toward(s.speed, want, perf.max_accel_mps2 * step_s)
        # Height: spread the change over the time to go, within the climb and descent limits.
        time_to_go = max(dist / max(s.speed, 1.0), step_s)
        s.vz = max(-perf.max_descent_mps, min(perf.max_climb_mps, (wp.alt_m - s.alt) / time_to_go))
        if abs(wp.alt_m - s.alt) < abs(s.vz) * step_s:
            s.vz = (wp.alt_m - s.alt) / step_s
        s.alt += s.vz * step_s
        if ground:
            moved = s.speed * step_s
            s.heading = math.atan2(dx, dy) if dist > 0 else s.heading
            if moved >= dist or dist < 0.5:
                s.x, s.y = wx[target], wy[target]
                reached = True
            else:
                s.x += dx / dist * moved
                s.y += dy / dist * moved
                reached = False
        else:
            desired = math.atan2(dx, dy)
            s.heading = _wrap_rad(s.heading + max(-turn_rate * step_s, min(turn_rate * step_s,
                                                                             _wrap_rad(desired - s.heading))))  # fmt: skip
            s.x += s.speed * math.sin(s.heading) * step_s
            s.y += s.speed * math.cos(s.heading) * step_s
            reached = _captured(s, dist, desired, stops_here, target, wx, wy, turn_rate, step_s)
        t += step_s
        if reached:
            if wp.until_s is not None:
                holding = True
            else:
                target += 1
                if target >= len(route):
                    out.append((t, s.x, s.y, s.alt, s.vz, s.speed, s.heading))
                    break
                leg_speed = legs[target - 1].speed_mps
    return _to_geodetic(plan.unit.id, np.array(out), plane)


def _captured(
    s: _State, dist: float, desired: float, stops_here: bool, target: int, wx: list[float], wy: list[float],
    turn_rate: float, step_s: float,
) -> bool:  # fmt: skip
    """Whether the waypoint counts as reached: fly-over where it stops, fly-by (turn early) elsewhere."""
    near_m = 2.0 * s.speed * step_s
    if stops_here:
        lead_m = near_m
    else:
        next_bearing = math.atan2(wx[target + 1] - wx[target], wy[target + 1] - wy[target])
        change = abs(_wrap_rad(next_bearing - desired))
        radius = s.speed / turn_rate
        lead_m = max(near_m, min(radius * math.tan(min(change, math.radians(120)) / 2.0), 3.0 * radius))
    behind = abs(_wrap_rad(desired - s.heading)) > math.pi / 2 and dist < 3.0 * s.speed / turn_rate
    return dist <= lead_m or behind


def _orbit(
    s: _State, cx: float, cy: float, radius_m: float, direction: LoiterDirection, turn_rate: float, step_s: float
) -> None:
    """Steer onto a circle around (cx, cy): tangent heading, corrected toward the circle."""
    rx, ry = s.x - cx, s.y - cy
    r = math.hypot(rx, ry)
    bearing_out = math.atan2(rx, ry)
    sign = 1.0 if direction is LoiterDirection.CLOCKWISE else -1.0
    correction = math.atan(2.0 * (r - radius_m) / radius_m)
    desired = bearing_out + sign * (math.pi / 2 + min(correction, math.radians(80)))
    s.heading = _wrap_rad(s.heading + max(-turn_rate * step_s, min(turn_rate * step_s, _wrap_rad(desired - s.heading))))


def _to_geodetic(unit_id: str, rows: FloatArray, plane: LocalPlane) -> Trajectory:
    t, x, y, alt, vz, speed, heading = (rows[:, i] for i in range(7))
    lat, lon = plane.to_latlon(x, y)
    # Velocities from the geodetic positions, so speed and direction agree with how positions move.
    lat_r = np.radians(lat)
    w = np.sqrt(1.0 - WGS84_E2 * np.sin(lat_r) ** 2)
    meridian_m = WGS84_A_M * (1.0 - WGS84_E2) / w**3
    normal_m = WGS84_A_M / w
    if len(t) > 1:
        vn = np.gradient(np.radians(lat), t) * meridian_m
        ve = np.gradient(np.radians(np.unwrap(lon, period=360.0)), t) * normal_m * np.cos(lat_r)
    else:
        vn = speed * np.cos(heading)
        ve = speed * np.sin(heading)
    return Trajectory(
        unit_id=unit_id,
        time_s=np.asarray(t),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=np.asarray(alt),
        vel_east_mps=np.asarray(ve),
        vel_north_mps=np.asarray(vn),
        vel_up_mps=np.asarray(vz),
        speed_mps=np.asarray(speed),
        heading_deg=np.degrees(heading) % 360.0,
    )
