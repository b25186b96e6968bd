"""``ScenarioRun`` on a small scenario: deterministic for a seed, and every scripted action reaches its service."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from keepclear.domain.events import EventKind
from keepclear.scenario import load_scenario
from keepclear.services.reports.after_action import after_action
from keepclear.services.runtime.scenario_run import ScenarioRun


def _mini_yaml() -> str:
    """The scenario tests' small scenario (their conftest, loaded by path: both folders have one)."""
    path = Path(__file__).resolve().parents[1] / "scenario" / "conftest.py"
    spec = importlib.util.spec_from_file_location("scenario_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text: str = module.MINI_YAML
    return text


def _run(tmp_path: Path, name: str, seed: int | None = None) -> ScenarioRun:
    folder = tmp_path / name
    folder.mkdir()
    text = (
        _mini_yaml()
        .replace("COMMS_CHECK", "COMMCHECK")
        .replace("      units: [jet]\n", "      units: [jet]\n      contact: Blue ops\n")
    )
    (folder / "scenario.yaml").write_text(text)
    (folder / "zones.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "river", "name": "River",'
        ' "kind": "deconfliction-line", "buffer_m": 500}, "geometry": {"type": "LineString",'
        ' "coordinates": [[40.0, 35.0], [40.0, 36.0]]}}]}'
    )
    run = ScenarioRun.create(load_scenario(folder / "scenario.yaml"), folder / "data", seed=seed)
    run.run()
    return run


def _trace(run: ScenarioRun) -> list[tuple[str, float, str]]:
    keep = ("zone.", "alert.", "hotline.", "activity.escalated", "activity.acknowledged")
    return [(e.kind, e.time_s, str(e.payload.get("unit_id", ""))) for e in run.log.events() if e.kind.startswith(keep)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScenarioRun, ScenarioRun, ScenarioRun]:
    tmp = tmp_path_factory.mktemp("runs")
    return _run(tmp, "a"), _run(tmp, "b"), _run(tmp, "c", seed=8)


def test_same_seed_same_events_other_seed_other_reports(runs: tuple[ScenarioRun, ScenarioRun, ScenarioRun]) -> None:
    a, b, c = runs
    assert _trace(a) == _trace(b) and _trace(a)
    assert a.driver.progress.reports_sent == b.driver.progress.reports_sent
    assert a.driver.progress.reports_sent != c.driver.progress.reports_sent  # dropouts drawn from another seed


def test_scripted_actions_reach_the_services_and_silence_escalates(
    runs: tuple[ScenarioRun, ScenarioRun, ScenarioRun],
) -> None:
    run = runs[0]
    numbers = after_action(run)
    assert numbers["check"]["all_met"]  # the truck crosses the river
    assert numbers["ack_delays"]["activities"]["red"]["delays_s"] == [120.0]
    assert numbers["ack_delays"]["hotline"]["red"]["delays_s"] == [30.0]
    assert {"message": "reply", "party": "blue"} in numbers["ack_delays"]["never"]
    # The reply asked blue to acknowledge within 15 min; blue never does: the hotline escalates.
    escalated = [e for e in run.log.events(EventKind.HOTLINE_ESCALATED)]
    assert escalated and escalated[0].time_s >= run.scenario.start_s + 120 + 900
    for run_ in runs:
        run_.close()
