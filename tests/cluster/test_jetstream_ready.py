"""JetStream's passing refusals are waited out, its verdicts on a wrong request are not: a process
starting with its cluster (the stream's replicas not yet placed, leaders being elected) asks again
until an answer or its deadline, and a 4xx is raised at once."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import BadRequestError, NoStreamResponseError, ServerError, ServiceUnavailableError

from keepclear.services.runtime.jetstream import passing, until_answered


class _Refusing:
    """Refuses with ``refusals`` in turn, then answers "stream"."""

    def __init__(self, *refusals: Exception) -> None:
        self.refusals = list(refusals)
        self.asked = 0

    async def __call__(self) -> str:
        self.asked += 1
        if self.refusals:
            raise self.refusals.pop(0)
        return "stream"


def test_passing_refusals_are_asked_again_until_an_answer() -> None:
    refusals = (
        NatsTimeoutError(),
        NoRespondersError(),
        NoStreamResponseError(),
        ServiceUnavailableError(code=503, description="insufficient resources"),
        ServerError(code=500, description="leader not known"),
    )
    step = _Refusing(*refusals)
    assert asyncio.run(until_answered(step, time.monotonic() + 10)) == "stream"
    assert step.asked == len(refusals) + 1
    assert all(passing(r) for r in refusals)


def test_a_wrong_request_is_raised_at_once() -> None:
    step = _Refusing(BadRequestError(code=400, description="stream name already in use"))
    with pytest.raises(BadRequestError):
        asyncio.run(until_answered(step, time.monotonic() + 10))
    assert step.asked == 1
    assert not passing(ValueError("not JetStream's"))


def test_past_the_deadline_the_last_refusal_is_raised() -> None:
    step = _Refusing(*[ServiceUnavailableError(code=503, description="no leader")] * 1000)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError):
        asyncio.run(until_answered(step, started + 0.3))
    assert 0.3 <= time.monotonic() - started < 2.0 and 2 <= step.asked < 1000
