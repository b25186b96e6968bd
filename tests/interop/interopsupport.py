"""Helpers of the interop tests: waiting on a condition, reading a party's picture."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from apisupport import Service

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float = 20.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tracks(service: Service, who: str) -> dict[str, dict[str, Any]]:
    """unit id -> latest state, as ``who`` sees them."""
    with service.client(who) as client:
        return {t["unit_id"]: t for t in client.get("/v1/tracks").json()}
