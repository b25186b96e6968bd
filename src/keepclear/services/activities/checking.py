"""The strategic check of a new or amended activity, in two goes around the activity write lock.

Judging an activity's pieces against other parties' activities is the costly part of a
notification. ``TwoStepCheck.before_lock`` does it before the write lock is taken, against the
process's in-memory index, so a long check holds nobody else's writes; ``under_lock`` then judges,
in the write's transaction, only what was written meanwhile (by any process) and the zones. The
result is the one a check wholly under the lock gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import NamedTuple

from keepclear.detect.activity_geometry import Piece, activity_pieces
from keepclear.detect.strategic import (
    CheckCounts,
    CheckResult,
    CheckTooCostly,
    IndexedActivity,
    Judged,
    ProbeSet,
    StrategicConfig,
    check_result,
    judge_activities,
    probes_for,
)
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain.activities import Activity
from keepclear.services.activities.live_index import LiveIndex, indexed
from keepclear.store import Database

#: Rounds of the check before the write lock: the first against the index as it is (kept up to date
#: by this process's writes; caught up with the store first in a process that never did), each next
#: one, after a round that put at least ``CATCH_UP_EXACT_PAIRS`` pairs to the exact geometry (about
#: 50 ms), caught up in a read transaction and judging what was written meanwhile (by any process),
#: so what is left to judge under the lock stays small; a cheap check costs no read transaction.
CHECK_ROUNDS = 3
CATCH_UP_EXACT_PAIRS = 1000


class Prejudged(NamedTuple):
    """A new or amended activity's grown pieces (``probes``) and its verdicts on other parties'
    activities (by id), judged before the write lock against the index as it then was; under the
    lock only what changed since is judged. The verdicts may stop short of a refusal
    (``CheckTooCostly``): the lock then refuses unless what they rest on changed meanwhile."""

    probes: ProbeSet
    judged: dict[str, Judged]


class Checked(NamedTuple):
    """An activity, as the strategic index holds it, and what the check found against it."""

    activity: Activity
    subject: IndexedActivity
    check: CheckResult


def drawn_early(activity: Activity) -> tuple[Piece, ...] | None:
    """The 4D pieces of a new or amended activity, drawn before the write lock is taken: the geometry
    is the costliest part of the check and needs no store, and every writer waits while the lock is
    held. None when they cannot be drawn: the validation under the lock then says what is wrong."""
    try:
        return activity_pieces(activity)
    except Exception:  # not validated yet: whatever the drawing trips on, the validation names
        return None


def _grown_early(subject: IndexedActivity, config: StrategicConfig) -> ProbeSet | None:
    """``subject``'s pieces grown by the buffers, before the write lock; None when they cannot be
    (not validated yet: the validation under the lock says what is wrong)."""
    try:
        return probes_for(subject.pieces, config)
    except Exception:  # not validated yet: whatever growing trips on, the validation names
        return None


def _nearby_early(
    index: StrategicIndex, subject: IndexedActivity | None, early: Prejudged | None
) -> list[IndexedActivity] | None:
    """``index.nearby`` of ``subject``, before the write lock; None where it has no pieces yet or
    they cannot be looked up (not validated yet: a NaN bound; the validation under the lock says)."""
    if subject is None or early is None:
        return None
    try:
        return index.nearby(subject, early.probes)
    except Exception:  # not validated yet: whatever the lookup trips on, the validation names
        return None


class TwoStepCheck:
    """The check of one deployment's activity writes: ``before_lock`` outside the write lock,
    ``under_lock`` in the write's transaction (its index caught up by the caller).

    ``live`` is the process's in-memory index; ``between`` is called after the check before the lock,
    before the lock is taken (tests write other activities there)."""

    def __init__(self, db: Database, live: LiveIndex, config: StrategicConfig, between: Callable[[], None]) -> None:
        self._db = db
        self._live = live
        self._config = config
        self._between = between

    def before_lock(
        self, activities: Sequence[Activity], drawn: Sequence[tuple[Piece, ...] | None]
    ) -> list[Prejudged | None]:
        """Each activity (``drawn``: its pieces; None: not drawn, judged under the lock) judged against
        other parties' live activities as the index holds them. Every other writer goes on
        meanwhile; what they write is judged under the lock. A round that judged much is followed by
        another over what was written during it, caught up from the store (``CHECK_ROUNDS``). A
        refusal for cost waits for the lock, after the validation, as it would have in a check under
        the lock."""
        config = self._config
        index = self._live.index
        early: list[Prejudged | None] = []
        subjects: list[IndexedActivity | None] = []
        for activity, pieces in zip(activities, drawn, strict=True):
            subject = None if pieces is None else indexed(activity, pieces)
            probes = None if subject is None else _grown_early(subject, config)
            subjects.append(None if probes is None else subject)
            early.append(None if probes is None else Prejudged(probes, {}))
        if not any(early):
            return early
        refused = [False] * len(early)
        refresh = not self._live.caught_up  # a process that never read the store reads it first
        for _ in range(CHECK_ROUNDS):
            with self._db.read() if refresh else contextlib.nullcontext() as conn, self._live.lock:
                if conn is not None:
                    self._live.refresh(conn)
                nearby = [_nearby_early(index, s, e) for s, e in zip(subjects, early, strict=True)]
            counts = CheckCounts()
            for i, (one, others) in enumerate(zip(early, nearby, strict=True)):
                if one is None or others is None or refused[i]:
                    early[i] = None if others is None else one
                    continue
                judged: dict[str, Judged] = {}
                try:
                    judge_activities(one.probes, others, config, one.judged, counts, index.pairs_looped, judged)
                except CheckTooCostly:
                    refused[i] = True  # refused under the lock, unless what it rests on changed
                except Exception:  # not validated yet: judged under the lock, after the validation
                    early[i] = None
                    continue
                early[i] = Prejudged(one.probes, judged)
            if counts.exact < CATCH_UP_EXACT_PAIRS:
                break
            refresh = True
        self._between()
        return early

    def under_lock(
        self, activity: Activity, now_s: float, pieces: tuple[Piece, ...] | None, prejudged: Prejudged | None = None
    ) -> Checked:
        """What the strategic index (caught up by the caller in this transaction) finds against
        ``activity``: the verdicts of ``prejudged`` (its check before the lock, against ``pieces``)
        kept for the activities still at the version judged, the others judged now; zones judged
        now."""
        config = self._config
        subject = indexed(activity, pieces)
        probes = probes_for(subject.pieces, config) if prejudged is None else prejudged.probes
        index = self._live.index
        with self._live.lock:
            others = index.nearby(subject, probes)
            zones = index.zone_conflicts(subject, now_s, config)
        known = None if prejudged is None else prejudged.judged
        judged = judge_activities(probes, others, config, known, pairs_looped=index.pairs_looped)
        return Checked(activity, subject, check_result(subject, judged, zones, now_s, config))
