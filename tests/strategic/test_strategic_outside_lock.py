"""The check outside the activity write lock, on SQLite and PostgreSQL: judged against the index as it
was before the lock, then under the lock only against what was written meanwhile (added, amended,
cancelled, by this process or another), it finds what a check wholly under the lock finds."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_strategic_check import CONFIG, T0, activity, square
from test_strategic_service import plan as service_plan

from keepclear.detect.strategic import (
    CheckTooCostly,
    Conflict,
    IndexedActivity,
    brute_force_check,
    check_result,
    judge_activities,
    probes_for,
)
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain import Party
from keepclear.domain.activities import Activity
from keepclear.domain.parties import Contact
from keepclear.errors import ValidationError
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.activities.errors import ActivityForbidden, StaleVersionError
from keepclear.services.activities.live_index import LiveIndex
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.service import ActivityService
from keepclear.services.runtime.deployment import Deployment

H = 3600.0
NOW_S = 1509494400.0


# -- pure: verdicts judged in two goes equal one go -------------------------------------------------

_others = st.lists(
    st.tuples(
        st.sampled_from(["russia", "un"]),
        st.floats(37.8, 38.2),  # lon of the square: within or beyond the buffer of ours at 38.0
        st.integers(1, 3),  # version
    ),
    max_size=6,
)


def _indexed(specs: list[tuple[str, float, int]]) -> list[IndexedActivity]:
    return [
        replace(activity(f"{party}-{i}", party, square(lon, 36.0)), version=v)
        for i, (party, lon, v) in enumerate(specs)
    ]


@settings(max_examples=60, deadline=None)
@given(before=_others, after=_others)
def test_verdicts_kept_from_a_snapshot_and_judged_again_for_what_changed_equal_one_check(
    before: list[tuple[str, float, int]], after: list[tuple[str, float, int]]
) -> None:
    """Ids shared by ``before`` and ``after`` are the same activity, changed when its version moved on
    (then its square may have moved too); ids only in ``before`` were cancelled, only in ``after`` added."""
    ours = activity("coalition-1", "coalition", square(38.0, 36.0))
    probes = probes_for(ours.pieces, CONFIG)
    snapshot, final = StrategicIndex(), StrategicIndex()
    for other in _indexed(before):
        snapshot.put_activity(other)
    then = _indexed(before)
    now = [
        then[i] if i < len(then) and then[i].version == other.version else other
        for i, other in enumerate(_indexed(after))
    ]
    for other in now:
        final.put_activity(other)
    known = snapshot.judge_nearby(ours, probes, CONFIG)
    judged = final.judge_nearby(ours, probes, CONFIG, known)
    assert check_result(ours, judged, [], T0, CONFIG) == brute_force_check(ours, now, [], T0, CONFIG)
    assert check_result(ours, judged, [], T0, CONFIG) == final.check(ours, T0, CONFIG)


def test_the_budget_of_a_check_in_two_goes_is_that_of_one_check() -> None:
    """Verdicts kept count against the budget as if judged again; the ones of activities gone do not."""
    ours = activity("coalition-1", "coalition", square(38.0, 36.0))
    probes = probes_for(ours.pieces, CONFIG)
    others = [activity(f"russia-{i}", "russia", square(38.0 + 0.001 * i, 36.0)) for i in range(4)]
    unbounded = judge_activities(probes, others, replace(CONFIG, max_exact_pairs=math.inf))
    each = unbounded["russia-0"].exact_pairs
    assert all(j.exact_pairs == each for j in unbounded.values()) and each > 0
    tight = replace(CONFIG, max_exact_pairs=3 * each)
    partial: dict[str, Any] = {}
    with pytest.raises(CheckTooCostly):
        judge_activities(probes, others, tight, into=partial)
    assert len(partial) == 3  # the verdicts judged before the refusal are kept
    with pytest.raises(CheckTooCostly):  # nothing changed: refused from the kept verdicts alone
        judge_activities(probes, others, tight, known=partial)
    assert judge_activities(probes, others[1:], tight, known=partial).keys() == {"russia-1", "russia-2", "russia-3"}


# -- the service: writes between the check and the lock ---------------------------------------------


@pytest.fixture
def parties(deployment: Deployment) -> Iterator[Deployment]:
    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition"), [Contact("Duty officer", "CAOC")])
    reg.add_party(Party("russia", "Russia", "ru"), [Contact("Duty officer", "Hmeimim")])
    reg.add_party(Party("un", "UN OCHA"))
    yield deployment


def plan(activity_id: str, party: str, lon: float = 38.0, **kw: Any) -> Activity:
    return service_plan(activity_id, party, lon, 48.0, NOW_S, **kw)


def _found(conflicts: tuple[Conflict, ...]) -> list[tuple[str, str, int | None, Any]]:
    return [(c.kind.value, c.target_id, c.target_version, c.geometry.wkb) for c in conflicts]


class _Between:
    """The hook between the check outside the lock and the write: runs ``writes`` once, the first
    time (then None: the test sees it ran)."""

    def __init__(self, writes: Callable[[], None]) -> None:
        self.writes: Callable[[], None] | None = writes

    def __call__(self) -> None:
        writes, self.writes = self.writes, None
        if writes is not None:
            writes()


@pytest.mark.parametrize("writer", ["this process", "another process", "another process, index behind"])
def test_activities_written_between_the_check_and_the_lock_are_judged_as_under_the_lock(
    parties: Deployment, writer: str
) -> None:
    """Between the check and the lock, others cancel one activity that conflicted (no phantom
    conflict with it), move one away (none either) and one into conflict, amend one in place (the
    conflict names the new version) and add one (found): the result and the stored conflicts are
    those of the same check made wholly under the lock afterwards. The writer is this process, or
    another one (its own index): checked against the store read before the lock, or against an
    index that has not seen the other's writes at all (caught up only under the lock)."""
    live = LiveIndex()
    between = _Between(lambda: None)
    checking = ActivityService(parties.db, parties.clock, parties.bus, live=live, between_check_and_write=between)
    other = (
        ActivityService(parties.db, parties.clock, parties.bus, live=live)
        if writer == "this process"
        else ActivityService(parties.db, parties.clock, parties.bus)  # its own index, as another process's
    )
    if writer.endswith("index behind"):  # caught up now: the check before the lock reads nothing more
        checking.notify(plan("coalition-0", "coalition", 39.5))
    for activity_id, party, lon in [
        ("russia-cancelled", "russia", 38.0),
        ("russia-moved-away", "russia", 38.02),
        ("russia-moved-in", "russia", 38.6),
        ("un-amended", "un", 37.98),
        ("un-kept", "un", 38.01),
    ]:
        other.notify(plan(activity_id, party, lon))

    def meanwhile() -> None:
        other.cancel("russia-cancelled", 1, "russia")
        other.amend(plan("russia-moved-away", "russia", 38.6), 1)
        other.amend(plan("russia-moved-in", "russia", 38.03), 1)
        other.amend(plan("un-amended", "un", 37.99), 1)
        other.notify(plan("un-added", "un", 38.04))

    between.writes = meanwhile
    interleaved = checking.notify(plan("coalition-1", "coalition"))
    assert between.writes is None  # the writes ran between the check and the lock
    assert [(c.target_id, c.target_version) for c in interleaved.check.conflicts] == [
        ("russia-moved-in", 2),
        ("un-added", 1),
        ("un-amended", 2),
        ("un-kept", 1),
    ]
    serial = checking.notify(plan("coalition-2", "coalition"))  # nothing written meanwhile now
    assert _found(interleaved.check.conflicts) == _found(serial.check.conflicts)
    stored = checking.get("coalition-1").conflicts.shown
    assert [(c.conflict.target_id, c.conflict.target_version) for c in stored] == [
        (c.target_id, c.target_version) for c in interleaved.check.conflicts
    ]


