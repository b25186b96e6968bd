"""Judging the new activity against another party's activity: the (probe, piece) pairs that meet
in time, altitude and box (a loop for few, a join by ``box_pairs.meeting_pairs`` for many: a long
route costs the legs near it in time, not all its legs), then the exact geometry of those pairs,
merged into one ``Conflict``; and many activities judged at once, reusing the verdicts on versions
judged before (``Judged``) within one budget of exact pairs.

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shapely.geometry.base import BaseGeometry

from keepclear.detect.activity_geometry import Piece
from keepclear.detect.box_pairs import meeting_pairs
from keepclear.detect.strategic_probes import Probe, ProbeSet, boxes_overlap, merged, overlap
from keepclear.detect.strategic_values import (
    CheckCounts,
    CheckTooCostly,
    Conflict,
    ConflictKind,
    IndexedActivity,
    StrategicConfig,
)

#: Above this many (probe, piece) pairs, ``judge_activity`` finds the pairs that meet in time,
#: altitude and box with ``meeting_pairs`` (numpy); below, a loop over every pair is cheaper.
PAIRS_LOOPED = 256


def _joined_pairs(probes: ProbeSet, other: IndexedActivity, counts: CheckCounts | None) -> list[tuple[Probe, Piece]]:
    """The (probe, piece) pairs whose windows overlap and whose bands and boxes meet, probe by probe
    and piece by piece, found by ``meeting_pairs``: a long route costs the legs near it in time, not
    all its legs."""
    rows, columns, tested = meeting_pairs(probes.boxes(), other.boxes())
    if counts is not None:
        counts.compared += tested
    pieces = other.pieces
    return [(probes.probes[i], pieces[j]) for i, j in zip(rows.tolist(), columns.tolist(), strict=True)]


def judge_activity(
    probes: ProbeSet,
    other: IndexedActivity,
    config: StrategicConfig,
    counts: CheckCounts | None = None,
    pairs_looped: float = PAIRS_LOOPED,
) -> Conflict | None:
    """The conflict between the new activity (as ``probes``) and ``other``, or None. ``counts``,
    when given, counts the pairs judged; ``pairs_looped`` (``math.inf``: always) is how many pairs
    are tested in a loop rather than joined by ``meeting_pairs``, the same pairs either way."""
    pieces = other.pieces
    pairs: list[tuple[Probe, Piece]] = []
    if len(probes.probes) * len(pieces) <= pairs_looped:
        for probe in probes.probes:
            for piece in pieces:
                if piece.start_s >= probe.end_s or probe.start_s >= piece.end_s:
                    continue
                if piece.lower_ft > probe.upper_ft or probe.lower_ft > piece.upper_ft:
                    continue
                if not boxes_overlap(probe.bounds, piece.bounds):
                    continue
                pairs.append((probe, piece))
        if counts is not None:
            counts.compared += len(probes.probes) * len(pieces)
    else:
        pairs = _joined_pairs(probes, other, counts)
    if not pairs:
        return None
    if counts is not None:
        counts.exact += len(pairs)
        if counts.exact > config.max_exact_pairs:
            raise CheckTooCostly(config.max_exact_pairs)
    parts: list[tuple[BaseGeometry, float, float, float, float]] = [
        (
            overlap(probe.geometry, piece.geometry),
            max(probe.start_s, piece.start_s),
            min(probe.end_s, piece.end_s),
            max(probe.lower_ft, piece.lower_ft),
            min(probe.upper_ft, piece.upper_ft),
        )
        for probe, piece in pairs
        if probe.geometry.intersects(piece.geometry)
    ]
    if not parts:
        return None
    geometry, start_s, end_s, lower_ft, upper_ft = merged(parts)
    return Conflict(
        ConflictKind.ACTIVITY,
        other.activity_id,
        other.party_id,
        other.version,
        geometry,
        start_s,
        end_s,
        lower_ft,
        upper_ft,
        f"within {config.buffer_m:g} m, {config.buffer_ft:g} ft and {config.buffer_s / 60:g} min of"
        f" {other.party_id}'s {other.kind.value} activity {other.activity_id} (version {other.version})",
    )


@dataclass(frozen=True, slots=True)
class Judged:
    """What judging one other activity found: the ``version`` judged, the ``conflict`` (None: none)
    and the ``exact_pairs`` it cost. Reused while that activity stays at that version: a version's
    pieces never change, so judging it again would find the same."""

    version: int
    conflict: Conflict | None
    exact_pairs: int


def judge_activities(
    probes: ProbeSet,
    others: Iterable[IndexedActivity],
    config: StrategicConfig,
    known: Mapping[str, Judged] | None = None,
    counts: CheckCounts | None = None,
    pairs_looped: float = PAIRS_LOOPED,
    into: dict[str, Judged] | None = None,
) -> dict[str, Judged]:
    """``others`` judged against the new activity (as ``probes``), by id: the verdicts in ``known``
    reused where the activity is still at the version judged, the rest judged now. Raises
    ``CheckTooCostly`` when the verdicts together rest on more than ``config.max_exact_pairs``
    exact pairs, reused or not: the budget of a check judged in several goes is the one of the
    check judged at once. ``counts`` counts what is judged now (not what is reused). ``into``: the
    dict the verdicts are put in as they come (what was judged before a refusal is kept there)."""
    known = known or {}
    out: dict[str, Judged] = {} if into is None else into
    fresh: list[IndexedActivity] = []
    spent = CheckCounts()
    for other in others:
        before = known.get(other.activity_id)
        if before is not None and before.version == other.version:
            out[other.activity_id] = before
            spent.exact += before.exact_pairs
        else:
            fresh.append(other)
    if spent.exact > config.max_exact_pairs:
        raise CheckTooCostly(config.max_exact_pairs)
    for other in fresh:
        compared, exact = spent.compared, spent.exact
        try:
            conflict = judge_activity(probes, other, config, spent, pairs_looped)
        finally:
            if counts is not None:
                counts.compared += spent.compared - compared
                counts.exact += spent.exact - exact
        out[other.activity_id] = Judged(other.version, conflict, spent.exact - exact)
    return out
