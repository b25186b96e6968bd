"""The strict JSON reader's fast paths give exactly what its naming walk gives.

``value_problems`` first judges a value without naming places (a level at a time) and names them
only when something is wrong; ``parse_json`` skips string and number checks when a scan of the text
shows they cannot fail. Both are shortcuts: each property here holds them against the exact,
place-naming walk over every field (``_named_problems``) and against the regular expression the
number scan replaced.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.domain.json_input import _keepable, _named_problems, _suspect_numbers, parse_json, value_problems
from keepclear.domain.limits import InputLimits
from keepclear.errors import ValidationError

LIMITS = InputLimits(max_json_depth=4, max_problems_listed=3)

_text = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["\x00", "a\x00", "\ud800", "x\udfffy", "é", "\U0001f600"]),
)
_scalar = st.one_of(
    _text,
    st.integers(min_value=-(2**66), max_value=2**66),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=24,
)


def _nested(value: Any, depth: int) -> Any:
    for index in range(depth):
        value = [value] if index % 2 else {"k": value}
    return value


_values = st.one_of(_value, st.builds(_nested, _value, st.integers(0, 8)))


@settings(max_examples=400, deadline=None)
@given(_values, st.booleans(), st.booleans(), st.sampled_from(["", "data"]))
def test_the_fast_judgement_agrees_with_the_naming_walk(value: Any, strings: bool, numbers: bool, prefix: str) -> None:
    named = _named_problems(value, LIMITS, prefix, strings, numbers)
    assert _keepable(value, LIMITS, strings, numbers) == (named == [])
    assert value_problems(value, LIMITS, prefix, strings=strings, numbers=numbers) == named


_NUMBER_LIKE = re.compile(r"[0-9]{19}|[eE][+-]?[0-9]{3}")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789eE+-.x é", max_size=40))
def test_the_number_scan_finds_what_the_regular_expression_found(text: str) -> None:
    assert _suspect_numbers(text.encode()) == (_NUMBER_LIKE.search(text) is not None)


@settings(max_examples=300, deadline=None)
@given(_values.filter(lambda v: "NaN" not in json.dumps(v) and "Infinity" not in json.dumps(v)))
def test_the_reader_names_every_problem_the_full_walk_names(value: Any) -> None:
    """The text scans only skip checks that cannot fail: what the reader refuses, with the same
    words, is what the full walk over the parsed value finds."""
    raw = json.dumps(value).encode()
    expected = _named_problems(json.loads(raw), LIMITS, "", True, True)
    if expected:
        with pytest.raises(ValidationError) as caught:
            parse_json(raw, LIMITS)
        assert caught.value.problems == expected
    else:
        assert parse_json(raw, LIMITS) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"a": [1e309]}', "a[0]: inf is not a finite number"),
        (b'{"a": {"b": -2E+308}}', "a.b: -inf is not a finite number"),
        (b"[9223372036854775808]", "[0]: integer out of range"),
        (b'{"a": "\\u0000"}', "a: contains a NUL character"),
        (b'{"\\ud800": 1}', "body (a key): contains a lone surrogate"),
        (b"[[[[[1]]]]]", "[0][0][0][0]: nested deeper than 4 levels"),
    ],
)
def test_each_refusal_names_its_place(raw: bytes, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json(raw, LIMITS)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(problem), caught.value.problems
