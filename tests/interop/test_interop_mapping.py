"""The mapping file: ids to units, every mistake reported with its line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepclear.errors import ValidationError
from keepclear.interop.mapping import IdKind, load_mapping, parse_mapping

GOOD = """\
party: a
cot:
  ANDROID-589520ccfcd2: ua
icao:
  3c6444: ua
mmsi:
  211234560: ship1
"""


def test_ids_map_to_units_and_unknown_ids_map_to_nothing() -> None:
    mapping = parse_mapping(GOOD)
    assert mapping.party_id == "a"
    assert mapping.unit_for(IdKind.COT, "ANDROID-589520ccfcd2") == "ua"
    assert mapping.unit_for(IdKind.COT, "android-589520ccfcd2") is None  # CoT uids are exact
    assert mapping.unit_for(IdKind.ICAO, "3C6444") == "ua"
    assert mapping.unit_for(IdKind.ICAO, "3c6444") == "ua"
    assert mapping.unit_for(IdKind.MMSI, "211234560") == "ship1"
    assert mapping.unit_for(IdKind.MMSI, "211234561") is None
    assert mapping.unit_for(IdKind.ICAO, "zzzzzz") is None
    assert mapping.external_ids(IdKind.COT) == {"ua": "ANDROID-589520ccfcd2"}


def test_every_problem_is_named_with_its_line_and_field() -> None:
    text = """\
party: Not An Id
cot:
  uid-1: ua
icao:
  3C64: ua
  3C6445: "bad unit"
mmsi:
  12345: ship1
colour: red
"""
    with pytest.raises(ValidationError) as caught:
        parse_mapping(text, "feeds.yaml")
    problems = caught.value.problems
    assert any(p.startswith("feeds.yaml line 9: colour: unknown field") for p in problems), problems
    assert any(p.startswith("feeds.yaml line 1: party:") for p in problems), problems
    assert any(p.startswith("feeds.yaml line 5: icao.3C64: '3C64' is not an ICAO") for p in problems), problems
    assert any(p.startswith("feeds.yaml line 6: icao.3C6445:") for p in problems), problems
    assert any(p.startswith("feeds.yaml line 8: mmsi.12345: '12345' is not an MMSI") for p in problems), problems
    assert len(problems) == 5, problems


def test_the_same_address_twice_in_two_spellings_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"line 4: icao.3c6444: 3C6444 is mapped twice"):
        parse_mapping("party: a\nicao:\n  3C6444: ua\n  3c6444: ub\n")


def test_a_file_without_party_or_ids_is_refused() -> None:
    with pytest.raises(ValidationError, match="missing required field 'party'"):
        parse_mapping("cot:\n  x: ua\n")
    with pytest.raises(ValidationError, match="maps no id"):
        parse_mapping("party: a\n")
    with pytest.raises(ValidationError, match="line 2: cot: must be a mapping"):
        parse_mapping("party: a\ncot: [ua]\n")


def test_a_missing_file_is_told_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "nope.yaml")
    (tmp_path / "interop.yaml").write_text(GOOD)
    assert load_mapping(tmp_path / "interop.yaml").unit_for(IdKind.MMSI, "211234560") == "ship1"
