"""Recorded tracks: a real trajectory replays as recorded; a bad row is named by file, line and column."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from keepclear.domain import track_report_problems
from keepclear.domain.timefmt import parse_utc
from keepclear.errors import ValidationError
from keepclear.scenario import Simulator, load_scenario, resolve_scenario

RECORDED_YAML = """\
scenario: {id: rec, name: Recorded, start: 2020-06-30T20:00:00Z, end: 2020-06-30T21:00:00Z}
parties: [{id: blue, name: Blue}]
forces: [{id: air, name: Air, party: blue}]
units:
  - {id: tanker, domain: air, force: air, recording: tanker.csv}
"""
HEADER = "time,lat_deg,lon_deg,alt_m,vel_east_mps,vel_north_mps,vel_up_mps\n"
ROWS = [
    "2020-06-30T20:10:00Z,45.0,2.0,8000,200,0,0\n",
    "2020-06-30T20:10:04Z,45.0,2.0102,8000,200,0,0\n",
    "2020-06-30T20:10:08Z,45.0,2.0204,8000,200,0,0\n",
]


def _write(tmp_path: Path, csv_text: str, yaml_text: str = RECORDED_YAML) -> Path:
    (tmp_path / "tanker.csv").write_text(csv_text, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return path


def test_recording_replays_its_rows_exactly(tmp_path: Path) -> None:
    sim = Simulator(load_scenario(_write(tmp_path, HEADER + "".join(ROWS))))
    reports = sim.reports_between(sim.start_s, sim.end_s)
    assert [r.time_s for r in reports] == [parse_utc(row.split(",")[0], "t") for row in ROWS]
    assert [r.lon_deg for r in reports] == [2.0, 2.0102, 2.0204]
    assert sim.truth("tanker").speed_mps.tolist() == [200.0, 200.0, 200.0]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([ROWS[0], "2020-06-30T20:10:04Z,95.0,2.0,8000,200,0,0\n"], "tanker.csv line 3: lat_deg: 95.0 is outside"),
        ([ROWS[0], "2020-06-30T20:10:04,45.0,2.0,8000,200,0,0\n"], "tanker.csv line 3: time: "),
        ([ROWS[1], ROWS[0]], "tanker.csv line 3: time: 2020-06-30T20:10:00Z does not come after"),
        ([ROWS[0], "2020-06-30T20:10:04Z,45.0,east,8000,200,0,0\n"], "tanker.csv line 3: could not convert"),
    ],
)
def test_bad_recording_row_is_named(tmp_path: Path, rows: list[str], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_scenario(_write(tmp_path, HEADER + "".join(rows)))
    assert any(f"line 5: units[0].recording: {expected}" in p for p in caught.value.problems), caught.value.problems


def test_recording_with_missing_columns_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"tanker\.csv line 1: missing columns alt_m"):
        load_scenario(_write(tmp_path, "time,lat_deg,lon_deg\n"))


def test_recording_and_route_do_not_mix(tmp_path: Path) -> None:
    text = RECORDED_YAML.replace("recording: tanker.csv}", "recording: tanker.csv, start: +00:00}")
    with pytest.raises(ValidationError, match=r"units\[0\]\.start: a unit with a recording has no start or route"):
        load_scenario(_write(tmp_path, HEADER + "".join(ROWS), text))


def test_real_trajectory_pack_loads_and_every_report_is_valid() -> None:
    scenario = resolve_scenario("refuelling-2020")
    sim = Simulator(scenario)
    reports = sim.reports_between(sim.start_s, sim.end_s)
    assert len(reports) > 2000
    assert all(track_report_problems(r) == [] for r in reports)
    folder = resources.files("keepclear").joinpath("data", "scenarios", "refuelling-2020")
    assert "MIT License" in folder.joinpath("LICENSE-traffic.md").read_text(encoding="utf-8")
    with folder.joinpath("faf4011.csv").open(encoding="utf-8") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == len(reports)
