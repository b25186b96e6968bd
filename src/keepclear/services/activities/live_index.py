"""The in-memory strategic index of live activities and zones, kept in step with the store.

One ``LiveIndex`` per process (the deployment holds it): each check first catches up, inside the
check's own transaction and in one statement, with the activity log (``seq`` greater than the last
seen) and the zones' version (``zones_version``, moved on by triggers on every change to the zone
table), so several processes sharing one database never check against stale data.

Catching up costs what changed, not what is stored: an activity is read again only when the log
holds a change newer than the state the index has of it, and its geometry is prepared again only
when its version moved on (an acknowledgement changes neither); the writer of a notification hands
the activity it checked and stored to ``stored`` after the commit, so the next check does not read
back what was just written. The zone table is read only when its version moved on.

A check judges most of its pairs before the write lock, against the index as it then is (caught up
in a read transaction when it has fallen behind); under the lock the index catches up again and
only the activities changed since are judged (``TwoStepCheck.before_lock``, ``under_lock``).
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.detect.activity_geometry import Piece, activity_pieces
from keepclear.detect.strategic import IndexedActivity, PreparedZone
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain.activities import LIVE_STATUSES, Activity
from keepclear.domain.zones import UndrawableZoneError
from keepclear.services.zones.undrawable import UndrawableZones
from keepclear.store import activities as store
from keepclear.store import activity_log as log_store
from keepclear.store.schema import zones
from keepclear.store.zones import _zone


def indexed(activity: Activity, pieces: tuple[Piece, ...] | None = None) -> IndexedActivity:
    """An activity as the strategic check sees it (``pieces``: its geometry, when already drawn)."""
    drawn = activity_pieces(activity) if pieces is None else pieces
    return IndexedActivity(activity.id, activity.party_id, activity.version, activity.kind, drawn)


class LiveIndex:
    """A ``StrategicIndex`` plus what it has caught up with (thread-safe)."""

    def __init__(self, index: StrategicIndex | None = None, undrawable: UndrawableZones | None = None) -> None:
        self.index = index or StrategicIndex()
        #: Stored zones that cannot be drawn: left out of the index (the check goes on without them).
        self.undrawable = UndrawableZones() if undrawable is None else undrawable
        self._seq = 0
        #: Activity id -> log ``seq`` of the state the index holds, for states newer than ``_seq``
        #: (handed over by ``stored``); older ones are dropped once ``_seq`` passes them.
        self._held: dict[str, int] = {}
        self._zones_version = -1
        self._caught_up = False
        self._zone_rows: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()
        #: Rows read back from the store while catching up (activities and zones), since start.
        self.rows_read_total = 0

    def refresh(self, conn: Connection) -> StrategicIndex:
        """Catch up with the store as ``conn`` sees it; returns the index (hold ``lock`` while using it)."""
        newest, changed, zones_version = log_store.changes_since(conn, self._seq)
        stale = sorted(i for i, seq in changed.items() if seq > self._held.get(i, 0))
        if stale:
            if len(stale) > 500:  # first load or a long absence: read every live one at once
                live = store.list_activities(conn, statuses=LIVE_STATUSES)
            else:
                live = store.list_activities(conn, ids=stale)
            self.rows_read_total += len(live)
            current = {a.id: a for a in live}
            for activity_id in stale:
                activity = current.get(activity_id)
                if activity is None or activity.status not in LIVE_STATUSES:
                    self.index.remove_activity(activity_id)
                    continue
                held = self.index.activity(activity_id)
                if held is None or held.version != activity.version:  # the same version: the same pieces
                    self.index.put_activity(indexed(activity))
        self._seq = newest
        self._caught_up = True
        if self._held:
            self._held = {i: seq for i, seq in self._held.items() if seq > newest}
        if zones_version != self._zones_version:
            self._catch_up_zones(conn)
            self._zones_version = zones_version
        return self.index

    def _catch_up_zones(self, conn: Connection) -> None:
        """Read the zone table and prepare the zones that are new or changed, drop the ones gone.

        A zone that cannot be drawn (``UndrawableZoneError``) is left out of the index, noted once
        (its row is not prepared again until it changes): every check goes on against the others."""
        rows = {row.id: row for row in conn.execute(sa.select(zones))}
        self.rows_read_total += len(rows)
        for zone_id in self._zone_rows.keys() - rows.keys():
            self.index.remove_zone(zone_id)
        for zone_id, row in rows.items():
            if self._zone_rows.get(zone_id) != tuple(row):
                try:
                    prepared = PreparedZone.of(_zone(row))
                except UndrawableZoneError as exc:
                    self.index.remove_zone(zone_id)
                    self.undrawable.note(zone_id, exc.problem)
                    continue
                self.index.put_zone(prepared)
                self.undrawable.drawn(zone_id)
        self.undrawable.stored(rows.keys())
        self._zone_rows = {zone_id: tuple(row) for zone_id, row in rows.items()}

    def stored(self, activity: IndexedActivity | None, activity_id: str, seq: int) -> None:
        """After the commit of log ``seq``: ``activity`` (None: not live) is what the store now holds
        of ``activity_id``, so the next ``refresh`` need not read it back. Ignored when the index
        already holds a later state of it."""
        with self._lock:
            if seq <= max(self._seq, self._held.get(activity_id, 0)):
                return  # a refresh already read this change (or a later one) from the store
            if activity is None:
                self.index.remove_activity(activity_id)
            else:
                self.index.put_activity(activity)
            self._held[activity_id] = seq

    @property
    def caught_up(self) -> bool:
        """Whether ``refresh`` ever ran (before: the index holds nothing of the store)."""
        return self._caught_up

    @property
    def lock(self) -> threading.Lock:
        """Held while refreshing and checking."""
        return self._lock
