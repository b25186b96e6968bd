"""Reading typed fields out of a located YAML document, collecting every problem with its line.

A ``FieldReader`` never raises on bad input: it records ``file line N: path: what is wrong`` and
returns None, so one pass reports every mistake in the file at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from keepclear.domain.ids import id_problem
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.scenario.located import Located, Path, undotted

_RELATIVE_RE = re.compile(r"^\+(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$")

#: Words that mean "never" for an acknowledgement delay.
NEVER = frozenset({"none", "never"})


class FieldReader:
    """Typed access to ``located`` with problems collected in ``problems``.

    ``start_s`` anchors relative times written ``+HH:MM`` or ``+HH:MM:SS``.
    """

    def __init__(self, located: Located, start_s: float = 0.0) -> None:
        self.located = located
        self.start_s = start_s
        self.problems: list[str] = []

    def problem(self, path: Path, message: str) -> None:
        """Record ``message`` about the value at ``path``."""
        self.problems.append(f"{self.located.where(path)}: {message}")

    def rule_problems(self, path: Path, problems: Iterable[str]) -> None:
        """Record each of ``problems``, a domain rule's ``field: what is wrong`` about the object at
        ``path`` (``unit_problems``: the registry's rule, the same as the API's), at its field's line."""
        for problem in problems:
            field, _, message = problem.partition(": ")
            self.problem((*path, *undotted(field)), message)

    def get(self, path: Path) -> Any:
        """The raw value at ``path`` or None when any step is missing."""
        value: Any = self.located.value
        for part in path:
            if isinstance(part, int):
                if not isinstance(value, list) or part >= len(value):
                    return None
            elif not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def has(self, path: Path) -> bool:
        """True when the mapping at ``path[:-1]`` has the key ``path[-1]``."""
        parent = self.get(path[:-1])
        return isinstance(parent, dict) and path[-1] in parent

    def mapping(self, path: Path, known: frozenset[str], required: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The mapping at ``path``; unknown and missing keys are problems. {} when not a mapping."""
        value = self.get(path)
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping of fields")
            return {}
        for key in sorted(set(value) - known):
            self.problem((*path, key), f"unknown field (known: {', '.join(sorted(known))})")
        for key in sorted(required - set(value)):
            self.problem(path, f"missing required field {key!r}")
        return value

    def sequence(self, path: Path, *, required: bool = True) -> list[Any]:
        """The list at ``path`` ([] when absent and optional)."""
        value = self.get(path)
        if value is None and not required and not self.has(path):
            return []
        if not isinstance(value, list):
            self.problem(path, "must be a list")
            return []
        return value

    def text(self, path: Path, *, required: bool = True, default: str = "") -> str | None:
        """A non-empty string."""
        value = self.get(path)
        if value is None and not required:
            return default
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be non-empty text, got {value!r}")
            return None
        return value

    def ident(self, path: Path) -> str | None:
        """A keepclear id (lower-case letters, digits, '_', '.', '-')."""
        value = self.get(path)
        problem = id_problem(value, "id")
        if problem:
            self.problem(path, problem.removeprefix("id: "))
            return None
        assert isinstance(value, str)
        return value

    def number(
        self,
        path: Path,
        *,
        required: bool = True,
        default: float | None = None,
        minimum: float = -math.inf,
        maximum: float = math.inf,
        exclusive_minimum: bool = False,
    ) -> float | None:
        """A finite number within bounds."""
        value = self.get(path)
        if value is None and not required:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.problem(path, f"must be a finite number, got {value!r}")
            return None
        low_ok = value > minimum if exclusive_minimum else value >= minimum
        if not low_ok or value > maximum:
            low = "(" if exclusive_minimum else "["
            self.problem(path, f"{value!r} is outside {low}{minimum:g}, {maximum:g}]")
            return None
        return float(value)

    def boolean(self, path: Path, default: bool) -> bool:
        """true/false (default when absent)."""
        value = self.get(path)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, got {value!r}")
            return default
        return value

    def time(self, path: Path, *, required: bool = True) -> float | None:
        """An ISO 8601 time with a zone, or ``+HH:MM[:SS]`` after the scenario start."""
        value = self.get(path)
        if value is None and not required:
            return None
        if isinstance(value, str) and (match := _RELATIVE_RE.match(value)):
            hours, minutes, seconds = match.groups()
            return self.start_s + int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)
        try:
            return parse_utc(value, "time")
        except ValueError as exc:
            self.problem(path, f"{str(exc).removeprefix('time: ')} (or +HH:MM[:SS] after the scenario start)")
            return None

    def iso_time(self, path: Path, *, required: bool = True) -> str | None:
        """``time`` resolved and written back as ISO 8601 UTC (for bodies passed on as text)."""
        time_s = self.time(path, required=required)
        return None if time_s is None else format_utc(time_s)

    def delay(self, path: Path) -> tuple[bool, float | None]:
        """An acknowledgement delay: seconds >= 0, or none/never/null (never). (ok, value)."""
        value = self.get(path)
        if value is None or (isinstance(value, str) and value.lower() in NEVER):
            return True, None
        number = self.number(path, minimum=0.0)
        return number is not None, number
