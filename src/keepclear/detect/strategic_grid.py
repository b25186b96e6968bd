"""The strategic index's grid: item ids keyed by (lon cell, lat cell, time bucket).

An item is added under every key its boxes and windows touch; a query reads the keys its box and
window touch. What one item or one query costs is bounded whatever its shape: an item longer than
``max_buckets`` buckets is kept in one long bucket per cell, one that would take more than
``max_keys`` keys under one wide key, both of which every query reads.

Pure: no clock, no database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

_LONG = -(2**62)  # time-bucket key of items longer than the index keeps per bucket
#: The one key of items wider than the index keeps per cell: every query reads it.
_WIDE = (_LONG, _LONG, _LONG)


class Grid:
    """Ids keyed by (lon cell, lat cell, time bucket); items longer than ``max_buckets`` use ``_LONG``,
    items that would take more than ``max_keys`` keys (a corridor zigzagging across a continent) the one
    ``_WIDE`` key: what one item costs the index is bounded, whatever its shape."""

    def __init__(self, cell_deg: float, bucket_s: float, max_buckets: int, max_keys: int) -> None:
        self._cell_deg = cell_deg
        self._bucket_s = bucket_s
        self._max_buckets = max_buckets
        self._max_keys = max_keys
        self._cells: dict[tuple[int, int, int], set[str]] = defaultdict(set)
        self._keys: dict[str, set[tuple[int, int, int]]] = {}

    def _span(self, box: tuple[float, float, float, float], start_s: float, end_s: float) -> tuple[range, ...]:
        size = self._cell_deg
        xs = range(math.floor(box[0] / size), math.floor(box[2] / size) + 1)
        ys = range(math.floor(box[1] / size), math.floor(box[3] / size) + 1)
        if not (math.isfinite(start_s) and math.isfinite(end_s)):
            return xs, ys, range(_LONG, _LONG + 1)
        first = math.floor(start_s / self._bucket_s)
        return xs, ys, range(first, math.floor(end_s / self._bucket_s) + 1)

    def add(self, item_id: str, spans: Iterable[tuple[tuple[float, float, float, float], float, float]]) -> None:
        keys: set[tuple[int, int, int]] = set()
        for box, start_s, end_s in spans:
            xs, ys, ts = self._span(box, start_s, end_s)
            if len(ts) > self._max_buckets:
                ts = range(_LONG, _LONG + 1)
            if len(keys) + len(xs) * len(ys) * len(ts) > self._max_keys:
                keys = {_WIDE}
                break
            keys.update((x, y, t) for x in xs for y in ys for t in ts)
        for key in keys:
            self._cells[key].add(item_id)
        self._keys[item_id] = keys

    def remove(self, item_id: str) -> None:
        for key in self._keys.pop(item_id, ()):
            bucket = self._cells[key]
            bucket.discard(item_id)
            if not bucket:
                del self._cells[key]

    def query(self, box: tuple[float, float, float, float], start_s: float, end_s: float) -> set[str]:
        xs, ys, ts = self._span(box, start_s, end_s)
        cells = self._cells
        found: set[str] = set(cells.get(_WIDE, ()))
        buckets = [_LONG] if ts.start == _LONG else [*ts, _LONG]
        if len(xs) * len(ys) * len(buckets) > self._max_keys:
            return set(self._keys)  # a query wider than the index is read whole: every item is a candidate
        for x in xs:
            for y in ys:
                for t in buckets:
                    hit = cells.get((x, y, t))
                    if hit:
                        found |= hit
        return found
