"""Track reports from a scenario: true trajectories seen through noisy, gappy sensors.

Pure and deterministic: the same scenario and seed give the same reports, however the time is sliced
(every random draw is made up front, per unit, from a generator seeded by the seed and the unit's
index). Time is always passed in.

>>> from keepclear.scenario import resolve_scenario
>>> sim = Simulator(resolve_scenario("euphrates-2017"))  # doctest: +SKIP
>>> batch = sim.reports_between(sim.start_s, sim.start_s + 60.0)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keepclear.domain import TrackReport
from keepclear.geo import LocalPlane
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2
from keepclear.scenario.kinematics import FloatArray, Trajectory, integrate
from keepclear.scenario.model import Scenario, SensorModel, UnitPlan


@dataclass(frozen=True)
class _Reports:
    """The reports one unit's feed will deliver, as columns sorted by time."""

    unit_id: str
    time_s: FloatArray
    lat_deg: FloatArray
    lon_deg: FloatArray
    alt_m: FloatArray
    vel_east_mps: FloatArray
    vel_north_mps: FloatArray
    vel_up_mps: FloatArray


def scenario_plane(scenario: Scenario) -> LocalPlane:
    """The plane the scenario is flown in: centred on the mean of every waypoint and recorded position."""
    lats = [w.lat_deg for plan in scenario.plans for w in plan.route]
    lons = [w.lon_deg for plan in scenario.plans for w in plan.route]
    lats += [r.lat_deg for plan in scenario.plans for r in plan.recording]
    lons += [r.lon_deg for plan in scenario.plans for r in plan.recording]
    return LocalPlane(float(np.mean(lats)), float(np.mean(lons)))


def recorded_trajectory(unit_id: str, recording: tuple[TrackReport, ...]) -> Trajectory:
    """A recording as the unit's trajectory (its reports are the best truth there is)."""
    columns = np.array(
        [(r.time_s, r.lat_deg, r.lon_deg, r.alt_m, r.vel_east_mps, r.vel_north_mps, r.vel_up_mps) for r in recording]
    )
    t, lat, lon, alt, ve, vn, vu = (np.asarray(columns[:, i], dtype=np.float64) for i in range(7))
    return Trajectory(unit_id, t, lat, lon, alt, ve, vn, vu, np.hypot(ve, vn), np.degrees(np.arctan2(ve, vn)) % 360.0)


def _recorded_reports(plan: UnitPlan, start_s: float, end_s: float) -> _Reports:
    truth = recorded_trajectory(plan.unit.id, plan.recording)
    keep = (truth.time_s > start_s - 1e-9) & (truth.time_s <= end_s)
    return _Reports(
        plan.unit.id,
        truth.time_s[keep],
        truth.lat_deg[keep],
        truth.lon_deg[keep],
        truth.alt_m[keep],
        truth.vel_east_mps[keep],
        truth.vel_north_mps[keep],
        truth.vel_up_mps[keep],
    )


