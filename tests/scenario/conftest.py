"""Fixtures of the scenario tests: a small valid scenario as text, and the founding pack simulated once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from keepclear.scenario import Scenario, SensorModel, Simulator, resolve_scenario

MINI_ZONES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "river",
            "geometry": {"type": "LineString", "coordinates": [[40.0, 35.0], [40.0, 36.0]]},
            "properties": {"kind": "deconfliction-line", "name": "River", "buffer_m": 1000},
        }
    ],
}

MINI_YAML = """\
scenario:
  id: mini
  name: Mini
  start: 2017-11-08T06:00:00Z
  end: +01:00
  seed: 7
  zones: zones.geojson
parties:
  - {id: blue, name: Blue}
  - {id: red, name: Red, language: ru, roster: [{name: Duty officer}]}
forces:
  - {id: blue-air, name: Blue air, party: blue}
  - {id: red-land, name: Red land, party: red, partner: true}
units:
  - id: jet
    domain: air
    force: blue-air
    start: +00:00
    route:
      - {lat: 35.2, lon: 39.5, alt_ft: 20000, speed_kt: 400}
      - {lat: 35.5, lon: 39.8, alt_ft: 24000, at: +00:06}
      - {lat: 35.5, lon: 40.3, alt_ft: 24000, until: +00:30, loiter_radius_m: 8000}
      - {lat: 35.2, lon: 40.4, alt_ft: 18000}
  - id: truck
    domain: land
    force: red-land
    start: +00:05
    route:
      - {lat: 35.5, lon: 39.9, alt_ft: 700, speed_kt: 25}
      - {lat: 35.6, lon: 39.95, alt_ft: 700}
      - {lat: 35.6, lon: 40.1, alt_ft: 700, until: +01:00}
activities:
  - ref: op1
    party: blue
    notify_at: +00:01
    acks: {red: 120}
    body:
      kind: air-operation
      start: +00:20
      end: +00:40
      volumes:
        - {circle: {center: [40.3, 35.5], radius_m: 12000}, lower_ft: 20000, upper_ft: 26000}
      addressees: [red]
      units: [jet]
hotline:
  - {ref: hello, at: +00:00, from: blue, to: [red], phrase: COMMS_CHECK, acks: {red: 30}}
  - {ref: reply, at: +00:02, from: red, to: [blue], thread: hello, reply_to: hello, text: Loud and clear, acks: {blue: never}}
sensors:
  position_sigma_m: 50
  altitude_sigma_m: 10
  velocity_sigma_mps: 1
  report_interval_s: {air: 2, land: 5}
  dropout: {probability: 0.1, outages_per_h: 2, outage_mean_s: 60}
expect:
  - {kind: line-crossing, units: [truck], zone: river, parties: [red]}
"""


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[[str], Path]:
    """Write scenario text (and the mini zones) into a folder; returns the scenario file's path."""

    def write(text: str) -> Path:
        (tmp_path / "zones.geojson").write_text(json.dumps(MINI_ZONES), encoding="utf-8")
        path = tmp_path / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def euphrates() -> Scenario:
    """The founding pack, loaded once."""
    return resolve_scenario("euphrates-2017")


@pytest.fixture(scope="session")
def euphrates_truth(euphrates: Scenario) -> Simulator:
    """The founding pack simulated with perfect sensors (true trajectories)."""
    return Simulator(euphrates, sensors=SensorModel())
