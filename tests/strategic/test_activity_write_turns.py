"""A party's activity writes take turns, on SQLite and PostgreSQL: while one of a party's writes is
in progress its further writes wait for it, and another party's write goes ahead of them. So a party
sending many writes at once (full batches from every client it may have in flight) makes another
party's notification wait for at most the one in progress, not for all of them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from test_strategic_outside_lock import parties as parties
from test_strategic_outside_lock import plan

from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.service import ActivityService
from keepclear.services.runtime.deployment import Deployment

WAIT_S = 30.0


class _HoldFirst:
    """Between the check and the write: holds the first write there until ``release`` is set."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self._first = True
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.held.set()
            assert self.release.wait(WAIT_S)


def _started(write: Callable[[], NotifyResult]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        write()
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


@pytest.fixture
def service(parties: Deployment) -> Iterator[tuple[ActivityService, _HoldFirst]]:
    hold = _HoldFirst()
    yield ActivityService(parties.db, parties.clock, parties.bus, between_check_and_write=hold), hold
    hold.release.set()


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda s: s.notify(plan("russia-2", "russia", 39.0)), id="notify"),
        pytest.param(lambda s: s.notify_many([plan(f"russia-b{i}", "russia", 39.0) for i in range(3)]), id="batch"),
    ],
)
def test_another_party_goes_ahead_of_a_partys_queued_write(
    service: tuple[ActivityService, _HoldFirst], second: Callable[[ActivityService], NotifyResult]
) -> None:
    """russia's first notification is held between its check and its write; its second waits for it
    (it would otherwise run alongside); the coalition's goes through meanwhile; once the first is
    let go, the second follows."""
    activities, hold = service
    first, first_done = _started(lambda: activities.notify(plan("russia-1", "russia", 38.0)))
    assert hold.held.wait(WAIT_S)
    queued, queued_done = _started(lambda: second(activities))
    other, other_done = _started(lambda: activities.notify(plan("coalition-1", "coalition", 40.0)))
    assert other_done.wait(WAIT_S), "the other party's notification waited for russia's"
    assert not queued_done.wait(0.5), "russia's second write ran while its first was in progress"
    assert activities.writes_waiting_turn == 1
    assert not first_done.is_set()
    hold.release.set()
    for thread in (first, queued, other):
        thread.join(WAIT_S)
    assert first_done.is_set() and queued_done.is_set()
    assert activities.writes_waiting_turn == 0
    assert activities.get("russia-1").activity.party_id == "russia"
    assert activities.get("coalition-1").activity.party_id == "coalition"
