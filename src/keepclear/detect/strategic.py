"""The strategic check: a new activity against other parties' activities, zones and protected sites.

``StrategicIndex`` keeps live activities and zones in a grid keyed by (lon cell, lat cell, time
bucket; ``strategic_grid``); a check gathers the candidates sharing a cell and bucket with the new
activity, then judges each pair exactly (time, altitude, then shapely geometry). Between two
activities of many pieces (long routes, many volumes) only the pieces that meet in time, altitude
and box are put to shapely, found by a join (``box_pairs``) rather than a loop over every pair.
``brute_force_check`` judges every stored activity with the same function and is the oracle the
index is tested and benchmarked against.

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

from keepclear.detect.activity_geometry import LocalFrame, Piece, buffered_all, zone_area
from keepclear.detect.box_pairs import BoxTable, meeting_pairs
from keepclear.detect.strategic_grid import Grid
from keepclear.domain.activities import ActivityKind
from keepclear.domain.zones import Access, Zone, ZoneKind
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
class PreparedZone:
    """A zone with its covered area drawn (lines and points grown by their buffer)."""

    zone: Zone
    area: BaseGeometry
    bounds: tuple[float, float, float, float]

    @classmethod
    def of(cls, zone: Zone) -> PreparedZone:
        """Draw ``zone``'s area once."""
        area = zone_area(zone)
        shapely.prepare(area)
        return cls(zone, area, _bounds(area))


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