class Simulator:
    """Every unit's feed for a scenario: ``reports_between(after_s, until_s)`` in time order.

    ``seed`` defaults to the scenario's; ``sensors`` to the scenario's sensor model (pass
    ``SensorModel()`` for perfect, gap-free reports).
    """

    def __init__(
        self, scenario: Scenario, seed: int | None = None, sensors: SensorModel | None = None, step_s: float = 1.0
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.sensors = scenario.sensors if sensors is None else sensors
        self.plane = scenario_plane(scenario)
        self._truth: dict[str, Trajectory] = {}
        self._reports: list[_Reports] = []
        for index, plan in enumerate(scenario.plans):
            if plan.recording:
                truth = recorded_trajectory(plan.unit.id, plan.recording)
                self._truth[plan.unit.id] = truth
                self._reports.append(_recorded_reports(plan, scenario.start_s, scenario.end_s))
                continue
            truth = integrate(plan, self.plane, scenario.end_s, step_s)
            self._truth[plan.unit.id] = truth
            rng = np.random.default_rng([self.seed, index])
            self._reports.append(self._sense(plan, truth, rng))

    @property
    def start_s(self) -> float:
        """Scenario start."""
        return self.scenario.start_s

    @property
    def end_s(self) -> float:
        """Scenario end."""
        return self.scenario.end_s

    def truth(self, unit_id: str) -> Trajectory:
        """The noise-free trajectory of ``unit_id`` (KeyError for an unknown unit)."""
        return self._truth[unit_id]

    def truth_at(self, unit_id: str, time_s: float) -> TrackReport | None:
        """The true state of ``unit_id`` at ``time_s`` (interpolated), or None outside its life."""
        tr = self._truth[unit_id]
        if not tr.start_s <= time_s <= tr.end_s:
            return None
        values = [
            float(np.interp(time_s, tr.time_s, column))
            for column in (tr.lat_deg, tr.lon_deg, tr.alt_m, tr.vel_east_mps, tr.vel_north_mps, tr.vel_up_mps)
        ]
        return TrackReport(unit_id, time_s, *values)

    def reports_between(self, after_s: float, until_s: float) -> list[TrackReport]:
        """Reports with ``after_s < time_s <= until_s``, ordered by time then unit."""
        out: list[TrackReport] = []
        for feed in self._reports:
            lo = int(np.searchsorted(feed.time_s, after_s, side="right"))
            hi = int(np.searchsorted(feed.time_s, until_s, side="right"))
            for i in range(lo, hi):
                out.append(
                    TrackReport(
                        feed.unit_id,
                        float(feed.time_s[i]),
                        float(feed.lat_deg[i]),
                        float(feed.lon_deg[i]),
                        float(feed.alt_m[i]),
                        float(feed.vel_east_mps[i]),
                        float(feed.vel_north_mps[i]),
                        float(feed.vel_up_mps[i]),
                    )
                )
        out.sort(key=lambda r: (r.time_s, r.unit_id))
        return out

    def report_count(self) -> int:
        """How many reports the whole scenario delivers."""
        return sum(len(feed.time_s) for feed in self._reports)

    def _sense(self, plan: UnitPlan, truth: Trajectory, rng: np.random.Generator) -> _Reports:
        sensors = self.sensors
        interval_s = plan.report_interval_s or sensors.report_interval_s[plan.unit.domain]
        phase_s = float(rng.uniform(0.0, interval_s))
        times = np.arange(truth.start_s + phase_s, truth.end_s, interval_s)
        n = len(times)
        # Draw everything for every slot, kept or not, so slicing never shifts the sequence.
        noise_north = rng.normal(0.0, 1.0, n) * sensors.position_sigma_m
        noise_east = rng.normal(0.0, 1.0, n) * sensors.position_sigma_m
        noise_alt = rng.normal(0.0, 1.0, n) * sensors.altitude_sigma_m
        noise_vel = rng.normal(0.0, 1.0, (3, n)) * sensors.velocity_sigma_mps
        keep = rng.uniform(0.0, 1.0, n) >= sensors.dropouts.probability
        life_s = truth.end_s - truth.start_s
        outages = rng.poisson(sensors.dropouts.outages_per_h * life_s / 3600.0)
        starts = rng.uniform(truth.start_s, truth.end_s, outages)
        lengths = rng.exponential(sensors.dropouts.outage_mean_s, outages)
        for start, length in zip(starts, lengths, strict=True):
            keep &= ~((times >= start) & (times < start + length))

        def at(column: FloatArray) -> FloatArray:
            return np.asarray(np.interp(times, truth.time_s, column), dtype=np.float64)

        lat = at(truth.lat_deg)
        lat_r = np.radians(lat)
        w = np.sqrt(1.0 - WGS84_E2 * np.sin(lat_r) ** 2)
        lat_noisy = lat + np.degrees(noise_north / (WGS84_A_M * (1.0 - WGS84_E2) / w**3))
        lon_noisy = at(truth.lon_deg) + np.degrees(noise_east / (WGS84_A_M / w * np.cos(lat_r)))
        lon_noisy = (lon_noisy + 180.0) % 360.0 - 180.0
        return _Reports(
            unit_id=plan.unit.id,
            time_s=times[keep],
            lat_deg=lat_noisy[keep],
            lon_deg=lon_noisy[keep],
            alt_m=(at(truth.alt_m) + noise_alt)[keep],
            vel_east_mps=(at(truth.vel_east_mps) + noise_vel[0])[keep],
            vel_north_mps=(at(truth.vel_north_mps) + noise_vel[1])[keep],
            vel_up_mps=(at(truth.vel_up_mps) + noise_vel[2])[keep],
        )
