"""A warning that may come many times a second (a fetch failing while NATS is away, a publish
retried through an election) logged at most once per interval, with how many like it were held
back: an outage of hours leaves a line every few seconds in the log, not one every retry. The
counts of failures stay in the metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RepeatedWarning"]

#: Seconds between two lines of one repeated warning.
DEFAULT_INTERVAL_S = 10.0


class RepeatedWarning:
    """Logs to ``logger`` the first warning, then at most one each ``interval_s`` (by ``clock``,
    monotonic seconds), each after the first saying how many were held back since the last."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._clock = clock
        self._last_s: float | None = None
        self._held = 0

    def __call__(self, message: str, *args: object) -> None:
        now_s = self._clock()
        if self._last_s is not None and now_s - self._last_s < self._interval_s:
            self._held += 1
            return
        if self._held:
            message += " (%d more like it in the last %.0f s not logged)"
            args = (*args, self._held, now_s - (self._last_s or now_s))
        self._logger.warning(message, *args)
        self._last_s, self._held = now_s, 0
