"""Work other parties' data can make long (deadlines falling due by the thousand, incidents to
freeze, retention) runs on a thread of its own while the runtime runs: the probe's tick never waits
for it. Before, every task ran in the tick before the probe, so a party notifying thousands of
activities due together made the next alerts as late as their escalation took."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.runtime import Runtime


def _runtime(deployment: Deployment) -> Runtime:
    return Runtime(deployment, replace(RuntimeConfig.from_settings(deployment.settings), tick_s=0.05))


def test_the_probe_ticks_on_while_a_chore_takes_long(deployment: Deployment) -> None:
    runtime = _runtime(deployment)
    started, release = threading.Event(), threading.Event()

    def slow(now_s: float) -> None:
        started.set()
        release.wait(10)

    runtime.add_task("slow", slow, chore=True)
    runtime.start()
    try:
        assert started.wait(10)
        before = runtime.ticks
        time.sleep(1.0)
        assert runtime.ticks - before >= 5, "the probe's tick waited for the chore"
        assert runtime.task_duration_s["probe"] < 1.0
    finally:
        release.set()
        runtime.stop()


def test_deadlines_incidents_and_retention_are_chores_and_a_tick_by_hand_runs_them(deployment: Deployment) -> None:
    runtime = _runtime(deployment)
    assert {"hotline-deadlines", "activity-deadlines", "incidents", "request-keys", "api-keys"} <= set(
        runtime.chore_names
    )
    assert "probe" not in runtime.chore_names
    ran: list[float] = []
    runtime.add_task("counted", ran.append, chore=True)
    try:
        runtime.tick(123.0)  # driven by hand (replays, tests): in the tick, in order
        assert ran == [123.0]
    finally:
        runtime.stop()
