"""The record's modules import downwards only, and each imports cleanly on its own (no cycles)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import keepclear

PACKAGE = Path(keepclear.__file__).parent
#: For each module of this capability, the top-level packages of keepclear it must not import.
FORBIDDEN = {
    "domain/incidents.py": ("store", "ledger", "services", "cli", "api"),
    "store/ledger.py": ("ledger", "services", "cli", "api"),
    "store/incidents.py": ("ledger", "services", "cli", "api"),
    **{f"ledger/{p.name}": ("services", "cli", "api") for p in (PACKAGE / "ledger").glob("*.py")},
    "services/incidents.py": ("cli", "api"),
    "services/record.py": ("cli", "api"),
    "services/incident_metrics.py": ("cli", "api"),
    "services/incident_report.py": ("cli", "api", "store"),
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keepclear."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("keepclear."))
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_imports_point_down(module: str) -> None:
    assert not _imports(PACKAGE / module) & set(FORBIDDEN[module])


def test_each_module_imports_alone() -> None:
    names = ["keepclear.store.ledger", "keepclear.store.incidents", "keepclear.ledger.verify", "keepclear.ledger.book"]
    code = "; ".join(f"import {n}" for n in names[::-1])
    for name in names:
        result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
