"""YAML read into plain values, remembering the line each value came from.

Errors in a scenario must name the line a person has to fix, so the file is composed into PyYAML
nodes (which carry their marks) and turned into plain dicts/lists/scalars alongside a map from
each value's path (``("units", 3, "plan", 2, "alt_ft")``) to its 1-based line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from keepclear.errors import ValidationError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A YAML document as plain values, and the line of every value in it."""

    value: Any
    source: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor the file has (a missing field)."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None

    def where(self, path: Path) -> str:
        """``file line N: a.b[2].c`` for error messages."""
        line = self.line(path)
        at = f"{self.source} line {line}" if line is not None else self.source
        return f"{at}: {dotted(path)}" if path else at


def dotted(path: Iterable[str | int]) -> str:
    """``("units", 3, "plan")`` as ``units[3].plan``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _plain(node: yaml.Node, path: Path, lines: dict[Path, int], source: str, loader: yaml.SafeLoader) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ValidationError(
                    [f"{source} line {key_node.start_mark.line + 1}: mapping keys must be plain text"]
                )
            key = str(key_node.value)
            if key in out:
                raise ValidationError(
                    [f"{source} line {key_node.start_mark.line + 1}: {dotted((*path, key))} is given twice"]
                )
            out[key] = _plain(value_node, (*path, key), lines, source, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, index), lines, source, loader) for index, item in enumerate(node.value)]
    # Scalars: let the safe constructor resolve ints, floats, booleans, nulls; keep timestamps as text
    # (times are parsed by keepclear so a missing zone is refused, not guessed).
    if node.tag == "tag:yaml.org,2002:timestamp":
        return str(node.value)
    # YAML 1.1 reads yes/no/on/off as booleans: a party called "no" (Norway) must stay text.
    if node.tag == "tag:yaml.org,2002:bool" and str(node.value).lower() not in ("true", "false"):
        return str(node.value)
    return loader.construct_object(node, deep=True)


def load_located(text: str, source: str = "<scenario>") -> Located:
    """Parse one YAML document; a syntax error becomes a ``ValidationError`` naming the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationError([f"{source}{line}: YAML syntax error: {exc.problem}"]) from None
    if node is None:
        raise ValidationError([f"{source}: the file is empty"])
    lines: dict[Path, int] = {}
    value = _plain(node, (), lines, source, yaml.SafeLoader(""))
    return Located(value=value, source=source, lines=lines)
