"""Use cases of strategic deconfliction: notify, acknowledge, object, amend, activate, complete, cancel.

Every change names the version it changes; a stale version is refused with ``StaleVersionError``
carrying the current one. A notification is checked against other parties' live activities, the
zones and protected sites; conflicts never block it: they are recorded and told to both sides.
Addressees must acknowledge within a deadline; ``run_deadlines`` escalates along each silent
addressee's roster, one recorded step per overdue deadline.

Each use case is one write transaction here; its parts live beside it: what is wrong with an
activity (``validation``), what is read back of stored ones (``reading``), the check around the
write lock (``checking``), opening a checked version (``opening``), what each change tells whom
(``telling``), what a party reads (``reads``); the tunables are ``config``, the refusals ``errors``, the
answers ``results``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

from sqlalchemy.engine import Connection

from keepclear.detect.activity_geometry import Piece
from keepclear.detect.strategic import CheckResult
from keepclear.domain.activities import TRANSITIONS, Activity, ActivityStatus, batch_size_problem
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.ids import RandomBits
from keepclear.errors import ConflictError, NotFoundError, ValidationError
from keepclear.services.activities import reading, validation
from keepclear.services.activities.checking import Prejudged, TwoStepCheck, drawn_early
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.activities.deadlines import escalate_overdue
from keepclear.services.activities.errors import ActivityForbidden, StaleVersionError
from keepclear.services.activities.live_index import LiveIndex
from keepclear.services.activities.opening import Opened, notice_s, open_checked
from keepclear.services.activities.reads import ActivityReads
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.telling import (
    answered_event,
    conflict_events,
    escalated_event,
    moved_event,
    notice_events,
    notified_events,
)
from keepclear.services.activities.views import ActivityState
from keepclear.services.party_turns import PartyTurns
from keepclear.services.policy import sees_party_data_of, unknown
from keepclear.services.quota import Quota
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import activities as store
from keepclear.store import activity_acks as acks_store
from keepclear.store import activity_conflicts as conflicts_store
from keepclear.store import activity_log as log_store
from keepclear.store.activity_acks import AckState, EscalationStep
from keepclear.store.activity_conflicts import Capped

#: Stores what else a write tells (the hotline's notices of its events) in the write's own
#: transaction; returns the notices' own events, which the writer stages and publishes with its own,
#: and their live delivery, to run first after the commit; or None (``HotlineService.post_within``).
Notices = Callable[[Connection, Sequence[Event]], tuple[list[Event], Callable[[], None]] | None]

#: Advisory lock key serialising activity writes on PostgreSQL (SQLite serialises all writes).
_PG_LOCK_KEY = 0x6B635F61
#: The statuses whose amendment is checked (a draft's is not; the others cannot be amended).
_LIVE = frozenset({ActivityStatus.NOTIFIED, ActivityStatus.ACTIVE})


class _Told(NamedTuple):
    """What a write tells once committed: ``events`` (its own and its notices'), and the notices'
    live delivery to run first (None: no notices)."""

    events: list[Event]
    deliver_live: Callable[[], None] | None


class ActivityService(ActivityReads):
    """Strategic deconfliction of one deployment.

    ``live`` is the process's in-memory index; give the same one to every service instance.
    ``notices``: the hotline's notices of each write's events, stored in the write's transaction
    (one commit and one signing for both); without it the hotline posts them when the bus delivers.

    The costly part of a notification's check, judging its pieces against other parties' activities,
    runs before the activity write lock is taken (``TwoStepCheck.before_lock``), so a long check holds
    nobody else's writes; under the lock only the activities written meanwhile are judged (``under_lock``),
    and the result is the one a check wholly under the lock gives.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        config: ActivityConfig | None = None,
        live: LiveIndex | None = None,
        notices: Notices | None = None,
        between_check_and_write: Callable[[], None] = lambda: None,
        random_bits: RandomBits = secrets.randbits,
    ) -> None:
        """``random_bits`` draws the ids made up for activities given none (``domain.ids``; a replay
        passes a seeded one)."""
        self._db = db
        self._random_bits = random_bits
        self._clock = clock
        self._events = events
        self._config = config or ActivityConfig()
        self._live = live or LiveIndex()
        self._notices = notices
        self._live_quota = Quota(self._config.max_live_per_party)
        self._turns = PartyTurns()
        #: Called after the check outside the write lock, before the lock is taken (tests write
        #: other activities there, to see the check under the lock judge what changed).
        self.between_check_and_write = between_check_and_write
        self._check = TwoStepCheck(db, self._live, self._config.strategic, lambda: self.between_check_and_write())

    @property
    def writes_waiting_turn(self) -> int:
        """Activity writes now waiting for their party's write before them (``activity_writes_waiting_turn``)."""
        return self._turns.waiting

    @property
    def refused_live_limit_total(self) -> int:
        """Notifications refused because their party had ``max_live_per_party`` live activities."""
        return self._live_quota.refused_total

    # -- writes -------------------------------------------------------------------------------

    def draft(self, activity: Activity) -> Activity:
        """Store ``activity`` as a draft (version 1): seen by its party only, checked when notified."""
        with self._turns.turn((activity.party_id,)):
            now_s = self._clock.now_s()
            with self._db.write() as conn:
                self._serialise(conn)
                (activity,) = validation.validated(
                    conn,
                    [activity],
                    now_s,
                    ActivityStatus.DRAFT,
                    self._config,
                    batch=False,
                    random_bits=self._random_bits,
                )
                store.insert_activity(conn, activity, now_s)
                log_store.log_change(conn, activity.id, 1, "drafted", activity.party_id, now_s)
            return activity

    def notify(self, activity: Activity) -> NotifyResult:
        """Store and notify a new activity (version 1): check it, open acknowledgements, tell everyone."""
        return self._notify_new([activity], batch=False)[0]

    def notify_many(self, activities: Sequence[Activity]) -> list[NotifyResult]:
        """Store and notify several new activities at once, all or none (an air tasking order, a list
        of convoys): each is checked and told as ``notify`` would, in one transaction, one record
        staging and one delivery, except that the conflicts of all of them are told once to each party
        concerned (``conflict_events``: the first few and counts, not one event per activity). A
        problem is named ``activities[i].<field>``; one problem anywhere stores nothing. Each is checked against what was stored before the batch: the batch's own
        activities never conflict with each other when they are one party's."""
        return self._notify_new(activities, batch=True)

    def _notify_new(self, activities: Sequence[Activity], *, batch: bool) -> list[NotifyResult]:
        with self._turns.turn({a.party_id for a in activities}):
            if batch and (too := batch_size_problem(len(activities), self._config.max_batch)):
                raise ValidationError([too])
            now_s = self._clock.now_s()
            drawn = [drawn_early(activity) for activity in activities]
            prejudged = self._check.before_lock(activities, drawn)
            with self._db.write() as conn:
                self._serialise(conn)
                valid = [
                    replace(a, notified_s=now_s)
                    for a in validation.validated(
                        conn,
                        activities,
                        now_s,
                        ActivityStatus.NOTIFIED,
                        self._config,
                        batch=batch,
                        random_bits=self._random_bits,
                    )
                ]
                store.insert_activities(conn, [(a, notice_s(self._config, a, now_s)) for a in valid], now_s)
                with self._live.lock:
                    self._live.refresh(conn)  # once: the log entries of the batch are written after its checks
                    self._require_room(valid)
                checked = [
                    self._check.under_lock(a, now_s, pieces, early)
                    for a, pieces, early in zip(valid, drawn, prejudged, strict=True)
                ]
                opened = open_checked(conn, checked, now_s, "notified", [], self._config)
                notices = [
                    event
                    for one in opened
                    for event in notice_events(one.result, now_s, EventKind.ACTIVITY_NOTIFIED, frozenset())
                ]
                found = [(one.result.activity, one.result.check.conflicts) for one in opened]
                events = notices + conflict_events(found, now_s, self._config.event_max_conflicts)
                told = self._stage(conn, events)
            for one in opened:
                self._live.stored(one.subject, one.result.activity.id, one.seq)
            self._tell(told)
            return [one.result for one in opened]

    def notify_draft(self, activity_id: str, version: int, party_id: str) -> NotifyResult:
        """Notify a stored draft, naming its current version."""
        with self._turns.turn((party_id,)):
            now_s = self._clock.now_s()
            pieces, prejudged = self._prejudge_draft(activity_id, version, party_id)
            with self._db.write() as conn:
                self._serialise(conn)
                current = self._current_for_notifier(conn, activity_id, version, party_id)
                self._require_transition(current, ActivityStatus.NOTIFIED)
                problems = validation.problems(conn, current, now_s, self._config)
                if problems:
                    raise ValidationError(problems)
                activity = replace(current, status=ActivityStatus.NOTIFIED, notified_s=now_s)
                with self._live.lock:
                    self._live.refresh(conn)
                    self._require_room([activity])
                store.set_head(conn, activity_id, ActivityStatus.NOTIFIED, version, now_s)
                opened = self._check_and_open(conn, activity, now_s, "notified", pieces=pieces, prejudged=prejudged)
                events = notified_events(
                    opened.result, now_s, EventKind.ACTIVITY_NOTIFIED, frozenset(), self._config.event_max_conflicts
                )
                told = self._stage(conn, events)
            self._live.stored(opened.subject, activity.id, opened.seq)
            self._tell(told)
            return opened.result

    def amend(self, activity: Activity, version: int) -> NotifyResult:
        """Replace version ``version`` of ``activity.id`` by a new version (every earlier one kept).

        A live activity is checked again and every addressee must acknowledge the new version.
        """
        with self._turns.turn((activity.party_id,)):
            now_s = self._clock.now_s()
            pieces = drawn_early(activity)
            live = self._live_of(activity.id, version, activity.party_id)
            (prejudged,) = self._check.before_lock([activity], [pieces]) if live else (None,)
            with self._db.write() as conn:
                self._serialise(conn)
                current = self._current_for_notifier(conn, activity.id, version, activity.party_id)
                if current.status is not ActivityStatus.DRAFT and current.status not in _LIVE:
                    raise ConflictError(
                        f"activity {activity.id!r} is {current.status.value}; it can no longer be amended"
                    )
                new = replace(activity, version=version + 1, status=current.status, notified_s=None)
                problems = validation.problems(conn, new, now_s, self._config)
                if problems:
                    raise ValidationError(problems)
                old_addressees = reading.addressees(conn, current)
                acks_store.stop_deadlines(conn, activity.id)
                conflicts_store.supersede(conn, activity.id, version)
                if current.status is ActivityStatus.DRAFT:
                    store.insert_version(conn, new, now_s)
                    store.set_head(conn, new.id, new.status, new.version, now_s)
                    log_store.log_change(conn, new.id, new.version, "amended", new.party_id, now_s)
                    escalations = acks_store.get_escalations(conn, new.id)
                    state = ActivityState(new, frozenset(), [], conflicts_store.EMPTY, escalations, None, None)
                    return NotifyResult(new, CheckResult((), None), frozenset(), state, self._overlaps_in(conn, new))
                new = replace(new, notified_s=now_s)
                store.insert_version(conn, new, now_s, notice_s(self._config, new, now_s))
                store.set_head(conn, new.id, new.status, new.version, now_s)
                opened = self._check_and_open(
                    conn, new, now_s, "amended", marked=True, pieces=pieces, prejudged=prejudged
                )
                result = replace(opened.result, overlaps=self._overlaps_in(conn, new))
                withdrawn = old_addressees - result.addressees
                events = notified_events(
                    result, now_s, EventKind.ACTIVITY_AMENDED, withdrawn, self._config.event_max_conflicts
                )
                told = self._stage(conn, events)
            self._live.stored(opened.subject, new.id, opened.seq)
            self._tell(told)
            return result

    def acknowledge(self, activity_id: str, version: int, party_id: str) -> AckState:
        """Addressee ``party_id`` acknowledges receipt of ``version`` (receipt, not approval)."""
        return self._answer(activity_id, version, party_id, EventKind.ACTIVITY_ACKNOWLEDGED, "")

    def object(self, activity_id: str, version: int, party_id: str, reason: str) -> AckState:
        """Addressee ``party_id`` objects to ``version``, giving a reason (this also stops its deadline)."""
        if not reason.strip():
            raise ValidationError(["reason: an objection needs a reason"])
        return self._answer(activity_id, version, party_id, EventKind.ACTIVITY_OBJECTED, reason.strip())

    def activate(self, activity_id: str, version: int, party_id: str) -> Activity:
        """The notifier reports the activity under way."""
        return self._move(activity_id, version, party_id, ActivityStatus.ACTIVE, EventKind.ACTIVITY_ACTIVATED, "")

    def complete(self, activity_id: str, version: int, party_id: str) -> Activity:
        """The notifier reports the activity over."""
        return self._move(activity_id, version, party_id, ActivityStatus.COMPLETED, EventKind.ACTIVITY_COMPLETED, "")

    def cancel(self, activity_id: str, version: int, party_id: str, reason: str = "") -> Activity:
        """The notifier cancels the activity."""
        return self._move(
            activity_id, version, party_id, ActivityStatus.CANCELLED, EventKind.ACTIVITY_CANCELLED, reason
        )

    def run_deadlines(self, now_s: float | None = None, *, max_batches: int | None = None) -> list[EscalationStep]:
        """Escalate every acknowledgement overdue at ``now_s`` (default: the clock) one roster step
        (``deadlines``), or the first ``max_batches`` batches of them; returns the steps taken.
        ``deadline_batch`` per transaction, oldest first: other writers go between the batches,
        however many fell due together."""
        now_s = self._clock.now_s() if now_s is None else now_s
        with self._db.read() as conn:
            if not acks_store.overdue_acks(conn, now_s, limit=1):
                return []  # the usual tick: nothing due, and the writer stays free for others
        taken: list[EscalationStep] = []
        batches = 0
        while True:
            with self._db.write() as conn:
                self._serialise(conn)
                steps = escalate_overdue(conn, now_s, self._config.deadline_batch)
                told = self._stage(conn, [escalated_event(step, notifier, now_s) for step, notifier in steps])
            self._tell(told)
            taken += [step for step, _ in steps]
            batches += 1
            if len(steps) < self._config.deadline_batch or batches == max_batches:
                return taken

    # -- internals ----------------------------------------------------------------------------

    def _stage(self, conn: Connection, events: list[Event]) -> _Told:
        """In the write's transaction: the hotline notices of ``events``, and the record entries of
        both (one statement)."""
        notices = self._notices(conn, events) if self._notices is not None and events else None
        posted, deliver_live = notices if notices is not None else ([], None)
        told = _Told([*events, *posted], deliver_live)
        stage(conn, told.events)
        return told

    def _tell(self, told: _Told) -> None:
        """After the commit: the notices to the live sockets, then the events to every subscriber
        (one delivery: one signing of the write's entries and its notices')."""
        if told.deliver_live is not None:
            told.deliver_live()
        self._events.publish(told.events)

    def _require_room(self, activities: Sequence[Activity]) -> None:
        """``ConflictError`` (409) unless each party of ``activities`` stays within
        ``max_live_per_party`` live activities with them. Called under the live index's lock, the
        index caught up in the writing transaction (the activity write lock held: no other write
        can make room or take it meanwhile)."""
        new: dict[str, int] = {}
        for activity in activities:
            new[activity.party_id] = new.get(activity.party_id, 0) + 1
        for party_id, count in new.items():
            live = self._live.index.live_of(party_id)
            if not self._live_quota.allows(live, count):
                raise self._live_quota.refused(
                    f"party {party_id} has {live} live activities; {count} more would pass the most one party may"
                    f" have, {self._live_quota.most} (max_live_activities_per_party): complete or cancel some first"
                )

    def _serialise(self, conn: Connection) -> None:
        if not self._db.is_sqlite:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")

    def _current(self, conn: Connection, activity_id: str, version: int) -> Activity:
        current = reading.current_activity(conn, activity_id)
        if version != current.version:
            raise StaleVersionError(activity_id, version, current.version)
        return current

    def _current_for_notifier(self, conn: Connection, activity_id: str, version: int, party_id: str) -> Activity:
        current = reading.current_activity(conn, activity_id)
        if not sees_party_data_of(party_id, current.party_id):
            if not reading.addressed(conn, current, party_id):
                raise NotFoundError(unknown("activity", activity_id))
            raise ActivityForbidden(
                f"only {current.party_id}, the notifying party, may change activity {activity_id!r}"
            )
        if version != current.version:
            raise StaleVersionError(activity_id, version, current.version)
        return current

    def _overlaps_in(self, conn: Connection, activity: Activity) -> Capped:
        """What others recorded against ``activity`` as its view shows it, read in the write (an
        amendment's answer shows what a read right after it shows)."""
        return conflicts_store.overlaps_of(conn, activity.party_id, [activity.id], self._config.view_max_overlaps)[
            activity.id
        ]

    @staticmethod
    def _require_transition(current: Activity, target: ActivityStatus) -> None:
        if target not in TRANSITIONS[current.status]:
            raise ConflictError(f"activity {current.id!r} is {current.status.value}; it cannot become {target.value}")

    def _check_and_open(
        self,
        conn: Connection,
        activity: Activity,
        now_s: float,
        change: str,
        *,
        marked: bool = False,
        escalations: list[EscalationStep] | None = None,
        pieces: tuple[Piece, ...] | None = None,
        prejudged: Prejudged | None = None,
    ) -> Opened:
        """Check ``activity`` (stored, its log entry not yet written), open its acknowledgements,
        record its conflicts and log the change. ``marked``: its version was stored with its notice
        (else it is written here); ``escalations``: what ``get`` would read of them (None: read);
        ``pieces``: its geometry drawn before the transaction (None: drawn here); ``prejudged``:
        its check before the transaction, against ``pieces``."""
        with self._live.lock:
            self._live.refresh(conn)
        checked = self._check.under_lock(activity, now_s, pieces, prejudged)
        if not marked:
            required_s, given_s = notice_s(self._config, activity, now_s)
            store.mark_notified(conn, activity.id, activity.version, now_s, required_s, given_s)
        if escalations is None:
            escalations = acks_store.get_escalations(conn, activity.id)
        return open_checked(conn, [checked], now_s, change, escalations, self._config)[0]

    def _live_of(self, activity_id: str, version: int, party_id: str) -> bool:
        """Whether ``party_id``'s activity ``activity_id`` is at ``version`` and notified or active: only
        then does an amendment need the check, so only then is it run before the lock. A draft's
        amendment is not checked, and one the write will refuse (another party's activity, an old
        version) costs no check either; whatever changes meanwhile, the write judges under the lock."""
        with self._db.read() as conn:
            head = store.head_of(conn, activity_id)
        return head is not None and sees_party_data_of(party_id, head[0]) and head[2] == version and head[1] in _LIVE

    def _prejudge_draft(
        self, activity_id: str, version: int, party_id: str
    ) -> tuple[tuple[Piece, ...] | None, Prejudged | None]:
        """The check before the lock of a draft about to be notified: its pieces and verdicts, or Nones where it
        is not ``party_id``'s draft at ``version`` (the write then says what is wrong)."""
        try:
            with self._db.read() as conn:
                draft = store.get_activity(conn, activity_id)
        except NotFoundError:
            return None, None
        if draft.party_id != party_id or draft.version != version or draft.status is not ActivityStatus.DRAFT:
            return None, None
        pieces = drawn_early(draft)
        return pieces, self._check.before_lock([draft], [pieces])[0]

    def _answer(self, activity_id: str, version: int, party_id: str, kind: EventKind, reason: str) -> AckState:
        with self._turns.turn((party_id,)):
            state = kind.action  # the acknowledgement's state is the kind's word: acknowledged, objected
            now_s = self._clock.now_s()
            with self._db.write() as conn:
                self._serialise(conn)
                current = reading.current_activity(conn, activity_id)
                if sees_party_data_of(party_id, current.party_id):
                    raise ActivityForbidden(f"activity {activity_id!r} is your own; only its addressees answer it")
                if not reading.addressed(conn, current, party_id):
                    raise NotFoundError(unknown("activity", activity_id))
                current = self._current(conn, activity_id, version)
                if current.status not in (ActivityStatus.NOTIFIED, ActivityStatus.ACTIVE):
                    raise ConflictError(f"activity {activity_id!r} is {current.status.value}; nothing to answer")
                before = next(
                    (a for a in acks_store.get_acks(conn, activity_id, version) if a.party_id == party_id), None
                )
                if before is not None and (before.state, before.reason) == (state, reason):
                    return before  # a retry (its first answer may have been lost): nothing changes, nothing recorded
                acks_store.answer_ack(conn, activity_id, version, party_id, state, reason, now_s)
                log_store.log_change(conn, activity_id, version, state, party_id, now_s, reason)
                answered = next(a for a in acks_store.get_acks(conn, activity_id, version) if a.party_id == party_id)
                told = self._stage(conn, [answered_event(current, party_id, kind, reason, now_s)])
            self._tell(told)
            return answered

    def _move(
        self, activity_id: str, version: int, party_id: str, target: ActivityStatus, kind: EventKind, reason: str
    ) -> Activity:
        with self._turns.turn((party_id,)):
            change = kind.action  # the change log's word: activated, completed, cancelled
            now_s = self._clock.now_s()
            with self._db.write() as conn:
                self._serialise(conn)
                current = self._current_for_notifier(conn, activity_id, version, party_id)
                self._require_transition(current, target)
                addressees = reading.addressees(conn, current)
                store.set_head(conn, activity_id, target, version, now_s)
                if target in (ActivityStatus.COMPLETED, ActivityStatus.CANCELLED):
                    acks_store.stop_deadlines(conn, activity_id)
                log_store.log_change(conn, activity_id, version, change, party_id, now_s, reason)
                told = self._stage(conn, [moved_event(current, party_id, target, kind, reason, addressees, now_s)])
            self._tell(told)
            return replace(current, status=target)
