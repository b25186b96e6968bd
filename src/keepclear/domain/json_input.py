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

import numpy as np

from keepclear.domain.limits import INT64_MAX, INT64_MIN, InputLimits, text_problem
from keepclear.errors import ValidationError

_BOM = b"\xef\xbb\xbf"
# Text can hold NUL or a surrogate only through a \u escape: when neither occurs, strings need no look.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# A number can leave 64 bits or overflow a double only with 19 digits in a row or a 3-digit exponent.
# Looked for in the bytes with every digit made 0 and every E an e: a table lookup and four plain
# searches, where a regular expression tries a match at every digit and every "e" of the text (30×
# slower on a large batch).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_SUSPECT_NUMBER_RUNS = (b"0" * 19, b"e000", b"e+000", b"e-000")
_CONTAINERS = (dict, list)  # a tuple: isinstance takes it faster than ``dict | list``


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


#: How a number is named that has more digits than Python converts (4,300), wherever a document is read.
TOO_MANY_DIGITS = "a number has more digits than can be read"


def too_many_digits(exc: ValueError) -> bool:
    """Whether ``exc`` is Python refusing to convert an integer of more digits than it may (4,300)."""
    return "integer string conversion" in str(exc)


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
        if too_many_digits(exc):
            raise ValidationError([f"{source}: {TOO_MANY_DIGITS}"]) from None
        raise ValidationError([f"{source}: {exc}"]) from None
    except RecursionError:
        raise ValidationError([f"{source}: nested deeper than {limits.max_json_depth} levels"]) from None
    problems = value_problems(
        value,
        limits,
        "" if source == "body" else source,
        strings=_SUSPECT_ESCAPE.search(text) is not None,
        numbers=_suspect_numbers(raw if isinstance(raw, bytes) else text.encode("utf-8", "surrogatepass")),
    )
    if problems:
        raise ValidationError(problems)
    return value


def _suspect_numbers(raw: bytes) -> bool:
    """Whether JSON text ``raw`` holds 19 digits in a row or a 3-digit exponent (anywhere, strings
    included): only then can a number in it leave 64 bits or overflow a double."""
    zeroed = raw.translate(_DIGITS_TO_ZERO)
    return any(run in zeroed for run in _SUSPECT_NUMBER_RUNS)


def _scalar_problem(item: Any, where: str, strings: bool, numbers: bool) -> str | None:
    """Why the scalar ``item`` (at ``where``) cannot be kept, or None (a container: None)."""
    if isinstance(item, str):
        return text_problem(item, where) if strings else None
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int):
        if numbers and not INT64_MIN <= item <= INT64_MAX:
            return f"{where}: integer out of range (64 bits: {INT64_MIN} to {INT64_MAX})"
    elif isinstance(item, float) and numbers and not math.isfinite(item):
        return f"{where}: {item!r} is not a finite number"
    return None


def _keepable(value: Any, limits: InputLimits, strings: bool, numbers: bool) -> bool:
    """Whether ``value_problems`` finds nothing in ``value``: the same checks without naming a place,
    one level of nesting at a time in list comprehensions. What nearly every body takes: its fields
    are named only once something is wrong (a name for each container cost 3× the parse itself)."""
    check_scalars = strings or numbers
    level = [value]
    for _ in range(limits.max_json_depth + 1):
        if check_scalars and any(_scalar_problem(item, "", strings, numbers) for item in level):
            return False
        level = [item for item in level if isinstance(item, _CONTAINERS)]
        if not level:
            return True
        if strings and any(text_problem(key, "") for item in level if isinstance(item, dict) for key in item):
            return False
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)]
    return False  # a container nested deeper than the limit


def value_problems(
    value: Any, limits: InputLimits, prefix: str = "", *, strings: bool = True, numbers: bool = True
) -> list[str]:
    """Every reason the JSON-like ``value`` cannot be kept, each naming its field (``prefix`` first:
    ``data.a[2]``; a body's fields by their own names):
    the first ``max_problems_listed`` and a count of the rest. ``strings=False`` and ``numbers=False``
    skip checks the caller knows cannot fail (the reader scans the text for what could)."""
    if _keepable(value, limits, strings, numbers):
        return []
    return _named_problems(value, limits, prefix, strings, numbers)


def _named_problems(value: Any, limits: InputLimits, prefix: str, strings: bool, numbers: bool) -> list[str]:
    """``value_problems``' list, found by a walk that names every field it passes."""
    found: list[str] = []
    more = 0

    def note(problem: str | None) -> None:
        nonlocal more
        if problem is None:
            return
        if len(found) < limits.max_problems_listed:
            found.append(problem)
        else:
            more += 1

    def name(path: str) -> str:
        return (prefix + path).removeprefix(".") or prefix or "body"

    check_scalars = strings or numbers
    # Iterative, containers only on the stack: a value nested beyond any limit is judged without recursion.
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    if not isinstance(value, dict | list):
        note(_scalar_problem(value, name(""), strings, numbers))
        stack.clear()
    while stack:
        item, path, depth = stack.pop()
        if depth > limits.max_json_depth:
            note(f"{name(path)}: nested deeper than {limits.max_json_depth} levels")
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if strings:
                    note(text_problem(key, f"{name(path)} (a key)"))
                if isinstance(child, dict | list):
                    stack.append((child, f"{path}.{key}", depth + 1))
                elif check_scalars:
                    note(_scalar_problem(child, name(f"{path}.{key}"), strings, numbers))
        else:
            for index, child in enumerate(item):
                if isinstance(child, dict | list):
                    stack.append((child, f"{path}[{index}]", depth + 1))
                elif check_scalars:
                    note(_scalar_problem(child, name(f"{path}[{index}]"), strings, numbers))
    return found + ([f"... and {more} more problems"] if more else [])


def members_counted(raw: bytes) -> int | None:
    """How many object members (``"key": value``) the JSON text ``raw`` holds, counted from its bytes
    without parsing it: the colons outside strings. None when a string holds an escape (a backslash),
    where strings cannot be told from the text this simply.

    For a reader that keeps the last value of a key given twice (pydantic's): fewer members read
    than counted means a key was given twice, or one the reader leaves out.

    >>> members_counted(b'{"a": {"t": "12:00"}, "b" : [1]}')
    3
    """
    if b"\\" in raw:
        return None
    text = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(text == ord('"'))
    colons = np.flatnonzero(text == ord(":"))
    # Without escapes every quote opens or closes a string: a colon is outside them after an even number.
    return int(np.count_nonzero(np.searchsorted(quotes, colons) % 2 == 0))


def canonical_size_bytes(value: Any) -> int:
    """Bytes of ``value`` as compact, key-sorted JSON (how big it is, however it was sent)."""
    return len(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
