"""The CLI answers ``--help`` and ``--version`` without loading any capability, and its command table
says of each command what the command itself says."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keepclear.cli.lazy import COMMANDS

HEAVY = ("numpy", "numba", "sqlalchemy", "alembic", "fastapi", "uvicorn", "matplotlib", "cryptography", "pyproj")

PROBE = """
import sys
from keepclear.cli.main import main
try:
    main({argv!r})
finally:
    print("LOADED=" + ",".join(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["zones", "--help"]])
def test_help_and_version_load_no_capability(argv: list[str]) -> None:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = [line for line in done.stderr.splitlines() if line.startswith("LOADED=")]
    assert loaded, done.stderr
    names = loaded[-1].removeprefix("LOADED=")
    if argv == ["zones", "--help"]:
        # A command's own help loads that command's module, not the probe's compiler or the web stack.
        assert not {"numba", "fastapi", "uvicorn", "matplotlib"} & set(names.split(",")), names
    else:
        assert names == "", f"keepclear {' '.join(argv)} imported {names}"
    assert "Usage" in done.stdout or "version" in done.stdout


def test_help_lists_every_command_with_its_own_summary() -> None:
    for name, entry in COMMANDS.items():
        command = entry.load()
        first_line = (command.help or "").strip().splitlines()[0]
        assert first_line == entry.summary, f"{name}: table says {entry.summary!r}, command says {first_line!r}"
        assert command.name == name


def test_unknown_command_is_a_usage_error() -> None:
    from keepclear.cli.main import main

    assert main(["no-such-command"]) == 2