@pytest.mark.parametrize("change", ["amended", "cancelled"])
def test_an_amendment_checked_outside_the_lock_sees_what_was_written_meanwhile(
    parties: Deployment, change: str
) -> None:
    """The same for an amendment, and for a write that is a conflicting activity's cancellation or
    its move away: the one check under the lock finds no conflict."""
    between = _Between(lambda: None)
    checking = ActivityService(parties.db, parties.clock, parties.bus, between_check_and_write=between)
    other = ActivityService(parties.db, parties.clock, parties.bus)
    other.notify(plan("russia-1", "russia", 38.0))
    checking.notify(plan("coalition-1", "coalition", 38.6))

    def meanwhile() -> None:
        if change == "cancelled":
            other.cancel("russia-1", 1, "russia")
        else:
            other.amend(plan("russia-1", "russia", 38.6), 1)

    between.writes = meanwhile
    amended: NotifyResult = checking.amend(plan("coalition-1", "coalition", 38.0), 1)
    assert between.writes is None and amended.check.conflicts == ()
    if change == "amended":  # the other's new version, where ours was: found by the next check
        moved = checking.amend(plan("coalition-1", "coalition", 38.6), 2)
        assert [(c.target_id, c.target_version) for c in moved.check.conflicts] == [("russia-1", 2)]


