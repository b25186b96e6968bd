"""The scenario packs bundled with keepclear (package data under ``data/scenarios``): their names
and the scenario file of each."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path as FilePath

from keepclear.errors import NotFoundError

__all__ = ["PACKS_FOLDER", "SCENARIO_FILE", "pack_names", "pack_path"]

#: The folder of bundled packs inside the package (package data, no ``__init__``).
PACKS_FOLDER = ("data", "scenarios")
SCENARIO_FILE = "scenario.yaml"


def _packs_root() -> Traversable:
    return resources.files("keepclear").joinpath(*PACKS_FOLDER)


def pack_names() -> list[str]:
    """The bundled scenario packs, by name."""
    root = _packs_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / SCENARIO_FILE).is_file())


def pack_path(name: str) -> FilePath:
    """The scenario file of bundled pack ``name``; ``NotFoundError`` lists the packs there are."""
    candidate = _packs_root() / name / SCENARIO_FILE
    if not candidate.is_file():
        raise NotFoundError(f"no scenario pack {name!r} (packs: {', '.join(pack_names()) or 'none'})")
    return FilePath(str(candidate))
