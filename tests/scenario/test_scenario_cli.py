"""``keepclear scenario list / check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepclear.cli.main import main


def test_list_names_the_bundled_packs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    out = capsys.readouterr().out
    assert "euphrates-2017\t" in out and "refuelling-2020\t" in out


def test_check_summarises_a_good_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", "euphrates-2017"]) == 0
    out = capsys.readouterr().out
    assert "15 units" in out and "expects strategic-conflict: a1, a2" in out


def test_check_lists_every_problem_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario:\n  id: Bad Id\n  name: x\n  start: 2017-11-08T06:00:00Z\n  end: +01:00\n"
                   "parties: []\nforces: []\nunits: []\n")  # fmt: skip
    assert main(["scenario", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml line 2: scenario.id: 'Bad Id' is not a valid id" in err
    assert err.strip().endswith("error: 1 problem(s) in " + str(bad) + " (listed above)")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("scenario: " + "[" * 5_000 + "]" * 5_000 + "\n", "nested deeper than 64 levels"),
        ("scenario: " + "[" * 80 + "]" * 80 + "\n", "line 1: scenario" + "[0]" * 64 + " is nested deeper than 64 levels"),
        ("scenario:\n  seed: " + "9" * 5_000 + "\n", "line 2: scenario.seed: a number has more digits than can be read"),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"{chr(98 + k)}: &{chr(98 + k)} [*{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)},"
                   f" *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}]\n"
                   for k in range(7)),
         "values (aliases expanded)"),
        ("scenario:\n  seed: !!python/name:os.system ''\n", "line 2: scenario.seed: could not determine a constructor"),
        (b"scenario:\n  name: caf\xe9\n", "the scenario is not UTF-8 text (byte 21)"),
    ],
    ids=["deep", "deep-past-the-limit", "huge-number", "alias-bomb", "unsafe-tag", "not-utf8"],
)  # fmt: skip
def test_a_hostile_scenario_file_is_refused_in_one_line_never_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, problem: str
) -> None:
    bad = tmp_path / "hostile.yaml"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["scenario", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert problem in err and "internal error" not in err and "Traceback" not in err
