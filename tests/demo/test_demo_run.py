"""``ScenarioRun`` on a small scenario: deterministic for a seed (alert ids included), and every scripted
action reaches its service."""

from __future__ import annotations

import importlib.util
import re
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


#: Two aircraft of two parties meeting head-on at 20,000 ft a few minutes in: alerts to replay.
MEETING_YAML = """\
scenario: {id: meeting, name: Meeting, start: 2017-11-08T06:00:00Z, end: +00:08, seed: 7}
parties:
  - {id: blue, name: Blue}
  - {id: red, name: Red}
forces:
  - {id: blue-air, name: Blue air, party: blue}
  - {id: red-air, name: Red air, party: red}
units:
  - id: jet
    domain: air
    force: blue-air
    start: +00:00
    route:
      - {lat: 35.0, lon: 39.0, alt_ft: 20000, speed_kt: 400}
      - {lat: 35.0, lon: 40.0, alt_ft: 20000}
  - id: mig
    domain: air
    force: red-air
    start: +00:00
    route:
      - {lat: 35.0, lon: 40.0, alt_ft: 20000, speed_kt: 400}
      - {lat: 35.0, lon: 39.0, alt_ft: 20000}
"""


def test_a_replay_draws_the_same_alert_and_incident_ids_for_the_same_seed_and_others_for_another(
    tmp_path: Path,
) -> None:
    """Alert and incident ids come from generators seeded by the scenario's seed (a live service's
    come from the operating system): two replays with one seed give the same ids; another seed, others."""
    (tmp_path / "meeting.yaml").write_text(MEETING_YAML)
    scenario = load_scenario(tmp_path / "meeting.yaml")

    def made_up(name: str, seed: int | None = None) -> tuple[list[str], list[str]]:
        run = ScenarioRun.create(scenario, tmp_path / name, seed=seed)
        try:
            run.run()
            ids = _made_up_ids(run)
            return ids["alert_id"], ids["incident_id"]
        finally:
            run.close()

    first, second, other = made_up("a"), made_up("b"), made_up("c", seed=8)
    assert first == second
    for mine, theirs in zip(first, other, strict=True):  # alerts, then incidents
        assert mine and theirs and not set(mine) & set(theirs)


#: Payload fields that hold ids keepclear made up (``domain.ids``).
MADE_UP = ("alert_id", "incident_id", "thread_id", "activity_id")


def _made_up_ids(run: ScenarioRun) -> dict[str, list[str]]:
    """Every made-up id the run's events name, by field, in the order first named."""
    seen: dict[str, list[str]] = {name: [] for name in MADE_UP}
    for event in run.log.events():
        for name in MADE_UP:
            value = event.payload.get(name)
            if isinstance(value, str) and value not in seen[name]:
                seen[name].append(value)
    return seen


def test_a_replay_makes_up_the_same_ids_for_the_same_seed_and_others_for_another(
    runs: tuple[ScenarioRun, ScenarioRun, ScenarioRun],
) -> None:
    """Hotline threads and activities, as alerts and incidents do, take their ids from sources seeded by the
    scenario's seed: two replays with one seed name the same ids; another seed, others (scripted ids,
    which the scenario gives, aside)."""
    a, b, c = (_made_up_ids(run) for run in runs)
    assert a == b
    for name in ("thread_id", "activity_id"):  # alerts and incidents: the meeting above
        assert a[name], f"the scenario makes up no {name}"
        drawn = {i for i in a[name] if re.fullmatch(r".+-[0-9a-f]{20}", i)}
        assert drawn, f"no {name} of 80 random bits in {a[name]}"
        assert not drawn & set(c[name]), name