def _boxes_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _merge(
    parts: list[tuple[BaseGeometry, float, float, float, float]],
) -> tuple[BaseGeometry, float, float, float, float]:
    geometry = parts[0][0] if len(parts) == 1 else shapely.union_all([p[0] for p in parts])
    return (
        geometry,
        min(p[1] for p in parts),
        max(p[2] for p in parts),
        min(p[3] for p in parts),
        max(p[4] for p in parts),
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
                if not _boxes_overlap(probe.bounds, piece.bounds):
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
    geometry, start_s, end_s, lower_ft, upper_ft = _merge(parts)
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


def _bounds(geometry: BaseGeometry) -> tuple[float, float, float, float]:
    min_x, min_y, max_x, max_y = shapely.bounds(geometry).tolist()
    return (min_x, min_y, max_x, max_y)


def judge_zone(
    pieces: Sequence[Piece],
    prepared: PreparedZone,
    party_id: str,
    kind: ActivityKind,
    notified_s: float,
    config: StrategicConfig,
) -> list[Conflict]:
    """The conflicts between the new activity's ``pieces`` and one zone (none, one or two)."""
    zone = prepared.zone
    access = zone.rules.access_for(party_id)
    protected = zone.kind is ZoneKind.PROTECTED_SITE and kind not in config.protected_site_exempt_kinds
    if access is Access.PERMITTED and not protected:
        return []
    lo = -math.inf if zone.validity.valid_from_s is None else zone.validity.valid_from_s
    hi = math.inf if zone.validity.valid_until_s is None else zone.validity.valid_until_s
    required_s = zone.rules.min_notice_h * HOUR_S
    if access is Access.WITH_NOTICE and not protected:
        earliest_s = min((max(p.start_s, lo) for p in pieces), default=math.inf)
        if earliest_s - notified_s >= required_s:
            return []  # enough notice even for the earliest entry possible
    band = zone.altitude
    hits = [
        piece
        for piece in pieces
        if piece.start_s < hi
        and lo < piece.end_s
        and piece.lower_ft <= band.upper_ft
        and band.lower_ft <= piece.upper_ft
        and _boxes_overlap(prepared.bounds, piece.bounds)
        and prepared.area.intersects(piece.geometry)
    ]
    if not hits:
        return []
    start_s = min(max(p.start_s, lo) for p in hits)
    given_s = start_s - notified_s
    reasons: list[tuple[ConflictKind, str]] = []
    if access is Access.FORBIDDEN:
        reasons.append(
            (
                ConflictKind.ZONE_NOT_PERMITTED,
                f"{zone.kind.value} {zone.id} ({zone.name}) does not permit {party_id} to operate inside",
            )
        )
    elif access is Access.WITH_NOTICE and given_s < required_s:
        reasons.append(
            (
                ConflictKind.ZONE_SHORT_NOTICE,
                f"{zone.kind.value} {zone.id} ({zone.name}) needs {zone.rules.min_notice_h:g} h notice;"
                f" {given_s / HOUR_S:.1f} h given",
            )
        )
    if protected:
        reasons.append((ConflictKind.PROTECTED_SITE, f"protected site {zone.id} ({zone.name})"))
    if not reasons:
        return []
    geometry, start_s, end_s, lower_ft, upper_ft = _merge(
        [
            (
                overlap(prepared.area, piece.geometry),
                max(piece.start_s, lo),
                min(piece.end_s, hi),
                max(piece.lower_ft, band.lower_ft),
                min(piece.upper_ft, band.upper_ft),
            )
            for piece in hits
        ]
    )
    return [
        Conflict(
            conflict_kind,
            zone.id,
            None,
            None,
            geometry,
            start_s,
            end_s,
            lower_ft,
            upper_ft,
            reason,
            *((required_s, given_s) if conflict_kind is ConflictKind.ZONE_SHORT_NOTICE else ()),
        )
        for conflict_kind, reason in reasons
    ]


def late_notice(kind: ActivityKind, start_s: float, notified_s: float, config: StrategicConfig) -> LateNotice | None:
    """The lead-time flag: None when ``start_s - notified_s`` meets the minimum for ``kind``."""
    required_s = config.min_notice_s(kind)
    given_s = start_s - notified_s
    return LateNotice(required_s, given_s) if given_s < required_s else None


def _sorted(conflicts: Iterable[Conflict]) -> tuple[Conflict, ...]:
    return tuple(sorted(conflicts, key=lambda c: (c.kind.value, c.target_id)))


def brute_force_check(
    subject: IndexedActivity,
    activities: Iterable[IndexedActivity],
    zones: Iterable[PreparedZone],
    notified_s: float,
    config: StrategicConfig,
) -> CheckResult:
    """The check by judging every stored activity and zone: the oracle for ``StrategicIndex.check``."""
    probes = probes_for(subject.pieces, config)
    conflicts: list[Conflict] = []
    for other in activities:
        if other.party_id == subject.party_id or other.activity_id == subject.activity_id:
            continue
        if (found := judge_activity(probes, other, config)) is not None:
            conflicts.append(found)
    for prepared in zones:
        conflicts += judge_zone(subject.pieces, prepared, subject.party_id, subject.kind, notified_s, config)
    start_s = min(p.start_s for p in subject.pieces)
    return CheckResult(_sorted(conflicts), late_notice(subject.kind, start_s, notified_s, config))


class StrategicIndex:
    """Live activities and zones, indexed for the check of a new activity.

    ``cell_deg`` (activities) and ``zone_cell_deg`` (zones, mostly long-lived, so kept in finer
    cells) are grid cells in degrees of lon and lat, ``bucket_s`` the time bucket; an item
    spanning more than ``max_buckets`` buckets (or an open validity) is kept in one long bucket per
    cell, which every query reads; one that would take more than ``max_keys`` (cell, bucket) keys
    is kept under one wide key, which every query reads too. ``pairs_looped``: see ``judge_activity``
    (``math.inf`` judges every pair of pieces as the check did before ``meeting_pairs``, for benches).
    """

    def __init__(
        self,
        cell_deg: float = 0.25,
        zone_cell_deg: float = 0.1,
        bucket_s: float = 6 * HOUR_S,
        max_buckets: int = 64,
        max_keys: int = 4096,
        pairs_looped: float = PAIRS_LOOPED,
    ) -> None:
        self._pairs_looped = pairs_looped
        self._activities: dict[str, IndexedActivity] = {}
        #: Live activities per party (what ``live_of`` answers; a party's bound is judged on it).
        self._per_party: dict[str, int] = {}
        self._zones: dict[str, PreparedZone] = {}
        self._activity_grid = Grid(cell_deg, bucket_s, max_buckets, max_keys)
        self._zone_grid = Grid(zone_cell_deg, bucket_s, max_buckets, max_keys)

    def __len__(self) -> int:
        return len(self._activities)

    def put_activity(self, activity: IndexedActivity) -> None:
        """Add or replace (same id) a live activity."""
        self.remove_activity(activity.activity_id)
        self._activities[activity.activity_id] = activity
        self._per_party[activity.party_id] = self._per_party.get(activity.party_id, 0) + 1
        self._activity_grid.add(activity.activity_id, ((p.bounds, p.start_s, p.end_s) for p in activity.pieces))

    def live_of(self, party_id: str) -> int:
        """How many live activities of ``party_id`` the index holds."""
        return self._per_party.get(party_id, 0)

    def most_live_of_one_party(self) -> int:
        """The most live activities any one party has in the index (0 when empty)."""
        return max(list(self._per_party.values()), default=0)

    def activity(self, activity_id: str) -> IndexedActivity | None:
        """The indexed activity ``activity_id``, or None."""
        return self._activities.get(activity_id)

    def remove_activity(self, activity_id: str) -> None:
        """Forget an activity (no longer live); unknown ids are ignored."""
        removed = self._activities.pop(activity_id, None)
        if removed is not None:
            self._activity_grid.remove(activity_id)
            left = self._per_party[removed.party_id] - 1
            if left:
                self._per_party[removed.party_id] = left
            else:
                del self._per_party[removed.party_id]

    def put_zone(self, prepared: PreparedZone) -> None:
        """Add or replace (same id) a zone."""
        self.remove_zone(prepared.zone.id)
        self._zones[prepared.zone.id] = prepared
        rules = prepared.zone.rules
        if (
            rules.permitted_parties is None
            and rules.min_notice_h <= 0
            and prepared.zone.kind is not ZoneKind.PROTECTED_SITE
        ):
            return  # open to every party without notice: it can never conflict, so no query reads it
        validity = prepared.zone.validity
        start_s = -math.inf if validity.valid_from_s is None else validity.valid_from_s
        end_s = math.inf if validity.valid_until_s is None else validity.valid_until_s
        self._zone_grid.add(prepared.zone.id, [(prepared.bounds, start_s, end_s)])

    def remove_zone(self, zone_id: str) -> None:
        """Forget a zone; unknown ids are ignored."""
        if self._zones.pop(zone_id, None) is not None:
            self._zone_grid.remove(zone_id)

    def activities(self) -> list[IndexedActivity]:
        """Every live activity held."""
        return list(self._activities.values())

    def zones(self) -> list[PreparedZone]:
        """Every zone held."""
        return list(self._zones.values())

    def nearby(self, subject: IndexedActivity, probes: ProbeSet) -> list[IndexedActivity]:
        """Other parties' activities sharing a grid cell and time bucket with one of ``probes`` (the
        grown pieces of ``subject``): the candidates ``judge_activities`` judges. Cheap (no
        geometry); the list holds the activities as they are now, and stays valid once the index
        moves on (an indexed activity is never changed, only replaced)."""
        activity_ids: set[str] = set()
        for probe in probes:
            activity_ids |= self._activity_grid.query(probe.bounds, probe.start_s, probe.end_s)
        return [
            other
            for other in (self._activities[i] for i in sorted(activity_ids))
            if other.party_id != subject.party_id and other.activity_id != subject.activity_id
        ]

    def judge_nearby(
        self,
        subject: IndexedActivity,
        probes: ProbeSet,
        config: StrategicConfig,
        known: Mapping[str, Judged] | None = None,
        counts: CheckCounts | None = None,
    ) -> dict[str, Judged]:
        """``judge_activities`` over ``nearby``, with this index's ``pairs_looped``."""
        return judge_activities(probes, self.nearby(subject, probes), config, known, counts, self._pairs_looped)

    @property
    def pairs_looped(self) -> float:
        """See ``judge_activity``: how many pairs this index tests in a loop rather than joins."""
        return self._pairs_looped

    def zone_conflicts(self, subject: IndexedActivity, notified_s: float, config: StrategicConfig) -> list[Conflict]:
        """Conflicts of ``subject`` notified at ``notified_s`` with the zones and protected sites."""
        zone_ids: set[str] = set()
        for piece in subject.pieces:
            zone_ids |= self._zone_grid.query(piece.bounds, piece.start_s, piece.end_s)
        conflicts: list[Conflict] = []
        for zone_id in zone_ids:
            conflicts += judge_zone(
                subject.pieces, self._zones[zone_id], subject.party_id, subject.kind, notified_s, config
            )
        return conflicts

    def check(
        self, subject: IndexedActivity, notified_s: float, config: StrategicConfig, counts: CheckCounts | None = None
    ) -> CheckResult:
        """Conflicts of ``subject`` notified at ``notified_s``; equal to ``brute_force_check``'s.
        ``counts``, when given, counts the pairs judged; more than ``config.max_exact_pairs`` judged
        exactly raise ``CheckTooCostly``."""
        probes = probes_for(subject.pieces, config)
        judged = self.judge_nearby(subject, probes, config, counts=counts)
        return check_result(subject, judged, self.zone_conflicts(subject, notified_s, config), notified_s, config)


def check_result(
    subject: IndexedActivity,
    judged: Mapping[str, Judged],
    zone_conflicts: Iterable[Conflict],
    notified_s: float,
    config: StrategicConfig,
) -> CheckResult:
    """The check's result from the verdicts on other activities and the zones' conflicts."""
    found = [j.conflict for j in judged.values() if j.conflict is not None]
    start_s = min(p.start_s for p in subject.pieces)
    return CheckResult(_sorted([*found, *zone_conflicts]), late_notice(subject.kind, start_s, notified_s, config))
