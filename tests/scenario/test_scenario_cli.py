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
