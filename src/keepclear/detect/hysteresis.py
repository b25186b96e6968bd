"""Alert hysteresis: M of the last N probes, a persistence time, a reset after a gap.

``PairHysteresis`` filters one pair (the reference, and what the DAIDALUS replay uses);
``HysteresisColumns`` filters many pairs at once for the alert book, row for row the same.

Deterministic: the same (time, raw level) sequence always gives the same levels.

>>> h = PairHysteresis(Hysteresis(m=2, n=4))
>>> [h.step(float(t), raw) for t, raw in enumerate([0, 2, 2, 3, 0, 0, 0])]
[0, 0, 2, 2, 2, 2, 0]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from keepclear.detect.wellclear import Hysteresis


class PairHysteresis:
    """The filtered alert level of one pair, fed one raw level per probe."""

    def __init__(self, settings: Hysteresis) -> None:
        self.settings = settings
        self._raw: deque[int] = deque(maxlen=max(1, settings.n))
        self._last_time_s: float | None = None
        self.level = 0
        self._since_s = 0.0

    def step(self, time_s: float, raw_level: int) -> int:
        """Take the raw level of the probe at ``time_s``; return the level to show."""
        s = self.settings
        if self._last_time_s is not None and time_s - self._last_time_s > s.reset_gap_s:
            self._raw.clear()
            self.level = 0
        self._last_time_s = time_s
        self._raw.append(raw_level)
        m = max(1, s.m)
        candidate = 0
        for level in sorted(set(self._raw), reverse=True):
            if level > 0 and sum(1 for r in self._raw if r >= level) >= m:
                candidate = level
                break
        if candidate < self.level and time_s - self._since_s < s.persistence_s:
            candidate = self.level
        if candidate != self.level:
            self.level = candidate
            self._since_s = time_s
        return self.level


class HysteresisColumns:
    """The hysteresis of many pairs at once, one row per pair, each row with its own settings.

    Row for row the same levels as a ``PairHysteresis`` fed the same sequence (a property test
    holds them equal); one tick of tens of thousands of alerting pairs costs a few array
    operations instead of a Python call per pair.
    """

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self.raw = np.zeros((0, self.width), dtype=np.int8)
        self.count = np.zeros(0, dtype=np.int64)
        self.last_s = np.zeros(0)
        self.level = np.zeros(0, dtype=np.int8)
        self.since_s = np.zeros(0)
        self.m = np.zeros(0, dtype=np.int64)
        self.n = np.zeros(0, dtype=np.int64)
        self.persistence_s = np.zeros(0)
        self.reset_gap_s = np.zeros(0)

    def __len__(self) -> int:
        return int(self.count.shape[0])

    def append(self, settings: Sequence[Hysteresis]) -> None:
        """Add one fresh row per entry of ``settings`` (nothing seen yet, level 0)."""
        k = len(settings)
        if any(s.n > self.width for s in settings):
            raise ValueError(f"hysteresis n above the columns' width {self.width}")
        self.raw = np.concatenate([self.raw, np.zeros((k, self.width), dtype=np.int8)])
        self.count = np.concatenate([self.count, np.zeros(k, dtype=np.int64)])
        self.last_s = np.concatenate([self.last_s, np.full(k, np.nan)])
        self.level = np.concatenate([self.level, np.zeros(k, dtype=np.int8)])
        self.since_s = np.concatenate([self.since_s, np.zeros(k)])
        self.m = np.concatenate([self.m, np.array([max(1, s.m) for s in settings], dtype=np.int64)])
        self.n = np.concatenate([self.n, np.array([max(1, s.n) for s in settings], dtype=np.int64)])
        self.persistence_s = np.concatenate([self.persistence_s, np.array([s.persistence_s for s in settings])])
        self.reset_gap_s = np.concatenate([self.reset_gap_s, np.array([s.reset_gap_s for s in settings])])

    def take(self, rows: npt.NDArray[np.int64]) -> None:
        """Keep only ``rows``, in that order (reordering or forgetting pairs)."""
        for name in _COLUMNS:
            setattr(self, name, getattr(self, name)[rows])

    def step(self, time_s: float, raw_levels: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """Every row takes its raw level of the probe at ``time_s``; returns the levels to show."""
        with np.errstate(invalid="ignore"):
            gap = time_s - self.last_s > self.reset_gap_s
        if gap.any():
            self.raw[gap] = 0
            self.count[gap] = 0
            self.level[gap] = 0
        self.last_s[:] = time_s
        rows = np.arange(len(self))
        self.raw[rows, self.count % self.n] = raw_levels
        self.count += 1
        candidate = np.zeros(len(self), dtype=np.int8)
        top = int(self.raw.max()) if len(self) else 0
        for level in range(1, top + 1):  # the highest level reached by m of the last n wins
            reached = np.count_nonzero(self.raw >= level, axis=1) >= self.m
            candidate[reached] = level
        held = (candidate < self.level) & (time_s - self.since_s < self.persistence_s)
        candidate[held] = self.level[held]
        changed = candidate != self.level
        self.level[changed] = candidate[changed]
        self.since_s[changed] = time_s
        return self.level.copy()


_COLUMNS = ("raw", "count", "last_s", "level", "since_s", "m", "n", "persistence_s", "reset_gap_s")
