"""``keepclear replay`` writes a report with figures; without matplotlib it refuses before it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from keepclear.cli.main import cli


def test_replay_without_the_reports_extra_refuses_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "replay",
            "euphrates-2017",
            "--speed",
            "max",
            "--report",
            str(tmp_path / "report"),
            "--data-dir",
            str(run_dir),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "pip install 'keepclear[reports]'" in result.output
    assert not (tmp_path / "report").exists() and not run_dir.exists(), "nothing was started"
