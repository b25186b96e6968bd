"""Helpers of the cluster tests: ``scripts/cluster`` on ports shifted per test module.

A module sets ``PORT_OFFSET`` (its nodes listen on 4230+offset+N), so its cluster never meets a
developer's own ``scripts/cluster up`` (offset 0) nor another module's running at the same time
(``conftest.running_cluster``).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster"


def servers(offset: int) -> list[str]:
    """The client URLs of the three nodes at ``offset``."""
    return [f"nats://127.0.0.1:{4230 + offset + k}" for k in (1, 2, 3)]


def cluster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/cluster`` with ``args`` in the cluster ``env`` names."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=40, check=False)


async def until_answered(step: Callable[[], Awaitable[T]], deadline: float) -> T:
    """``await step()`` until JetStream answers, or raise its last refusal past ``deadline`` (the
    monotonic clock): a cluster just formed, or electing a leader after a node's loss, answers
    nothing, 'no responders' or 503 meanwhile, longer on a loaded machine."""
    while True:
        try:
            return await step()
        except (NatsTimeoutError, NoStreamResponseError, ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
