"""``keepclear.detect`` stays pure: no store, service, web framework or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import keepclear.detect

FORBIDDEN = ("keepclear.store", "keepclear.services", "keepclear.api", "keepclear.cli", "sqlalchemy", "fastapi", "time")


def test_detect_imports_only_lower_layers() -> None:
    root = Path(keepclear.detect.__file__).parent
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), f"{path.name} imports {name}"
