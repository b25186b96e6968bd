"""Waiting out JetStream's passing refusals: a cluster just formed, or electing a stream's leader
after a node's loss, answers nothing, "no responders", 503 or another server error meanwhile (longer
on a loaded machine). A process starting with the cluster, or a call made during an election, asks
again until an answer or a deadline; a refusal that says the request is wrong (4xx) is raised at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import nats.js
from nats.aio.client import Client as NatsClient
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

T = TypeVar("T")
#: Seconds between two asks.
PAUSE_S = 0.05


def passing(exc: BaseException) -> bool:
    """Whether ``exc`` is a refusal JetStream gives while it cannot answer yet (asking again helps)."""
    if isinstance(exc, NatsTimeoutError | NoRespondersError | NoStreamResponseError):
        return True
    return isinstance(exc, APIError) and (exc.code or 0) >= 500


async def until_answered(step: Callable[[], Awaitable[T]], deadline: float) -> T:
    """``await step()`` until JetStream answers, or raise its last passing refusal once the monotonic
    clock is past ``deadline``."""
    while True:
        try:
            return await step()
        except Exception as exc:
            if not passing(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(PAUSE_S)


async def ensure_stream(
    js: nats.js.JetStreamContext,
    name: str,
    subject_prefix: str,
    replicas: int,
    max_age_s: float,
    duplicate_window_s: float,
) -> None:
    """The stream ``name`` of the subjects under ``subject_prefix``, made unless it is there (with
    ``replicas``, kept ``max_age_s``, a publish id remembered ``duplicate_window_s``)."""
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            name=name,
            subjects=[f"{subject_prefix}.>"],
            num_replicas=replicas,
            max_age=max_age_s,
            duplicate_window=duplicate_window_s,
        )


async def connected(nc: NatsClient, pause_s: float) -> None:
    """Return once ``nc`` is connected, looking again each ``pause_s`` while it reconnects (it
    reconnects forever); ``ConnectionClosedError`` once it is closed."""
    while not nc.is_connected:
        if nc.is_closed:
            raise ConnectionClosedError
        await asyncio.sleep(pause_s)


async def publish_each(
    nc: NatsClient,
    js: nats.js.JetStreamContext,
    messages: Sequence[tuple[str, bytes, dict[str, str]]],
    timeout_s: float,
    pause_s: float,
) -> list[BaseException | None]:
    """Publish ``messages`` (subject, data, headers) at once and wait for their acknowledgements: for
    each, ``None`` when JetStream stored it (or dropped it as a repeat), else why not (try it again).

    Nothing is handed to the client while it is reconnecting: it keeps what it is given then in a
    bounded buffer and refuses the rest, and a refused publish is never answered, so each would hold
    a pending request (in ``publish_async``, one of its 4,000 slots: with all of them held nothing
    was ever published again). This waits until the client is connected (``connected``)."""
    await connected(nc, pause_s)
    results = await asyncio.gather(
        *(js.publish(subject, data, timeout=timeout_s, headers=headers) for subject, data, headers in messages),
        return_exceptions=True,
    )
    return [result if isinstance(result, BaseException) else None for result in results]
