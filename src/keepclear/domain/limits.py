"""One set of input limits: every size, depth, count and range a party's input must keep to.

Each limit is a setting (``Settings.input_limits()`` builds this object; docs/settings.md names
every one); the API's input gate, the hotline, the zone importer and the CLI judge input against the
same ``InputLimits``, so SQLite and PostgreSQL deployments refuse exactly the same input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Integers anywhere in input (JSON bodies, sequence numbers in paths and queries) fit in 64 bits.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: The most characters a person's name (``X-Keepclear-Person``) can have: the stores' column width.
PERSON_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The limits in force; the defaults are the settings' defaults."""

    max_body_bytes: int = 2 * 1024 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 32
    max_message_data_bytes: int = 16 * 1024
    max_person_chars: int = PERSON_MAX_CHARS
    max_url_bytes: int = 4096
    max_zone_file_bytes: int = 16 * 1024 * 1024
    max_zone_features: int = 10_000
    max_zone_vertices_per_feature: int = 50_000
    max_zone_vertices_total: int = 500_000
    max_problems_listed: int = 50


#: C0 and C1 control characters (a line break, an escape sequence's ESC, DEL).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

DEFAULT_LIMITS = InputLimits()
"""The limits of a deployment that sets none."""


def bounded_problems(problems: list[str], limit: int) -> list[str]:
    """The first ``limit`` problems, and one line saying how many more there were.

    >>> bounded_problems(["a", "b", "c"], 2)
    ['a', 'b', '... and 1 more problems']
    """
    if len(problems) <= limit:
        return problems
    return [*problems[:limit], f"... and {len(problems) - limit} more problems"]


def text_problem(value: str, where: str) -> str | None:
    """Why text ``value`` cannot be stored (a NUL character or a lone surrogate), or None.

    Both stores must refuse the same text: PostgreSQL refuses NUL, SQLite keeps it, and no store can
    encode a lone surrogate as UTF-8.

    >>> text_problem("ok", "body") is None
    True
    >>> text_problem("a\\x00b", "body")
    'body: contains a NUL character (U+0000), which is not allowed in text'
    """
    if "\x00" in value:
        return f"{where}: contains a NUL character (U+0000), which is not allowed in text"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"{where}: contains a lone surrogate (U+{ord(value[exc.start]):04X}) at character {exc.start};"
                " send valid Unicode (surrogates only in pairs)"
            )
    return None


def line_problem(value: str, where: str) -> str | None:
    """Why ``value``, text shown as one line (a name, a source), cannot be kept: it holds a control
    character (a line break would forge another line of a listing; ESC starts a terminal's escape
    sequence), or None.

    >>> line_problem("TAK drawing 7", "source") is None
    True
    >>> line_problem("a\\nb", "source")
    'source: holds a control character (U+000A) at character 1; send one line of text'
    """
    if found := _CONTROL.search(value):
        return (
            f"{where}: holds a control character (U+{ord(found.group()):04X}) at character {found.start()};"
            " send one line of text"
        )
    return None


def one_line_text(value: str) -> str:
    """``value`` with each control character written as its escape (``\\n``, ``\\x1b``): text
    stored before ``line_problem`` refused it, shown without breaking or forging a line.

    >>> one_line_text("a\\nb")
    'a\\\\nb'
    """
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], value)


def short_line_problem(value: str, where: str, max_chars: int, *, required: bool = True) -> str | None:
    """Why ``value``, a short one-line text kept in a column of ``max_chars`` (a name, a callsign, a
    label), cannot be stored, or None: empty (when ``required``), longer than the column (PostgreSQL
    refuses it, SQLite would keep it), a control character (``line_problem``) or a lone surrogate.

    >>> short_line_problem("Alpha", "name", 200) is None
    True
    >>> short_line_problem("x" * 201, "name", 200)
    'name: 201 characters, at most 200'
    >>> short_line_problem("", "kind", 64, required=False) is None
    True
    """
    if required and not value.strip():
        return f"{where}: must not be empty"
    if len(value) > max_chars:
        return f"{where}: {len(value)} characters, at most {max_chars}"
    return line_problem(value, where) or text_problem(value, where)