def test_a_notification_written_while_a_check_runs_outside_the_lock_is_not_held(parties: Deployment) -> None:
    """While one party's check runs (held at the hook, before its write lock), another party's
    notification is written and answered: nothing waits on the first's check."""
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        assert release.wait(30)

    checking = ActivityService(parties.db, parties.clock, parties.bus, between_check_and_write=hold)
    other = ActivityService(parties.db, parties.clock, parties.bus)
    answers: list[NotifyResult] = []
    first = threading.Thread(target=lambda: answers.append(checking.notify(plan("coalition-1", "coalition"))))
    first.start()
    try:
        assert started.wait(30)
        theirs = other.notify(plan("russia-1", "russia", 38.01))  # answered while coalition-1 is being checked
        assert not answers and theirs.activity.id == "russia-1"
    finally:
        release.set()
        first.join(30)
    assert [c.target_id for c in answers[0].check.conflicts] == ["russia-1"]  # and judged under the lock


def test_a_refusal_for_cost_is_judged_under_the_lock_after_the_validation(parties: Deployment) -> None:
    """A check past the budget before the lock is refused under it, after the validation (an invalid
    activity is told what is wrong with it, as before), and only if what the excess rests on is
    still there: once the activity behind it is cancelled meanwhile, the notification is stored."""
    between = _Between(lambda: None)
    config = ActivityConfig(strategic=replace(ActivityConfig().strategic, max_exact_pairs=0))
    checking = ActivityService(parties.db, parties.clock, parties.bus, config, between_check_and_write=between)
    other = ActivityService(parties.db, parties.clock, parties.bus)
    other.notify(plan("russia-1", "russia"))
    with pytest.raises(CheckTooCostly):
        checking.notify(plan("coalition-1", "coalition"))
    with pytest.raises(ValidationError) as invalid:
        checking.notify(plan("coalition-1", "coalition", addressees=frozenset({"nobody"})))
    assert not isinstance(invalid.value, CheckTooCostly) and "nobody" in str(invalid.value)
    between.writes = lambda: other.cancel("russia-1", 1, "russia")
    stored = checking.notify(plan("coalition-1", "coalition"))
    assert between.writes is None and stored.check.conflicts == ()


def test_only_an_amendment_that_will_be_checked_is_checked_before_the_lock(parties: Deployment) -> None:
    """A draft's amendment is never checked, nor one the write refuses (another party's activity, a
    version gone): none of them runs the check before the lock. A live activity's amendment does."""
    checks: list[str] = []
    checking = ActivityService(
        parties.db, parties.clock, parties.bus, between_check_and_write=lambda: checks.append("checked")
    )
    other = ActivityService(parties.db, parties.clock, parties.bus)
    other.notify(plan("russia-1", "russia", 38.0))
    checking.draft(plan("coalition-draft", "coalition", 38.0))
    amended = checking.amend(plan("coalition-draft", "coalition", 38.0), 1)
    assert (amended.activity.version, amended.check.conflicts, checks) == (2, (), [])
    with pytest.raises(ActivityForbidden):
        checking.amend(plan("russia-1", "coalition", 38.0), 1)  # russia's: refused, unchecked
    checking.notify(plan("coalition-1", "coalition", 38.0))
    checks.clear()
    with pytest.raises(StaleVersionError):
        checking.amend(plan("coalition-1", "coalition", 38.0), 5)  # not the current version
    assert checks == []
    live = checking.amend(plan("coalition-1", "coalition", 38.0), 1)
    assert checks == ["checked"] and [c.target_id for c in live.check.conflicts] == ["russia-1"]
