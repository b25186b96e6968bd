"""The new activity as the strategic check judges it: its pieces grown by the buffers in space,
altitude and time (``probes_for``: ``Probe``s in a ``ProbeSet``), and where two shapes meet: the
overlap drawn so that a drawing error never loses a conflict, the bounding-box test, and the
overlaps of several pairs merged into one conflict's extent.

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

from keepclear.detect.activity_geometry import LocalFrame, Piece, buffered_all
from keepclear.detect.box_pairs import BoxTable
from keepclear.detect.strategic_values import StrategicConfig


@dataclass(frozen=True, slots=True)
class Probe:
    """A piece of the new activity grown by the buffers, for judging against other activities."""

    geometry: BaseGeometry
    bounds: tuple[float, float, float, float]
    lower_ft: float
    upper_ft: float
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class ProbeSet:
    """The probes of a new activity, in the order of its pieces."""

    probes: tuple[Probe, ...]
    _boxes: BoxTable | None = field(default=None, init=False, repr=False, compare=False)

    def boxes(self) -> BoxTable:
        """The probes' windows, bands and bounding boxes as a table (made on first use)."""
        table = self._boxes
        if table is None:
            table = BoxTable.of_items(self.probes)
            object.__setattr__(self, "_boxes", table)
        return table

    def __iter__(self) -> Iterator[Probe]:
        return iter(self.probes)

    def __len__(self) -> int:
        return len(self.probes)


def probes_for(pieces: Sequence[Piece], config: StrategicConfig) -> ProbeSet:
    """The pieces of a new activity grown by the buffers in space, altitude and time."""
    frame = LocalFrame.at(
        (min(p.bounds[1] for p in pieces) + max(p.bounds[3] for p in pieces)) / 2.0,
        (min(p.bounds[0] for p in pieces) + max(p.bounds[2] for p in pieces)) / 2.0,
    )
    grown = np.asarray(buffered_all([p.geometry for p in pieces], config.buffer_m, frame), dtype=object)
    shapely.prepare(grown)
    boxes = shapely.bounds(grown).tolist()
    probes = tuple(
        Probe(
            geometry,
            (box[0], box[1], box[2], box[3]),
            piece.lower_ft - config.buffer_ft,
            piece.upper_ft + config.buffer_ft,
            piece.start_s - config.buffer_s,
            piece.end_s + config.buffer_s,
        )
        for piece, geometry, box in zip(pieces, grown, boxes, strict=True)
    )
    return ProbeSet(probes)


def overlap(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Where ``a`` and ``b`` meet; if GEOS fails on a degenerate pair, the repaired shapes' overlap,
    and failing that the overlap of their bounding boxes: a conflict is never lost to a drawing error.
    """
    try:
        return a.intersection(b)
    except shapely.errors.GEOSException:
        try:
            return shapely.make_valid(a).intersection(shapely.make_valid(b))
        except shapely.errors.GEOSException:
            return a.envelope.intersection(b.envelope)


def boxes_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether boxes ``a`` and ``b`` (min x, min y, max x, max y) meet; touching counts.

    >>> boxes_overlap((0, 0, 1, 1), (1, 1, 2, 2)), boxes_overlap((0, 0, 1, 1), (2, 0, 3, 1))
    (True, False)
    """
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def merged(
    parts: list[tuple[BaseGeometry, float, float, float, float]],
) -> tuple[BaseGeometry, float, float, float, float]:
    """Overlaps (geometry, start, end, lower, upper) of several pairs as one conflict's extent: their
    union, the earliest start, latest end, lowest lower and highest upper."""
    geometry = parts[0][0] if len(parts) == 1 else shapely.union_all([p[0] for p in parts])
    return (
        geometry,
        min(p[1] for p in parts),
        max(p[2] for p in parts),
        min(p[3] for p in parts),
        max(p[4] for p in parts),
    )


def bounds_of(geometry: BaseGeometry) -> tuple[float, float, float, float]:
    """``geometry``'s bounding box (min x, min y, max x, max y) as floats."""
    min_x, min_y, max_x, max_y = shapely.bounds(geometry).tolist()
    return (min_x, min_y, max_x, max_y)
