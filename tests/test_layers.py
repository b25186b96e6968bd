"""Imports point down the layers only; the pure layers never touch a framework, a database or the clock;
the record's modules import alone (no cycles). The one layer test of the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "keepclear"

#: Rank of each top-level part of the package; a module may import only its own rank or lower.
RANKS = {
    "errors": 0,
    "settings": 0,
    "domain": 0,
    "geo": 1,
    "detect": 2,
    "store": 3,
    "ledger": 3,
    "scenario": 3,
    "services": 4,
    "api": 5,
    "cli": 5,
    "console": 5,
    "conformance": 5,
    "interop": 5,
}
PURE = ("domain", "geo", "detect")
FORBIDDEN_IN_PURE = (
    "fastapi", "starlette", "uvicorn", "httpx", "requests", "websockets", "sqlalchemy", "alembic", "psycopg",
    "sqlite3", "time", "asyncio", "nats",
)  # fmt: skip
CLOCK_CALLS = ("now", "utcnow", "today", "time", "monotonic", "perf_counter")
#: Narrower than the ranks: parts of keepclear these modules must not import although the ranks allow it.
NARROWER = {
    "domain/incidents.py": ("store", "ledger"),
    "store/ledger.py": ("ledger",),
    "store/incidents.py": ("ledger",),
    "services/reports/incident.py": ("store",),  # renders what the services give it, reads nothing itself
}
#: Modules that must import on their own in a fresh interpreter (an import cycle would break one).
IMPORT_ALONE = (
    "keepclear.store.ledger",
    "keepclear.store.incidents",
    "keepclear.ledger.verify",
    "keepclear.ledger.verify_keys",
    "keepclear.ledger.verify_heads",
    "keepclear.ledger.verdict",
    "keepclear.ledger.spec",
    "keepclear.ledger.refs",
    "keepclear.ledger.rows",
    "keepclear.ledger.core",
    "keepclear.ledger.appends",
    "keepclear.ledger.custody",
    "keepclear.ledger.submissions",
    "keepclear.ledger.heads",
    "keepclear.ledger.witnessing",
    "keepclear.ledger.export",
    "keepclear.ledger.book",
)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path):
    part = part_of(path)
    if part not in RANKS:
        assert part == "__init__", f"{part} has no layer in RANKS: add it"
        return
    for name in imports(path):
        if name.startswith("keepclear."):
            target = name.split(".")[1]
            assert target in RANKS, f"{path}: imports {name}, whose layer is unknown"
            assert RANKS[target] <= RANKS[part], f"{path} ({part}) imports {name} ({target}) from a higher layer"


@pytest.mark.parametrize(
    "path", [p for p in modules() if part_of(p) in PURE], ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_pure_layers_use_no_framework_database_or_clock(path: Path):
    for name in imports(path):
        root = name.split(".")[0]
        assert root not in FORBIDDEN_IN_PURE, f"{path} imports {name}"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if owner_name in ("datetime", "date", "time") and node.func.attr in CLOCK_CALLS:
                pytest.fail(f"{path}:{node.lineno} reads the clock ({owner_name}.{node.func.attr})")


@pytest.mark.parametrize("module", sorted(NARROWER))
def test_narrower_rules_hold(module: str) -> None:
    parts = {name.split(".")[1] for name in imports(PACKAGE / module) if name.startswith("keepclear.")}
    assert not parts & set(NARROWER[module]), f"{module} imports {sorted(parts & set(NARROWER[module]))}"


@pytest.mark.parametrize("name", IMPORT_ALONE)
def test_module_imports_alone(name: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_layer_test_catches_an_upward_import(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("from keepclear.services.runtime.bus import EventBus\nimport time\n")
    assert "keepclear.services.runtime.bus" in imports(bad)
    assert "time" in imports(bad)
