"""Refused input carries a machine code per problem: callers match on codes and fields, never on text."""

from __future__ import annotations

import copy
import json
import math
import pickle

from keepclear.domain import TrackReport, track_report_problems
from keepclear.domain.hotline import Draft, MessageKind, draft_problems
from keepclear.errors import Problem, ProblemCode, ValidationError, code_of, field_of


def test_a_problem_is_its_text_with_a_code_and_a_field() -> None:
    problem = Problem("lat_deg", ProblemCode.OUT_OF_RANGE, "91.0 is outside [-90, 90]")
    assert problem == "lat_deg: 91.0 is outside [-90, 90]"
    assert json.dumps([problem]) == '["lat_deg: 91.0 is outside [-90, 90]"]'
    assert (code_of(problem), field_of(problem)) == (ProblemCode.OUT_OF_RANGE, "lat_deg")
    for again in (copy.deepcopy(problem), pickle.loads(pickle.dumps(problem))):
        assert (again, again.code, again.field) == (problem, problem.code, problem.field)


def test_plain_text_problems_are_invalid_and_name_the_field_before_the_colon() -> None:
    assert (code_of("units: must be a list"), field_of("units: must be a list")) == (ProblemCode.INVALID, "units")
    assert field_of("incomplete scenario") == ""
    error = ValidationError([Problem("x", ProblemCode.NOT_FINITE, "nan"), "y: bad"])
    assert error.codes == [ProblemCode.NOT_FINITE, ProblemCode.INVALID]
    assert str(error) == "x: nan; y: bad"


def test_track_report_problems_are_coded_by_field() -> None:
    problems = track_report_problems(TrackReport("u", math.nan, 10.0, 0.0, 0.0, 0.0, 0.0))
    assert [(code_of(p), field_of(p)) for p in problems] == [(ProblemCode.NOT_FINITE, "time_s")]
    problems = track_report_problems(TrackReport("u", -1.0, 95.0, 0.0, 0.0, 0.0, 0.0))
    assert [(code_of(p), field_of(p)) for p in problems] == [
        (ProblemCode.OUT_OF_RANGE, "lat_deg"),
        (ProblemCode.OUT_OF_RANGE, "time_s"),
    ]


def test_a_reply_without_the_message_it_answers_has_its_own_code() -> None:
    problems = draft_problems(Draft("t", MessageKind.REPLY, "key-000001", "yes"))
    assert [code_of(p) for p in problems] == [ProblemCode.REPLY_TO_REQUIRED]
    assert problems == ["reply_to_seq: reply messages must name the message they answer"]
