"""Canonical bytes: the one serialisation that is hashed and signed.

Rules (a verifier in any language can reproduce them, but never has to: entries carry the exact
bytes that were hashed):

- JSON (RFC 8259) encoded as UTF-8, no byte-order mark, no insignificant whitespace
  (separators ``,`` and ``:``), object keys sorted by code point, non-ASCII characters written as
  themselves (not ``\\u`` escapes).
- Values: objects with string keys, arrays, strings, ``true``/``false``/``null``, integers
  (any size, written in decimal without exponent) and finite floats written in the shortest form that
  reads back to the same IEEE 754 double (Python's ``repr``: ``0.1``, ``1.0``, ``1e-07``). An integral
  float stays a float (``1.0``, not ``1``): the type is part of what is signed. NaN and infinities
  are refused, as is any other type (sets, bytes, objects): nothing is silently converted except that
  a tuple is written as an array.
- Times in the signed headers are integer microseconds since the Unix epoch (``time_us``), never
  floats, so no rounding question arises where it matters most.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from typing import Any

from keepclear.domain.json_input import TOO_MANY_DIGITS, too_many_digits


def _check(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a finite number")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            _check(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON value")


#: One encoder for every call (``json.dumps`` with options builds a new one each time).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> bool:
    """True when ``value`` is made of exactly the JSON types (no subclasses): the common, fast case.

    Non-finite floats pass here; the encoder refuses them (``allow_nan=False``).
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            item_kind = type(item)
            if item_kind not in _SCALARS and not (
                (item_kind is dict or item_kind is list or item_kind is tuple) and _plain(item)
            ):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            item_kind = type(item)
            if item_kind not in _SCALARS and not (
                (item_kind is dict or item_kind is list or item_kind is tuple) and _plain(item)
            ):
                return False
        return True
    return kind in _SCALARS


def canonical_bytes(value: Any) -> bytes:
    """The canonical UTF-8 JSON of ``value``; ``ValueError`` naming the path of anything refused.

    >>> canonical_bytes({"b": 1, "a": [1.0, "é", None]})
    b'{"a":[1.0,"\\xc3\\xa9",null],"b":1}'
    """
    if not _plain(value):
        _check(value, "$")  # the slow walk that names what is wrong (or accepts subclasses)
    try:
        text = _ENCODER.encode(value)
    except ValueError:
        _check(value, "$")  # a NaN or an infinity: name where
        raise
    return text.encode("utf-8")


def canonical_text(value: Any) -> str:
    """``canonical_bytes`` as text (what the store and export files keep)."""
    return canonical_bytes(value).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hexadecimal SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, field: str) -> bytes:
    """Strict base64 decode; ``ValueError`` naming ``field`` when it is not.

    Strict means: the standard alphabet with ``=`` padding, no whitespace, and the one encoding of
    its bytes (unused trailing bits zero), so one value has exactly one text and nothing is malleable.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, AttributeError):
        raise ValueError(f"{field}: not base64") from None
    if b64encode(raw) != text:
        raise ValueError(f"{field}: not in canonical base64 (standard alphabet, padded, unused bits zero)")
    return raw


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("an object has a duplicate key")
    return value


def strict_json(text: str) -> Any:
    """Parse RFC 8259 JSON strictly: ``ValueError`` on NaN/Infinity, a duplicate object key, nesting
    too deep for this interpreter, or an integer of more digits than it converts."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    except ValueError as exc:
        if too_many_digits(exc):
            raise ValueError(TOO_MANY_DIGITS) from None
        raise
