"""Alert hysteresis for one pair: M of the last N probes, a persistence time, a reset after a gap.

Deterministic: the same (time, raw level) sequence always gives the same levels.

>>> h = PairHysteresis(Hysteresis(m=2, n=4))
>>> [h.step(float(t), raw) for t, raw in enumerate([0, 2, 2, 3, 0, 0, 0])]
[0, 0, 2, 2, 2, 2, 0]
"""

from __future__ import annotations

from collections import deque

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
