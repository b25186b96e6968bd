"""Retention of requests' idempotency keys (``store.request_keys``): forgotten after a bounded time."""

from __future__ import annotations

import math
import time

from keepclear.store import Database
from keepclear.store import request_keys as store


class RequestKeyRetention:
    """Deletes keys first used more than ``retention_s`` ago, at most every ``every_s`` (a tick task)."""

    def __init__(self, db: Database, retention_s: float, every_s: float = 60.0) -> None:
        self._db = db
        self.retention_s = retention_s
        self.every_s = every_s
        self._pruned_at_s = -math.inf
        self.pruned = 0

    def prune(self, now_s: float) -> int:
        """Forget the keys past the retention (nothing if the last pass was under ``every_s`` ago)."""
        if time.monotonic() - self._pruned_at_s < self.every_s:
            return 0
        self._pruned_at_s = time.monotonic()
        with self._db.write() as conn:
            removed = store.prune(conn, now_s - self.retention_s)
        self.pruned += removed
        return removed
