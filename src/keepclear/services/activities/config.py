"""The activity service's tunables (``ActivityConfig``): acknowledgement deadlines, how far ahead an
activity may start, the strategic check's buffers and notice, the bounds on a batch and on live
activities. Apart from the service: ``RuntimeConfig.from_settings`` builds it from the settings, and
the service's parts (opening, validation) read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keepclear.detect.strategic import StrategicConfig
from keepclear.domain.activities import Priority

MINUTE_S = 60.0


def _default_deadlines() -> dict[Priority, float]:
    return {Priority.ROUTINE: 15 * MINUTE_S, Priority.PRIORITY: 15 * MINUTE_S, Priority.IMMEDIATE: 5 * MINUTE_S}


@dataclass(frozen=True)
class ActivityConfig:
    """Tunables of the activity service.

    ``ack_deadline_s_by_priority``: how long an addressee has to acknowledge, per priority
    (15 min routine and priority, 5 min immediate). ``conflict_ack_deadline_s``: the deadline of an
    addressee whose own activities the notified one conflicts with (5 min). ``max_ahead_s``: how
    far ahead an activity may start (365 days). ``strategic``: buffers and minimum notice.
    ``max_batch``: the most activities one ``notify_many`` takes (500): a batch is one transaction,
    and every other activity write waits for it. ``max_problems_listed``: problems named in one
    refusal of a batch (the rest are counted). ``max_live_per_party``: live (notified or active)
    activities one party may have; every one is held in each API process's strategic index, so a
    notification past it is refused (``max_live_activities_per_party``). ``deadline_batch``: overdue
    acknowledgements escalated per transaction (500): a party notifying thousands of activities at
    once makes as many deadlines fall due together, and one transaction for all of them held every
    other write behind it. ``view_max_overlaps``: the conflicts others recorded against an
    activity shown on its view (100, most recently found first; the rest paged by
    ``ActivityService.overlaps_page``): others notify them without bound
    (``activity_view_max_overlaps``). ``page_max_overlaps``: the same on each item of a page (10:
    a page of 1,000 activities answers at most 10,000; ``activity_page_max_overlaps``).
    ``view_max_conflicts`` and ``page_max_conflicts``: the same for the conflicts an activity's own
    check found, as found (100 on its view and on the answer to its notification, 10 on a page
    item; the rest paged by ``ActivityService.conflicts_page``): how many depends on what others
    notified in the same space and time (``activity_view_max_conflicts``,
    ``activity_page_max_conflicts``). ``event_max_conflicts``: the conflicts one ``activity.conflict``
    event holds (20, the first as found, with how many in all): a notification tells its notifier and
    each other party it overlaps once, however much its check found, so that no party floods
    another's live streams (``activity_event_max_conflicts``).
    """

    strategic: StrategicConfig = field(default_factory=StrategicConfig)
    ack_deadline_s_by_priority: Mapping[Priority, float] = field(default_factory=_default_deadlines)
    conflict_ack_deadline_s: float = 5 * MINUTE_S
    max_ahead_s: float = 365 * 86400.0
    max_batch: int = 500
    max_problems_listed: int = 50
    max_live_per_party: int = 50_000
    deadline_batch: int = 500
    view_max_overlaps: int = 100
    page_max_overlaps: int = 10
    view_max_conflicts: int = 100
    page_max_conflicts: int = 10
    event_max_conflicts: int = 20
