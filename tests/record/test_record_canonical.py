"""Canonical bytes: deterministic, independent of key order, and exact for every JSON value."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.ledger.canonical import canonical_bytes

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Exact equality that tells 1 from 1.0 and -0.0 from 0.0 (what the signature covers)."""
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=150, deadline=None)
@given(values)
def test_parse_of_canonical_is_the_value_and_canonical_is_a_fixed_point(value: Any) -> None:
    data = canonical_bytes(value)
    parsed = json.loads(data.decode("utf-8"))
    assert _same(parsed, value)
    assert canonical_bytes(parsed) == data
    assert b"\n" not in data  # one line: newlines inside strings are escaped


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=6), scalars, max_size=6), st.randoms())
def test_key_order_does_not_change_the_bytes(mapping: dict[str, Any], rnd: Any) -> None:
    items = list(mapping.items())
    rnd.shuffle(items)
    assert canonical_bytes(dict(items)) == canonical_bytes(mapping)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, float("inf")]}, r"\$\.a\[1\]: inf is not a finite number"),
        ({"a": {1: 2}}, r"\$\.a: key 1 is not a string"),
        ({"a": {1, 2}}, r"\$\.a: set is not a JSON value"),
        ({"a": b"x"}, r"\$\.a: bytes is not a JSON value"),
    ],
)
def test_non_json_values_are_refused_with_their_path(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_bytes(value)


def test_integral_float_and_integer_differ() -> None:
    assert canonical_bytes({"x": 1.0}) == b'{"x":1.0}' and canonical_bytes({"x": 1}) == b'{"x":1}'
