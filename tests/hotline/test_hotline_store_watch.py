"""Without a bus, a process finds every message other processes commit (``StoreWatch``), however long
their transactions ran, on SQLite and PostgreSQL alike.

A look read the threads posted to since the last look less ``margin_s`` (30 s) of the poster's
clock: a message whose transaction committed later than that after the poster stamped its thread
was never found, its live delivery lost until the socket resumed.
"""

from __future__ import annotations

from hotline_support import pair

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.hotline import Draft, Message, MessageKind
from keepclear.services.hotline.service import HotlineService
from keepclear.services.hotline.store_watch import StoreWatch
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database
from keepclear.store import hotline as store

#: The look's margin here: far shorter than the transaction below is held open.
MARGIN_S = 1.0


def _watch(deployment: Deployment, hotline: HotlineService) -> tuple[StoreWatch, list[str]]:
    woken: list[str] = []
    watch = StoreWatch(deployment.db, deployment.clock, lambda t, _: woken.append(t), hotline.parties_of, MARGIN_S)
    return watch, woken


def test_a_message_committed_long_after_its_thread_was_stamped_is_found(
    deployment: Deployment, hotline: HotlineService, database_url: str
) -> None:
    clock = deployment.clock
    assert isinstance(clock, ManualClock)
    thread_id = pair(hotline, "coalition", "russia")
    other_thread = pair(hotline, "russia", "un")  # its posts wait on no row the open transaction holds
    watch, woken = _watch(deployment, hotline)
    assert watch.look() == []
    other_db = Database(database_url)  # another process on the same store
    other = HotlineService(other_db, clock, EventBus(), hotline.phrases)
    try:
        clock.advance(1.0)
        with deployment.db.write() as conn:  # a post whose transaction stays open 60 s
            (before,) = store.reserve_seqs(conn, {thread_id: 1}, clock.now_s()).values()
            late = Message(thread_id, before + 1, MessageKind.TEXT, "russia", "Maj Ivanov", clock.now_s(), "late-0001")
            store.insert_messages(conn, [late])
            for _ in range(6):
                clock.advance(10.0)
                assert watch.look() == []  # not committed: nothing to find yet
            if not deployment.db.is_sqlite:  # PostgreSQL: others commit meanwhile, found at once
                other.post("un", "Ms Un", Draft(other_thread, MessageKind.TEXT, "meanwhile-1", body="x"))
                assert watch.look() == [other_thread]
        clock.advance(1.0)
        assert watch.look() == [thread_id]  # committed 60 s after its thread was stamped: found
        assert woken[-1] == thread_id and watch.look() == []
        other.post("russia", "Maj Ivanov", Draft(thread_id, MessageKind.TEXT, "after-0001", body="y"))
        assert watch.look() == [thread_id]
    finally:
        other_db.dispose()


def test_the_watch_holds_only_what_the_next_look_may_read_again(
    deployment: Deployment, hotline: HotlineService
) -> None:
    """A thread is held while a look may read it again (stamped at or above the horizon): on SQLite,
    whose next stamp is above every stored one, none once looked at; on PostgreSQL none once the
    transactions that stamped them have ended (other tests' may hold the horizon back a while)."""
    watch, _ = _watch(deployment, hotline)
    watch.look()
    ids = [hotline.create_thread("coalition", ["russia"], f"held {i}").id for i in range(5)]
    other = HotlineService(deployment.db, deployment.clock, EventBus(), hotline.phrases)
    for i, thread_id in enumerate(ids):
        other.post("russia", "Maj Ivanov", Draft(thread_id, MessageKind.TEXT, f"held-key-{i:03d}", body="x"))
    assert sorted(watch.look()) == sorted(ids)
    watch.look()
    if deployment.db.is_sqlite:
        assert watch.threads_held == 0
    assert watch.threads_held <= len(ids)


def test_with_a_bus_a_look_each_few_seconds_wakes_only_the_threads_whose_event_never_came(
    deployment: Deployment, hotline: HotlineService
) -> None:
    """With a bus, another process's ``message.posted`` wakes the sockets and is heard by the watch;
    the look every ``every_s`` wakes the threads whose event was lost (the poster killed between its
    commit and its publish, say), and reads nothing in between."""
    clock = deployment.clock
    assert isinstance(clock, ManualClock)
    heard, lost = pair(hotline, "coalition", "russia"), pair(hotline, "russia", "un")
    woken: list[str] = []
    watch = StoreWatch(deployment.db, clock, lambda t, _: woken.append(t), hotline.parties_of, MARGIN_S, every_s=5.0)
    assert watch.look() == []
    other_bus = EventBus()  # the other process's: what it publishes, of which only one event arrives
    published: list[Event] = []
    other_bus.subscribe(published.append)
    other = HotlineService(deployment.db, clock, other_bus, hotline.phrases)
    other.post("russia", "Maj Ivanov", Draft(heard, MessageKind.TEXT, "bus-came-1", body="x"))
    other.post("un", "Ms Un", Draft(lost, MessageKind.TEXT, "bus-lost-1", body="y"))
    [came] = [e for e in published if e.kind == EventKind.MESSAGE_POSTED and e.payload["thread_id"] == heard]
    watch.heard(came)
    clock.advance(4.0)
    assert watch.look() == []  # within every_s of the last look: nothing read
    clock.advance(1.0)
    assert watch.look() == [lost] and woken == [lost]
    clock.advance(5.0)
    assert watch.look() == []  # woken once
