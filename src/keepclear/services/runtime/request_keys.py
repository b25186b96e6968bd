"""Retention of requests' idempotency keys (``store.request_keys``): forgotten after a bounded time.

Keys are deleted ``batch`` at a time, oldest first, each batch a transaction of its own, and at
most ``batches_per_pass`` batches a pass: the keys are unbounded in number (each party's keyed
writes make them, at whatever rate it writes), and a pass runs on the tick, which runs the probe
too; one transaction deleting every key due held every other write meanwhile. A pass cut short
by its bound is taken up again on the next tick rather than ``every_s`` later.
"""

from __future__ import annotations

import math
import time

from keepclear.store import Database
from keepclear.store import request_keys as store


class RequestKeyRetention:
    """Deletes keys first used more than ``retention_s`` ago, at most every ``every_s`` (a tick task),
    ``batch`` per transaction and ``batches_per_pass`` transactions per call (module docstring)."""

    def __init__(
        self, db: Database, retention_s: float, every_s: float = 60.0, batch: int = 500, batches_per_pass: int = 20
    ) -> None:
        self._db = db
        self.retention_s = retention_s
        self.every_s = every_s
        self.batch = batch
        self.batches_per_pass = batches_per_pass
        self._pruned_at_s = -math.inf
        self.pruned = 0

    def prune(self, now_s: float) -> int:
        """Forget keys past the retention (nothing if the last whole pass was under ``every_s`` ago);
        returns how many."""
        if time.monotonic() - self._pruned_at_s < self.every_s:
            return 0
        self._pruned_at_s = time.monotonic()
        removed = 0
        for _ in range(self.batches_per_pass):
            with self._db.write() as conn:
                deleted = store.prune(conn, now_s - self.retention_s, self.batch)
            removed += deleted
            self.pruned += deleted
            if deleted < self.batch:
                return removed  # every key due is gone: the next pass in every_s
        self._pruned_at_s = -math.inf  # cut short by its bound: the next tick goes on
        return removed
