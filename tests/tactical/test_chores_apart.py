"""Work other parties' data can make long (deadlines falling due by the thousand, incidents to
freeze, retention) runs on a thread of its own while the runtime runs: the probe's tick never waits
for it. Before, every task ran in the tick before the probe, so a party notifying thousands of
activities due together made the next alerts as late as their escalation took."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace

from keepclear.services.runtime.chores import MORE
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


def test_a_chore_cut_short_by_its_bound_comes_back_at_once_after_every_other_chore(deployment: Deployment) -> None:
    """A flood of one chore (a party's thousands of deadlines, a batch a call) goes batch after batch,
    not a ``tick_s`` apart, and every other chore gets its turn between two of its batches. Before, a
    deadline watcher ran every batch in one call: a hotline escalation due meanwhile waited for all."""
    runtime = Runtime(deployment, replace(RuntimeConfig.from_settings(deployment.settings), tick_s=0.5))
    batches, calls = 40, []
    done = threading.Event()

    def flood(now_s: float) -> object:
        calls.append("flood")
        time.sleep(0.005)  # a batch's transaction
        if calls.count("flood") < batches:
            return MORE
        done.set()
        return None

    runtime.add_task("flood", flood, chore=True)
    runtime.add_task("other", lambda now_s: calls.append("other"), chore=True)
    runtime.start()
    try:
        # a tick_s apart, the 40 batches would take 20 s
        assert done.wait(5.0), f"{calls.count('flood')} batches in 5 s: a tick_s between batches"
    finally:
        runtime.stop()
    floods = [k for k, name in enumerate(calls) if name == "flood"][:batches]
    assert all("other" in calls[a:b] for a, b in itertools.pairwise(floods)), "a chore waited for the flood"


def test_a_tick_by_hand_runs_each_chore_until_nothing_more_is_due(deployment: Deployment) -> None:
    runtime = _runtime(deployment)
    calls: list[str] = []

    def flood(now_s: float) -> object:
        calls.append("flood")
        return MORE if calls.count("flood") < 5 else None

    runtime.add_task("flood", flood, chore=True)
    runtime.add_task("after", lambda now_s: calls.append("after"), chore=True)
    try:
        runtime.tick(123.0)
        assert calls == ["flood"] * 5 + ["after"]
    finally:
        runtime.stop()
