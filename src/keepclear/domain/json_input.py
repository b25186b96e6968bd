"""JSON from a party, read strictly: one reader for HTTP bodies, WebSocket frames and files.

Refused, each with where it was found: a byte order mark, bytes that are not UTF-8, syntax errors
(line and column), ``NaN``/``Infinity`` and numbers too large for a double, integers past 64 bits,
nesting deeper than the limit (however deep: no ``RecursionError``), text holding NUL or a lone
surrogate, and an object giving one key twice (I-JSON, RFC 7493 §2.3: one reader would take the
first value, another the last; keepclear would silently keep one). What passes can be stored on
either store and read back by anyone.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from keepclear.domain.limits import INT64_MAX, INT64_MIN, InputLimits, text_problem
from keepclear.errors import ValidationError

_BOM = b"\xef\xbb\xbf"
# Text can hold NUL or a surrogate only through a \u escape: when neither occurs, strings need no look.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# A number can leave 64 bits or overflow a double only with 19 digits in a row or a 3-digit exponent.
_SUSPECT_NUMBER = re.compile(r"[0-9]{19}|[eE][+-]?[0-9]{3}")


class JsonEncodingError(ValidationError):
    """The bytes are not UTF-8 JSON text at all (a byte order mark, another encoding): a bad request,
    as opposed to JSON whose content is refused."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON; send a finite number or null")


def _object_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object from its members, refusing a key given twice (``ValueError`` naming it)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"key {key[:64]!r} is given twice in one object; give each key once")
            seen.add(key)
    return value


def decode_json_bytes(raw: bytes | str, source: str = "body") -> str:
    """JSON text of ``raw``: UTF-8 without a byte order mark, or ``JsonEncodingError``."""
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise JsonEncodingError([f"{source}: starts with a byte order mark (U+FEFF); send JSON without one"])
        return raw
    if raw.startswith(_BOM):
        raise JsonEncodingError([f"{source}: starts with a UTF-8 byte order mark; send JSON without one"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonEncodingError([f"{source}: byte {exc.start} is not UTF-8; send JSON encoded as UTF-8"]) from None


def parse_json(raw: bytes | str, limits: InputLimits, source: str = "body") -> Any:
    """The value of JSON text ``raw``, or ``ValidationError`` naming each problem (``source``: where).

    >>> parse_json(b'{"a": [1, 2.5, "x"]}', InputLimits())
    {'a': [1, 2.5, 'x']}
    """
    text = decode_json_bytes(raw, source)
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object_once)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except ValueError as exc:
        raise ValidationError([f"{source}: {exc}"]) from None
    except RecursionError:
        raise ValidationError([f"{source}: nested deeper than {limits.max_json_depth} levels"]) from None
    problems = value_problems(
        value,
        limits,
        "" if source == "body" else source,
        strings=_SUSPECT_ESCAPE.search(text) is not None,
        numbers=_SUSPECT_NUMBER.search(text) is not None,
    )
    if problems:
        raise ValidationError(problems)
    return value


def value_problems(
    value: Any, limits: InputLimits, prefix: str = "", *, strings: bool = True, numbers: bool = True
) -> list[str]:
    """Every reason the JSON-like ``value`` cannot be kept, each naming its field (``prefix`` first:
    ``data.a[2]``; a body's fields by their own names):
    the first ``max_problems_listed`` and a count of the rest. ``strings=False`` and ``numbers=False``
    skip checks the caller knows cannot fail (the reader scans the text for what could)."""
    found: list[str] = []
    more = 0

    def note(problem: str) -> None:
        nonlocal more
        if len(found) < limits.max_problems_listed:
            found.append(problem)
        else:
            more += 1

    def scalar(item: Any, where: str) -> None:
        if isinstance(item, str):
            if strings and (p := text_problem(item, where)):
                note(p)
        elif isinstance(item, bool) or item is None:
            return
        elif isinstance(item, int):
            if numbers and not INT64_MIN <= item <= INT64_MAX:
                note(f"{where}: integer out of range (64 bits: {INT64_MIN} to {INT64_MAX})")
        elif isinstance(item, float) and numbers and not math.isfinite(item):
            note(f"{where}: {item!r} is not a finite number")

    def name(path: str) -> str:
        return (prefix + path).removeprefix(".") or prefix or "body"

    check_scalars = strings or numbers
    # Iterative, containers only on the stack: a value nested beyond any limit is judged without recursion.
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    if not isinstance(value, dict | list):
        scalar(value, name(""))
        stack.clear()
    while stack:
        item, path, depth = stack.pop()
        if depth > limits.max_json_depth:
            note(f"{name(path)}: nested deeper than {limits.max_json_depth} levels")
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if strings and (p := text_problem(key, f"{name(path)} (a key)")):
                    note(p)
                if isinstance(child, dict | list):
                    stack.append((child, f"{path}.{key}", depth + 1))
                elif check_scalars:
                    scalar(child, name(f"{path}.{key}"))
        else:
            for index, child in enumerate(item):
                if isinstance(child, dict | list):
                    stack.append((child, f"{path}[{index}]", depth + 1))
                elif check_scalars:
                    scalar(child, name(f"{path}[{index}]"))
    return found + ([f"... and {more} more problems"] if more else [])


def canonical_size_bytes(value: Any) -> int:
    """Bytes of ``value`` as compact, key-sorted JSON (how big it is, however it was sent)."""
    return len(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
