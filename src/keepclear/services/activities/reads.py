"""What a party reads of the activities: one activity's state, pages of them, their versions and log,
what overlaps one of its own (``overlapped_by``) and what its check found (``conflicts``): of both
the first few, their count, the rest in pages.

Each read is a fixed number of statements whatever other parties stored (docs/api.md, "Lists come in
pages"): others may notify without end activities overlapping a party's, so what overlaps one is
capped on a view (``view_max_overlaps``) and on a page item (``page_max_overlaps``) and paged apart;
and as many conflicts a check of one finds, capped the same way (``view_max_conflicts``,
``page_max_conflicts``).
``ActivityService`` takes these reads from ``ActivityReads``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.errors import NotFoundError
from keepclear.services.activities import reading
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.activities.results import ActivityPage, ConflictsPage
from keepclear.services.activities.views import ActivityState
from keepclear.services.policy import sees_party_data_of, unknown
from keepclear.store import Database
from keepclear.store import activities as store
from keepclear.store import activity_conflicts as conflicts_store
from keepclear.store import activity_log as log_store
from keepclear.store.activity_conflicts import Capped


class ActivityReads:
    """The reads of ``ActivityService`` (its database and its configuration)."""

    _db: Database
    _config: ActivityConfig

    def get(self, activity_id: str, party_id: str | None = None) -> ActivityState:
        """The current version of ``activity_id`` with acknowledgements, conflicts and escalations;
        for ``party_id`` (None: everything), the conflicts only where it is the notifier's (an
        addressee never sees them, and an activity overlapping thousands of others has as many)."""
        with self._db.read() as conn:
            try:
                current = store.current_version_of(conn, activity_id)
            except NotFoundError:
                raise NotFoundError(unknown("activity", activity_id)) from None
            full = party_id is None or sees_party_data_of(party_id, current.activity.party_id)
            most = self._config.view_max_conflicts
            return reading.states(conn, [current], most, conflicts_of=None if full else ())[0]

    def page(self, party_id: str | None, after_id: str | None, limit: int) -> ActivityPage:
        """Up to ``limit`` activities by id after ``after_id`` that ``party_id`` may be shown (its own
        and those addressed to it; None: every activity, for the operator's tools), each with its
        state (the first ``page_max_conflicts`` conflicts its check found of its own only: an addressee
        never sees them), and the first ``page_max_overlaps`` overlaps of those of its own
        (``overlaps_of``); a bounded number of statements,
        whatever ``limit``. The caller still asks the policy for each view
        (``views.view_for``)."""
        with self._db.read() as conn:
            found = store.current_versions_page(conn, party_id, after_id, limit + 1)
            shown = found[:limit]
            most = self._config.page_max_conflicts
            if party_id is None:
                return ActivityPage(states=reading.states(conn, shown, most), overlaps={}, more=len(found) > limit)
            own = [c.activity.id for c in shown if sees_party_data_of(party_id, c.activity.party_id)]
            return ActivityPage(
                states=reading.states(conn, shown, most, conflicts_of=frozenset(own)),
                overlaps=conflicts_store.overlaps_of(conn, party_id, own, self._config.page_max_overlaps),
                more=len(found) > limit,
            )

    def versions(self, activity_id: str) -> list[Activity]:
        """Every version of ``activity_id``, oldest first."""
        with self._db.read() as conn:
            return store.list_versions(conn, activity_id)

    def history(self, activity_id: str) -> list[dict[str, Any]]:
        """The change log of ``activity_id``."""
        with self._db.read() as conn:
            reading.current_activity(conn, activity_id)
            return log_store.history(conn, activity_id)

    def activities(self, statuses: list[ActivityStatus] | None = None) -> list[Activity]:
        """Current versions of every activity (or those in ``statuses``), by id; callers filter by view."""
        with self._db.read() as conn:
            return store.list_activities(conn, statuses=statuses)

    def overlaps_of(self, party_id: str, activity_ids: Sequence[str]) -> dict[str, Capped]:
        """For each of ``party_id``'s ``activity_ids`` (its view's ``overlapped_by``): the first
        ``view_max_overlaps`` conflicts other parties' activities recorded against it, most recently
        found first, and how many in all; one statement. Others notify them without bound (each up to
        ``max_live_activities_per_party`` live, the past ones kept): the rest are paged
        (``overlaps_page``)."""
        with self._db.read() as conn:
            return conflicts_store.overlaps_of(conn, party_id, activity_ids, self._config.view_max_overlaps)

    def overlaps_page(self, party_id: str, activity_id: str, after: int | None, limit: int) -> ConflictsPage:
        """Up to ``limit`` of the conflicts others recorded against ``party_id``'s ``activity_id``,
        most recently found first, after the one recorded as ``after``. Another party's activity
        answers as an unknown one (``NotFoundError``), addressed to the caller or not: only its
        own party sees what overlaps it."""
        with self._db.read() as conn:
            self._require_own(conn, party_id, activity_id)
            found = conflicts_store.overlaps_after(conn, party_id, activity_id, after, limit + 1)
        return ConflictsPage(conflicts=found[:limit], more=len(found) > limit)

    def conflicts_page(self, party_id: str, activity_id: str, after: int | None, limit: int) -> ConflictsPage:
        """Up to ``limit`` of the conflicts the check of ``party_id``'s ``activity_id`` (its current
        version) found, as found, after the one recorded as ``after``. Another party's activity
        answers as an unknown one (``NotFoundError``), addressed to the caller or not: only its own
        party sees what its check found."""
        with self._db.read() as conn:
            self._require_own(conn, party_id, activity_id)
            found = conflicts_store.conflicts_after(conn, activity_id, after, limit + 1)
        return ConflictsPage(conflicts=found[:limit], more=len(found) > limit)

    @staticmethod
    def _require_own(conn: Connection, party_id: str, activity_id: str) -> None:
        """``NotFoundError`` as for an unknown activity unless ``activity_id`` is ``party_id``'s."""
        head = store.head_of(conn, activity_id)
        if head is None or not sees_party_data_of(party_id, head[0]):
            raise NotFoundError(unknown("activity", activity_id))
