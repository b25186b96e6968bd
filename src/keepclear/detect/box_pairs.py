"""Which pairs of two sets of 4D boxes meet, found without visiting every pair.

A 4D box is a time window ``[start_s, end_s)`` (half-open, as pieces are occupied), an altitude
band ``[lower_ft, upper_ft]`` and a lon/lat bounding box (both closed). ``meeting_pairs`` keeps each
set's rows sorted by start and lists, by binary search, only the pairs whose windows overlap; the
altitude and box tests then run vectorised on those. A route of 499 legs against another of 499
legs on another day costs two sorts and a few searches, not 249,001 comparisons in Python; legs that
overlap in time cost what they are, a row of the table each, in C.

Pure numpy: no clock, no geometry library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

#: One row of a ``BoxTable``: start_s, end_s, lower_ft, upper_ft, min_lon, min_lat, max_lon, max_lat.
BoxRow = tuple[float, float, float, float, float, float, float, float]


class Boxed(Protocol):
    """What has a 4D box: a window, a band and a lon/lat bounding box (min x, min y, max x, max y)."""

    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def lower_ft(self) -> float: ...
    @property
    def upper_ft(self) -> float: ...
    @property
    def bounds(self) -> tuple[float, float, float, float]: ...


@dataclass(frozen=True, slots=True)
class BoxTable:
    """4D boxes as columns, with the rows' order by start time (for the time join).

    >>> table = BoxTable.of([(0.0, 10.0, 0.0, 100.0, 0.0, 0.0, 1.0, 1.0)])
    >>> len(table), table.sorted_start_s.tolist()
    (1, [0.0])
    """

    start_s: FloatArray
    end_s: FloatArray
    lower_ft: FloatArray
    upper_ft: FloatArray
    min_x: FloatArray
    min_y: FloatArray
    max_x: FloatArray
    max_y: FloatArray
    #: Row numbers sorted by ``start_s`` (stable), and ``start_s`` in that order.
    by_start: IndexArray
    sorted_start_s: FloatArray

    @classmethod
    def of(cls, rows: Sequence[BoxRow]) -> BoxTable:
        """The table of ``rows`` (start_s, end_s, lower_ft, upper_ft, min_x, min_y, max_x, max_y)."""
        array = np.asarray(rows, dtype=np.float64).reshape(len(rows), 8)
        start_s, end_s, lower_ft, upper_ft, min_x, min_y, max_x, max_y = (
            np.ascontiguousarray(array[:, k]) for k in range(8)
        )
        by_start = np.argsort(start_s, kind="stable")
        return cls(start_s, end_s, lower_ft, upper_ft, min_x, min_y, max_x, max_y, by_start, start_s[by_start])

    @classmethod
    def of_items(cls, items: Sequence[Boxed]) -> BoxTable:
        """The table of the boxes of ``items`` (pieces, probes), in their order."""
        return cls.of([(b.start_s, b.end_s, b.lower_ft, b.upper_ft, *b.bounds) for b in items])

    def __len__(self) -> int:
        return len(self.start_s)


class Pairs(NamedTuple):
    """Row pairs ``(rows[k], columns[k])`` of two tables, and how many pairs were tested to find them."""

    rows: IndexArray
    columns: IndexArray
    tested: int


def _expand(lo: IndexArray, hi: IndexArray) -> tuple[IndexArray, IndexArray]:
    """For row ``k`` and range ``[lo[k], hi[k])``: every (k, position) pair, as two arrays."""
    counts = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(len(lo), dtype=np.intp), counts)
    first = np.cumsum(counts) - counts  # where each row's run starts in the output
    positions = np.repeat(lo - first, counts) + np.arange(int(counts.sum()), dtype=np.intp)
    return rows, positions


def time_pairs(a: BoxTable, b: BoxTable) -> tuple[IndexArray, IndexArray]:
    """Row pairs (unordered) that may overlap in time: every pair with ``a.start_s < b.end_s`` and
    ``b.start_s < a.end_s``, and pairs where an empty window (``start_s == end_s``) starts in the
    other's.

    Each overlapping pair has either ``b.start_s <= a.start_s < b.end_s`` (a's start lies in b's
    window: a range of a's sorted starts for each b row) or ``a.start_s < b.start_s < a.end_s``
    (b's start lies strictly inside a's: a range of b's sorted starts for each a row); the two never
    both hold, so each pair is listed once.
    """
    lo = np.searchsorted(a.sorted_start_s, b.start_s, side="left")
    hi = np.searchsorted(a.sorted_start_s, b.end_s, side="left")
    b_rows, a_positions = _expand(lo, hi)
    lo = np.searchsorted(b.sorted_start_s, a.start_s, side="right")
    hi = np.searchsorted(b.sorted_start_s, a.end_s, side="left")
    a_rows, b_positions = _expand(lo, hi)
    return (
        np.concatenate([a.by_start[a_positions], a_rows]),
        np.concatenate([b_rows, b.by_start[b_positions]]),
    )


def meeting_pairs(a: BoxTable, b: BoxTable) -> Pairs:
    """Row pairs ``(i, j)`` whose windows overlap and whose bands and boxes meet (edges count),
    sorted by ``i`` then ``j``: the order of a loop over ``a`` and, inside it, over ``b``. ``tested``:
    the pairs ``time_pairs`` found, put to the time, band and box tests.

    >>> a = BoxTable.of([(0.0, 10.0, 0.0, 100.0, 0.0, 0.0, 1.0, 1.0), (20.0, 30.0, 0.0, 100.0, 0.0, 0.0, 1.0, 1.0)])
    >>> b = BoxTable.of([(10.0, 25.0, 100.0, 200.0, 1.0, 1.0, 2.0, 2.0)])
    >>> found = meeting_pairs(a, b)
    >>> found.rows.tolist(), found.columns.tolist(), found.tested
    ([1], [0], 1)
    """
    i, j = time_pairs(a, b)
    tested = len(i)
    keep = (
        (a.start_s[i] < b.end_s[j])
        & (b.start_s[j] < a.end_s[i])
        & (b.lower_ft[j] <= a.upper_ft[i])
        & (a.lower_ft[i] <= b.upper_ft[j])
        & (a.min_x[i] <= b.max_x[j])
        & (b.min_x[j] <= a.max_x[i])
        & (a.min_y[i] <= b.max_y[j])
        & (b.min_y[j] <= a.max_y[i])
    )
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    return Pairs(i[order], j[order], tested)
