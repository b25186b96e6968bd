"""Scenario files: the founding pack loads; every mistake is reported with its line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MINI_YAML
from keepclear.domain import Domain
from keepclear.domain.timefmt import parse_utc
from keepclear.errors import NotFoundError, ValidationError
from keepclear.scenario import (
    AcknowledgeActivity,
    ExpectationKind,
    NotifyActivity,
    PartyRole,
    Scenario,
    load_scenario,
    pack_names,
    parse_scenario,
    resolve_scenario,
    script_actions,
)

START_S = parse_utc("2017-11-08T06:00:00Z", "t")


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def problems_of(write: Callable[[str], Path], text: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        load_scenario(write(text))
    return caught.value.problems


def test_founding_pack_is_bundled_and_loads(euphrates: Scenario) -> None:
    assert "euphrates-2017" in pack_names()
    assert euphrates.id == "euphrates-2017"
    assert [p.party.id for p in euphrates.parties] == ["coalition", "russia", "un"]
    assert next(p for p in euphrates.parties if p.party.id == "un").role is PartyRole.OBSERVER
    assert {f.id: (f.party_id, f.partner) for f in euphrates.forces}["sdf"] == ("coalition", True)
    assert {f.id: (f.party_id, f.partner) for f in euphrates.forces}["saa"] == ("russia", True)
    zone_ids = {z.id for z in euphrates.zones}
    assert {"dez-idlib", "dez-homs", "dez-ghouta", "dez-south", "euphrates-line", "al-tanf"} <= zone_ids
    assert euphrates.end_s - euphrates.start_s == 4 * 3600
    assert {e.kind for e in euphrates.expectations} == set(ExpectationKind)


def test_founding_pack_river_line_is_long_and_buffered(euphrates: Scenario) -> None:
    line = next(z for z in euphrates.zones if z.id == "euphrates-line")
    assert line.geometry.geom_type == "MultiLineString"
    lon_min, _, lon_max, _ = line.geometry.bounds
    assert lon_min < 38.1 and lon_max > 41.0  # Jarabulus to Abu Kamal
    assert line.buffer_m == 5000


def test_activity_bodies_have_absolute_times_and_never_acks(euphrates: Scenario) -> None:
    by_ref = {a.ref: a for a in euphrates.activities}
    assert by_ref["a1"].body["start"] == "2017-11-08T08:00:00Z"
    assert by_ref["a3"].body["route"]["waypoints"][1]["time"] == "2017-11-08T08:12:00Z"
    assert by_ref["a4"].acks == {"russia": None}
    actions = script_actions(euphrates)
    assert not any(isinstance(a, AcknowledgeActivity) and a.ref == "a4" for a in actions)
    assert [a.time_s for a in actions] == sorted(a.time_s for a in actions)
    first = next(a for a in actions if isinstance(a, NotifyActivity))
    assert first.activity.ref == "a1" and first.time_s == START_S + 300


def test_mini_scenario_loads_with_relative_times(write_scenario: Callable[[str], Path]) -> None:
    scenario = load_scenario(write_scenario(MINI_YAML))
    jet = scenario.plans[0]
    assert jet.unit.domain is Domain.AIR
    assert jet.route[1].at_s == START_S + 360
    assert jet.route[1].alt_m == pytest.approx(24000 * 0.3048)
    assert scenario.messages[1].acks == {"blue": None}
    assert scenario.messages[1].thread == "hello"
    assert scenario.party_of_unit() == {"jet": "blue", "truck": "red"}


def test_story_beats_load_in_time_order_and_are_checked(write_scenario: Callable[[str], Path]) -> None:
    story = "story:\n  - {at: +00:20, text: Second}\n  - {at: +00:05, text: First}\n"
    scenario = load_scenario(write_scenario(MINI_YAML + story))
    assert [(b.at_s - START_S, b.text) for b in scenario.story] == [(300, "First"), (1200, "Second")]
    bad = "story:\n  - {at: +09:00, text: Too late}\n  - {at: +00:05, text: Fine, colour: red}\n"
    problems = problems_of(write_scenario, MINI_YAML + bad)
    assert any("story[0].at" in p and "between the scenario's start and end" in p for p in problems), problems
    assert any("story[1].colour" in p and "unknown field" in p for p in problems), problems


def test_founding_pack_tells_its_story_with_two_close_encounters(euphrates: Scenario) -> None:
    encounters = {e.units for e in euphrates.expectations if e.kind is ExpectationKind.LOSS_OF_SEPARATION}
    assert encounters == {("reaper-52", "grach-05"), ("viper-21", "berkut-12")}
    beats = [b.at_s - START_S for b in euphrates.story]
    assert beats == sorted(beats) and 34 * 60 in beats and 85 * 60 in beats


def test_unknown_pack_lists_the_packs() -> None:
    with pytest.raises(NotFoundError, match="euphrates-2017"):
        resolve_scenario("no-such-pack")


BAD_CASES = [
    # (replace this, with that, the line to blame holds this, the message holds these)
    ("alt_ft: 24000, at: +00:06}", "alt_ft: high, at: +00:06}", "alt_ft: high", ["units[0].route[1].alt_ft", "finite number"]),
    ("force: red-land", "force: green", "force: green", ["units[1].force", "no force 'green'"]),
    ("notify_at: +00:01", "notify_at: 2017-11-08T06:01:00", "notify_at:", ["activities[0].notify_at", "no time zone"]),
    ("speed_kt: 400}", "speed_kt: 400, colour: red}", "colour: red", ["units[0].route[0].colour", "unknown field"]),
    ("at: +00:06}", "at: +00:01}", "at: +00:01", ["units[0].route[1]", "kt to arrive on time"]),
    ("acks: {red: 120}", "acks: {blue: 120}", "acks: {blue", ["activities[0].acks.blue", "not an addressee"]),
    ("acks: {red: 120}", "acks: {red: -5}", "acks: {red", ["activities[0].acks.red", "outside"]),
    ("reply_to: hello", "reply_to: nothing", "reply_to: nothing", ["hotline[1].reply_to", "no earlier message"]),
    ("phrase: COMMS_CHECK,", "phrase: COMMS_CHECK, text: hi,", "phrase: COMMS_CHECK", ["hotline[0]", "exactly one of text"]),
    ("radius_m: 12000}", "radius_m: 0}", "radius_m: 0", ["activities[0].body.volumes[0].circle.radius_m", "outside"]),
    ("units: [jet]", "units: [truck]", "units: [truck]", ["activities[0].body.units[0]", "notifying party"]),
    ("zone: river", "zone: lake", "zone: lake", ["expect[0].zone", "no zone 'lake'"]),
    ("domain: land", "domain: space", "domain: space", ["units[1].domain", "unknown domain"]),
    ("until: +00:30, loiter_radius_m: 8000", "until: +00:30, loiter_radius_m: 500", "loiter_radius_m: 500", ["tighter than this unit can turn"]),
    ("lower_ft: 20000, upper_ft: 26000", "lower_ft: 26000, upper_ft: 20000", "lower_ft: 26000", ["upside down"]),
    # Registry text: the registry's rule (one line, the column's width), named at its line, not at install.
    ("  - id: jet\n", '  - id: jet\n    callsign: "JET\\e[2J"\n', "callsign:", ["units[0].callsign", "control character (U+001B)"]),
    ("  - id: jet\n", "  - id: jet\n    callsign: " + "J" * 65 + "\n", "callsign:", ["units[0].callsign", "65 characters, at most 64"]),
    ("  - id: truck\n", '  - id: truck\n    kind: "truck\\nBRAVO1: friendly"\n', "kind:", ["units[1].kind", "control character (U+000A)"]),
    ("{id: blue, name: Blue}", '{id: blue, name: "Bl\\tue"}', "name: \"Bl", ["parties[0].name", "control character (U+0009)"]),
    ("{id: blue-air, name: Blue air,", "{id: blue-air, name: " + "B" * 201 + ",", "name: BBB", ["forces[0].name", "at most 200"]),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "blamed", "fragments"), BAD_CASES, ids=[c[3][0] for c in BAD_CASES])
def test_bad_field_is_reported_with_line_and_path(
    write_scenario: Callable[[str], Path], old: str, new: str, blamed: str, fragments: list[str]
) -> None:
    assert old in MINI_YAML
    text = MINI_YAML.replace(old, new, 1)
    problems = problems_of(write_scenario, text)
    line = line_of(text, blamed)
    matching = [p for p in problems if p.startswith(f"scenario.yaml line {line}:")]
    assert matching, problems
    for fragment in fragments:
        assert any(fragment in p for p in matching), (fragment, problems)


def test_missing_required_field_names_the_mapping_line(write_scenario: Callable[[str], Path]) -> None:
    text = MINI_YAML.replace("    force: blue-air\n", "", 1)
    problems = problems_of(write_scenario, text)
    assert f"scenario.yaml line {line_of(text, '- id: jet')}: units[0]: missing required field 'force'" in problems


def test_every_problem_is_reported_at_once(write_scenario: Callable[[str], Path]) -> None:
    text = MINI_YAML.replace("force: red-land", "force: green").replace("notify_at: +00:01", "notify_at: soon")
    problems = problems_of(write_scenario, text)
    assert any("units[1].force" in p for p in problems)
    assert any("activities[0].notify_at" in p for p in problems)


def test_yaml_syntax_error_names_the_line(write_scenario: Callable[[str], Path]) -> None:
    text = MINI_YAML.replace("  seed: 7\n", "  seed: [7\n", 1)
    problems = problems_of(write_scenario, text)
    assert len(problems) == 1 and "YAML syntax error" in problems[0] and "line" in problems[0]


def test_duplicate_key_is_refused(write_scenario: Callable[[str], Path]) -> None:
    text = MINI_YAML.replace("  seed: 7\n", "  seed: 7\n  seed: 8\n", 1)
    problems = problems_of(write_scenario, text)
    assert problems == [f"scenario.yaml line {line_of(text, 'seed: 8')}: scenario.seed is given twice"]


def test_bad_zone_file_is_named_with_its_feature(write_scenario: Callable[[str], Path], tmp_path: Path) -> None:
    path = write_scenario(MINI_YAML)
    (tmp_path / "zones.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, "properties": {}}]}'
    )
    with pytest.raises(ValidationError) as caught:
        load_scenario(path)
    assert any("scenario.zones" in p and "zones.geojson feature 0" in p for p in caught.value.problems)


def test_missing_zone_file_is_named(write_scenario: Callable[[str], Path]) -> None:
    text = MINI_YAML.replace("zones: zones.geojson", "zones: nowhere.geojson")
    problems = problems_of(write_scenario, text)
    assert any(
        p.startswith(f"scenario.yaml line {line_of(text, 'nowhere')}: scenario.zones: cannot read") for p in problems
    )


def test_empty_file_is_refused() -> None:
    with pytest.raises(ValidationError, match="empty"):
        parse_scenario("", source="x.yaml")


def test_yes_and_no_stay_text_and_true_false_are_booleans() -> None:
    from keepclear.scenario.located import load_located

    located = load_located("a: no\nb: yes\nc: true\nd: False\ne: 2017-11-08\n")
    assert located.value == {"a": "no", "b": "yes", "c": True, "d": False, "e": "2017-11-08"}
