"""The in-memory strategic index of live activities and zones, kept in step with the store.

One ``LiveIndex`` per process (the deployment holds it): each check first catches up, inside the
check's own transaction, with the activity log (``seq`` greater than the last seen) and with the
zone table (rows compared with the cached ones), so several processes sharing one database never
check against stale data.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.detect.activity_geometry import activity_pieces
from keepclear.detect.strategic import IndexedActivity, PreparedZone, StrategicIndex
from keepclear.domain.activities import LIVE_STATUSES, Activity
from keepclear.store import activities as store
from keepclear.store.schema import zones
from keepclear.store.zones import _zone


def indexed(activity: Activity) -> IndexedActivity:
    """An activity as the strategic check sees it."""
    return IndexedActivity(activity.id, activity.party_id, activity.version, activity.kind, activity_pieces(activity))


class LiveIndex:
    """A ``StrategicIndex`` plus what it has caught up with (thread-safe)."""

    def __init__(self, index: StrategicIndex | None = None) -> None:
        self.index = index or StrategicIndex()
        self._seq = 0
        self._zone_rows: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def refresh(self, conn: Connection) -> StrategicIndex:
        """Catch up with the store as ``conn`` sees it; returns the index (hold ``lock`` while using it)."""
        newest, changed = store.changes_since(conn, self._seq)
        if changed:
            if len(changed) > 500:  # first load or a long absence: read every live one at once
                live = store.list_activities(conn, statuses=LIVE_STATUSES)
            else:
                live = store.list_activities(conn, ids=sorted(changed))
            current = {a.id: a for a in live}
            for activity_id in changed:
                activity = current.get(activity_id)
                if activity is not None and activity.status in LIVE_STATUSES:
                    self.index.put_activity(indexed(activity))
                else:
                    self.index.remove_activity(activity_id)
        self._seq = newest
        rows = {row.id: tuple(row) for row in conn.execute(sa.select(zones))}
        if rows != self._zone_rows:
            for zone_id in self._zone_rows.keys() - rows.keys():
                self.index.remove_zone(zone_id)
            for row in conn.execute(sa.select(zones)):
                if self._zone_rows.get(row.id) != tuple(row):
                    self.index.put_zone(PreparedZone.of(_zone(row)))
            self._zone_rows = rows
        return self.index

    @property
    def lock(self) -> threading.Lock:
        """Held while refreshing and checking."""
        return self._lock
