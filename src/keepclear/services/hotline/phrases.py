"""Load the standard phrase catalogue: the one packaged with keepclear, plus a deployment's own files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from keepclear.domain.phrases import PhraseCatalogue, catalogue_from_mapping
from keepclear.errors import KeepclearError


def _parse(text: str, source: str) -> PhraseCatalogue:
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KeepclearError(f"{source}: not valid YAML: {exc}") from None
    try:
        return catalogue_from_mapping(document or {}, source)
    except ValueError as exc:
        raise KeepclearError(str(exc)) from None


def load_catalogue(extra_files: list[Path] | tuple[Path, ...] = ()) -> PhraseCatalogue:
    """The packaged phrases, then each of ``extra_files`` in turn (a code defined again replaces it).

    Raises ``KeepclearError`` naming the file and phrase when a file is unreadable or wrong.
    """
    packaged = resources.files("keepclear") / "data" / "phrases.yaml"
    catalogue = _parse(packaged.read_text(encoding="utf-8"), "keepclear/data/phrases.yaml")
    for path in extra_files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeepclearError(f"{path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise KeepclearError(f"{path}: not UTF-8 text") from None
        catalogue = catalogue.merged(_parse(text, str(path)))
    return catalogue
