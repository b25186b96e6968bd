"""A played scenario tells its pace on the deployment's clock (what ``GET /v1/me`` reports as
``clock_rate``, which the console runs its clock at): the speed while it plays, 0 once it stands still."""

from __future__ import annotations

from pathlib import Path

from test_demo_run import _mini_yaml

from keepclear.scenario import DriverProgress, load_scenario
from keepclear.services.runtime.scenario_run import ScenarioRun, ScenarioRunConfig


def test_the_clock_rate_is_the_pace_while_playing_and_zero_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "scenario.yaml").write_text(
        _mini_yaml()
        .replace("COMMS_CHECK", "COMMCHECK")
        .replace("      units: [jet]\n", "      units: [jet]\n      contact: Blue ops\n")
    )
    (tmp_path / "zones.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "river", "name": "River",'
        ' "kind": "deconfliction-line", "buffer_m": 500}, "geometry": {"type": "LineString",'
        ' "coordinates": [[40.0, 35.0], [40.0, 36.0]]}}]}'
    )
    scenario = load_scenario(tmp_path / "scenario.yaml")
    run = ScenarioRun.create(scenario, tmp_path / "data", config=ScenarioRunConfig(speed=1000.0))
    seen: list[float] = []

    def progress(_: DriverProgress) -> None:
        seen.append(run.clock.rate)

    try:
        assert run.clock.rate == 0.0  # not started: standing still
        run.run(progress=progress)
        assert seen and set(seen) == {1000.0}
        assert run.clock.rate == 0.0
    finally:
        run.close()
