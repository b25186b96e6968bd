"""Plays a scenario into a deployment: scenario time advanced at ×1..×1000 (or flat out), reports
delivered through a transport, scripted actions performed at their times.

Within each step the order is fixed: move the deployment's clock (``on_time``), deliver every report
up to that time, then perform the actions due at it. Steps are at most ``max_step_s`` of scenario
time, so detection sees the world at least that often whatever the speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from keepclear.domain import TrackReport
from keepclear.errors import ValidationError
from keepclear.scenario.script import ActionHandler, ScriptAction, script_actions
from keepclear.scenario.simulator import Simulator
from keepclear.scenario.transport import TrackTransport

MIN_SPEED = 1.0
MAX_SPEED = 1000.0


@dataclass(frozen=True)
class DriverConfig:
    """How a scenario is played.

    ``speed``: scenario seconds per wall second, 1 to 1000; None plays as fast as the deployment takes it.
    ``max_step_s``: the longest stretch of scenario time delivered at once (also the clock's granularity).
    ``tick_s``: wall seconds between steps when paced.
    """

    speed: float | None = 1.0
    max_step_s: float = 5.0
    tick_s: float = 0.25

    def __post_init__(self) -> None:
        problems = []
        if self.speed is not None and not MIN_SPEED <= self.speed <= MAX_SPEED:
            problems.append(f"speed: {self.speed!r} must be between ×{MIN_SPEED:g} and ×{MAX_SPEED:g}")
        if not self.max_step_s > 0:
            problems.append(f"max_step_s: {self.max_step_s!r} must be > 0")
        if not self.tick_s > 0:
            problems.append(f"tick_s: {self.tick_s!r} must be > 0")
        if problems:
            raise ValidationError(problems)


@dataclass
class DriverProgress:
    """Where a run stands: scenario time reached, share done, what has been delivered."""

    time_s: float
    fraction: float
    reports_sent: int = 0
    actions_done: int = 0
    last_actions: list[ScriptAction] = field(default_factory=list)


class ScenarioDriver:
    """Advances a ``Simulator`` through its scenario and feeds a deployment.

    ``transport`` takes track batches per party; ``actions`` performs the script (None: tracks only);
    ``on_time(time_s)`` moves the deployment's clock (and may run a detection tick); ``monotonic`` and
    ``sleep`` are the wall clock, passed in so tests run paced play without waiting.
    """

    def __init__(
        self,
        simulator: Simulator,
        transport: TrackTransport,
        actions: ActionHandler | None = None,
        config: DriverConfig | None = None,
        on_time: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.simulator = simulator
        self.transport = transport
        self.actions = actions
        self.config = config or DriverConfig()
        self.on_time = on_time
        self._monotonic = monotonic
        self._sleep = sleep
        self._party_of_unit = simulator.scenario.party_of_unit()
        self._script = script_actions(simulator.scenario)
        self._next_action = 0
        self.progress = DriverProgress(time_s=simulator.start_s, fraction=0.0)

    @property
    def time_s(self) -> float:
        """Scenario time delivered so far."""
        return self.progress.time_s

    @property
    def done(self) -> bool:
        """True once the scenario end has been delivered."""
        return self.progress.time_s >= self.simulator.end_s

    def advance_to(self, until_s: float) -> None:
        """Deliver everything up to ``until_s`` (capped at the scenario end) in steps of ``max_step_s``."""
        until_s = min(until_s, self.simulator.end_s)
        while self.progress.time_s < until_s:
            step_end = min(until_s, self.progress.time_s + self.config.max_step_s)
            if self._next_action < len(self._script):
                step_end = min(step_end, max(self._script[self._next_action].time_s, self.progress.time_s + 1e-6))
            self._step(step_end)

    def _step(self, step_end_s: float) -> None:
        if self.on_time is not None:
            self.on_time(step_end_s)
        reports = self.simulator.reports_between(self.progress.time_s, step_end_s)
        self._deliver(reports)
        done: list[ScriptAction] = []
        while self._next_action < len(self._script) and self._script[self._next_action].time_s <= step_end_s:
            action = self._script[self._next_action]
            self._next_action += 1
            if self.actions is not None:
                self.actions.perform(action)
            done.append(action)
        span = self.simulator.end_s - self.simulator.start_s
        self.progress.time_s = step_end_s
        self.progress.fraction = min(1.0, (step_end_s - self.simulator.start_s) / span) if span > 0 else 1.0
        self.progress.reports_sent += len(reports)
        self.progress.actions_done += len(done)
        self.progress.last_actions = done

    def _deliver(self, reports: list[TrackReport]) -> None:
        by_party: dict[str, list[TrackReport]] = {}
        for report in reports:
            by_party.setdefault(self._party_of_unit[report.unit_id], []).append(report)
        for party_id in sorted(by_party):
            self.transport.send(party_id, by_party[party_id])

    def run(
        self,
        progress: Callable[[DriverProgress], None] | None = None,
        stop: threading.Event | None = None,
        until_s: float | None = None,
    ) -> DriverProgress:
        """Play to ``until_s`` (default: the scenario end) or until ``stop`` is set; returns the progress.

        Paced play sleeps between ticks so scenario time runs at ``speed`` times the wall clock.
        """
        end_s = self.simulator.end_s if until_s is None else min(until_s, self.simulator.end_s)
        speed = self.config.speed
        wall_start = self._monotonic()
        scenario_start = self.progress.time_s
        while self.progress.time_s < end_s and not (stop is not None and stop.is_set()):
            if speed is None:
                target_s = min(end_s, self.progress.time_s + self.config.max_step_s)
            else:
                self._wait(self.config.tick_s, stop)
                target_s = min(end_s, scenario_start + (self._monotonic() - wall_start) * speed)
            self.advance_to(target_s)
            if progress is not None:
                progress(self.progress)
        return self.progress

    def _wait(self, seconds: float, stop: threading.Event | None) -> None:
        if stop is not None:
            stop.wait(seconds)
        else:
            self._sleep(seconds)
