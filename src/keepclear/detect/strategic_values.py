"""What the strategic check takes and gives: its tunables (``StrategicConfig``), a live activity as
it sees one (``IndexedActivity``), what it finds (``Conflict`` of a ``ConflictKind``, ``LateNotice``,
``CheckResult``), what judging cost (``CheckCounts``) and the refusal of a check too costly.
Plain values shared by the parts of the check (``strategic``).

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry

from keepclear.detect.activity_geometry import Piece
from keepclear.detect.box_pairs import BoxTable
from keepclear.domain.activities import ActivityKind
from keepclear.errors import ValidationError

HOUR_S = 3600.0


class ConflictKind(enum.StrEnum):
    """Why a new activity conflicts with something."""

    ACTIVITY = "activity"
    ZONE_NOT_PERMITTED = "zone-not-permitted"
    ZONE_SHORT_NOTICE = "zone-short-notice"
    PROTECTED_SITE = "protected-site"


def _default_notice() -> dict[ActivityKind, float]:
    return {ActivityKind.HUMANITARIAN_MOVEMENT: 48 * HOUR_S}


@dataclass(frozen=True)
class StrategicConfig:
    """Tunables of the check.

    Two activities conflict when they come within ``buffer_m`` metres, ``buffer_ft`` feet and
    ``buffer_s`` seconds of each other; one check judges at most ``max_exact_pairs`` exactly. Minimum notice is ``min_notice_s_by_kind`` for the kinds it
    names, ``default_min_notice_s`` for the others. Protected sites do not conflict with the kinds
    in ``protected_site_exempt_kinds`` (a convoy delivering to a hospital).
    """

    buffer_m: float = 1000.0
    buffer_ft: float = 1000.0
    buffer_s: float = 900.0
    default_min_notice_s: float = 24 * HOUR_S
    min_notice_s_by_kind: Mapping[ActivityKind, float] = field(default_factory=_default_notice)
    protected_site_exempt_kinds: frozenset[ActivityKind] = frozenset(
        {ActivityKind.HUMANITARIAN_MOVEMENT, ActivityKind.HUMANITARIAN_SITE}
    )
    #: Most (probe, piece) pairs one check puts to the exact geometry (about 50 µs each, the overlap
    #: merged): past it the activity is refused (``CheckTooCostly``) rather than spend seconds of
    #: CPU on it. Reached only where its pieces meet others' thousands of times (an orbit flown as
    #: hundreds of legs over others' routes: a volume says it in one).
    max_exact_pairs: float = 20_000

    def min_notice_s(self, kind: ActivityKind) -> float:
        """The notice an activity of ``kind`` needs, in seconds."""
        return self.min_notice_s_by_kind.get(kind, self.default_min_notice_s)


@dataclass(frozen=True, slots=True)
class IndexedActivity:
    """A live activity as the check sees it."""

    activity_id: str
    party_id: str
    version: int
    kind: ActivityKind
    pieces: tuple[Piece, ...]
    _boxes: BoxTable | None = field(default=None, init=False, repr=False, compare=False)

    def boxes(self) -> BoxTable:
        """The pieces' windows, bands and bounding boxes as a table (made on first use: most
        activities are judged by a loop, which needs none)."""
        table = self._boxes
        if table is None:
            table = BoxTable.of_items(self.pieces)
            object.__setattr__(self, "_boxes", table)
        return table


@dataclass(slots=True)
class CheckCounts:
    """What judging activities cost, counted (for tests and benchmarks; pass one to ``judge_activity``).

    ``compared``: (probe, piece) pairs put to the time, altitude and box tests (every pair, in a
    loop in Python, or those ``time_pairs`` lists, vectorised);
    ``exact``: pairs put to the exact geometry test.
    """

    compared: int = 0
    exact: int = 0


class CheckTooCostly(ValidationError):
    """An activity whose check would judge more than ``max_exact_pairs`` pairs exactly: refused as
    input (422), with what to do instead."""

    def __init__(self, max_exact_pairs: float) -> None:
        super().__init__(
            [
                f"activity: its pieces meet stored activities in more places than one check judges"
                f" ({max_exact_pairs:g}, setting activity_check_max_exact_pairs); notify a pattern flown over"
                " and over (an orbit) as a volume, or split the route into several activities"
            ]
        )


@dataclass(frozen=True, slots=True)
class Conflict:
    """One conflict: with what (``kind``, ``target_*``), where (lon/lat ``geometry``), when, why.

    The altitude band and window are the overlap of the two. For ``zone-short-notice``,
    ``required_notice_s`` and ``given_notice_s`` say by how much the notice fell short.
    """

    kind: ConflictKind
    target_id: str
    target_party_id: str | None
    target_version: int | None
    geometry: BaseGeometry
    start_s: float
    end_s: float
    lower_ft: float
    upper_ft: float
    reason: str
    required_notice_s: float | None = None
    given_notice_s: float | None = None


@dataclass(frozen=True, slots=True)
class LateNotice:
    """The activity was notified with less notice than its kind requires."""

    required_s: float
    given_s: float


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the check found: conflicts sorted by kind and target, and the lead-time flag."""

    conflicts: tuple[Conflict, ...]
    late_notice: LateNotice | None
