"""What the activity service answers besides activities and their states: the result of a
notification or an amendment (``NotifyResult``), and one page of the activities a party may be shown
(``ActivityPage``). Apart from the service: the API, the CLI and the events a notification tells
(``telling``) read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from keepclear.detect.strategic import CheckResult
from keepclear.domain.activities import Activity
from keepclear.services.activities.views import ActivityState
from keepclear.store.activity_conflicts import EMPTY, Capped, StoredConflict


@dataclass(frozen=True)
class NotifyResult:
    """The stored activity, what the check found, and the activity's state as stored (what ``get``
    would read back: the answer is made from it without reading it again); ``overlaps``, the first
    conflicts others' activities recorded against it and their count, as its notifier's view shows
    them: none for a new activity or a draft notified (others' checks judge live activities only, so
    none judged it before this write), read in the write for an amendment (the id keeps what was
    recorded against its earlier versions)."""

    activity: Activity
    check: CheckResult
    addressees: frozenset[str]
    state: ActivityState
    overlaps: Capped = EMPTY


@dataclass(frozen=True)
class ActivityPage:
    """One page of the activities a party may be shown: their ``states`` by id, the first overlaps
    of those of its own by id (``overlaps``), and whether a next page may hold more."""

    states: list[ActivityState]
    overlaps: dict[str, Capped]
    more: bool


@dataclass(frozen=True)
class ConflictsPage:
    """One page of a list of an activity's conflicts (those others recorded against it, most recently
    found first; those its check found, as found), each with its row id (the next page's position),
    and whether a next page may hold more."""

    conflicts: list[tuple[int, StoredConflict]]
    more: bool
