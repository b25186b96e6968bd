"""Identifiers: short, readable, safe in URLs and file names."""

from __future__ import annotations

import re

#: The longest id, in characters.
MAX_ID_CHARS = 64
_ID_RE = re.compile(rf"^[a-z0-9][a-z0-9_.-]{{0,{MAX_ID_CHARS - 1}}}$")


def id_problem(value: object, field: str) -> str | None:
    """Return why ``value`` is not a valid identifier for ``field``, or None when it is.

    >>> id_problem("coalition", "party") is None
    True
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        return (
            f"{field}: {value!r} is not a valid id (1-64 characters: lower-case letters, digits,"
            " '_', '.', '-', starting with a letter or digit)"
        )
    return None
