"""YAML read into plain values, remembering the line each value came from.

Errors in a scenario must name the line a person has to fix, so the file is composed into PyYAML
nodes (which carry their marks) and turned into plain dicts/lists/scalars alongside a map from
each value's path (``("units", 3, "plan", 2, "alt_ft")``) to its 1-based line.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from keepclear.domain.json_input import TOO_MANY_DIGITS
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


def undotted(text: str) -> Path:
    """``units[3].plan`` as ``("units", 3, "plan")``: the path ``dotted`` wrote.

    >>> undotted("roster[0].name")
    ('roster', 0, 'name')
    """
    return tuple(int(part[1:-1]) if part[0] == "[" else part for part in re.findall(r"\[\d+\]|[^.\[\]]+", text))


#: How deep a file's values may nest, and how many values it may hold once its aliases are expanded
#: (a scenario of thousands of units and waypoints holds some hundreds of thousands): past them the
#: file is refused, naming the line, before a nesting exhausts the stack or a few lines of aliases
#: expand into billions of values.
MAX_DEPTH = 64
MAX_VALUES = 2_000_000


@dataclass
class _Reading:
    """What one ``load_located`` has read so far: the lines of the values and how many there are."""

    source: str
    loader: yaml.SafeLoader
    lines: dict[Path, int] = field(default_factory=dict)
    values: int = 0

    def refuse(self, node: yaml.Node, problem: str) -> ValidationError:
        return ValidationError([f"{self.source} line {node.start_mark.line + 1}: {problem}"])


def _plain(node: yaml.Node, path: Path, reading: _Reading) -> Any:
    reading.values += 1
    if reading.values > MAX_VALUES:
        raise reading.refuse(node, f"more than {MAX_VALUES:,} values (aliases expanded)")
    if len(path) > MAX_DEPTH:
        raise reading.refuse(node, f"{dotted(path)} is nested deeper than {MAX_DEPTH} levels")
    reading.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise reading.refuse(key_node, "mapping keys must be plain text")
            key = str(key_node.value)
            if key in out:
                raise reading.refuse(key_node, f"{dotted((*path, key))} is given twice")
            out[key] = _plain(value_node, (*path, key), reading)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, index), reading) for index, item in enumerate(node.value)]
    # Scalars: let the safe constructor resolve ints, floats, booleans, nulls; keep timestamps as text
    # (times are parsed by keepclear so a missing zone is refused, not guessed).
    if node.tag == "tag:yaml.org,2002:timestamp":
        return str(node.value)
    # YAML 1.1 reads yes/no/on/off as booleans: a party called "no" (Norway) must stay text.
    if node.tag == "tag:yaml.org,2002:bool" and str(node.value).lower() not in ("true", "false"):
        return str(node.value)
    try:
        return reading.loader.construct_object(node, deep=True)
    except ValueError:  # an int of more digits than Python converts (4,300)
        raise reading.refuse(node, f"{dotted(path) or 'the value'}: {TOO_MANY_DIGITS}") from None
    except yaml.constructor.ConstructorError as exc:
        raise reading.refuse(node, f"{dotted(path) or 'the value'}: {exc.problem}") from None


def read_utf8(file: pathlib.Path, what: str) -> str:
    """The text of ``file`` (the ``what`` of an error: "the mapping file"), or a ``ValidationError``
    saying why it cannot be read: missing, unreadable, not UTF-8."""
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError([f"{file}: cannot read {what}: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ValidationError([f"{file}: {what} is not UTF-8 text (byte {exc.start})"]) from None


def load_located(text: str, source: str = "<scenario>") -> Located:
    """Parse one YAML document; a syntax error becomes a ``ValidationError`` naming the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ValidationError([f"{source}: nested deeper than {MAX_DEPTH} levels"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationError([f"{source}{line}: YAML syntax error: {exc.problem}"]) from None
    if node is None:
        raise ValidationError([f"{source}: the file is empty"])
    reading = _Reading(source, yaml.SafeLoader(""))
    value = _plain(node, (), reading)
    return Located(value=value, source=source, lines=reading.lines)
