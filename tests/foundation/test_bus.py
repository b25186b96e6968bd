"""The event bus: batches, one order for every subscriber, the dispatcher thread, and holding events
through a store outage."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.domain.events import Event
from keepclear.errors import StoreUnavailableError
from keepclear.services.runtime.bus import EventBus


def _events(n: int, start: int = 0) -> list[Event]:
    return [Event("test.happened", float(i), None, {"i": i}) for i in range(start, start + n)]


def test_batches_reach_batch_subscribers_whole_and_others_one_by_one() -> None:
    bus = EventBus()
    singles: list[int] = []
    batches: list[list[int]] = []
    bus.subscribe(lambda e: singles.append(e.payload["i"]))
    bus.subscribe_batches(lambda es: batches.append([e.payload["i"] for e in es]))
    bus.publish(_events(3))
    bus.emit(_events(1, start=3)[0])
    bus.publish([])
    assert singles == [0, 1, 2, 3]
    assert batches == [[0, 1, 2], [3]]


def test_a_failing_subscriber_keeps_its_error_and_the_others_still_get_everything() -> None:
    bus = EventBus()
    seen: list[int] = []

    def broken(events: Sequence[Event]) -> None:
        raise RuntimeError("consumer down")

    bus.subscribe_batches(broken)
    bus.subscribe(lambda e: seen.append(e.payload["i"]))
    bus.publish(_events(2))
    assert seen == [0, 1]
    assert len(bus.errors) == 1 and bus.errors[0][0].payload["i"] == 0


def test_nested_publications_are_delivered_depth_first_in_both_modes() -> None:
    for dispatching in (False, True):
        bus = EventBus()
        order: list[str] = []

        def reacting(event: Event, bus: EventBus = bus) -> None:
            if event.kind == "test.cause":
                bus.emit(Event("test.effect", event.time_s, None, {}))

        bus.subscribe(reacting)
        bus.subscribe(lambda e, order=order: order.append(e.kind))
        if dispatching:
            bus.start_dispatching()
        bus.publish([Event("test.cause", 0.0, None, {}), Event("test.later", 1.0, None, {})])
        bus.stop_dispatching()
        # the first subscriber's reaction to the cause reaches everyone before the second sees the cause
        assert order == ["test.effect", "test.cause", "test.later"], dispatching


def test_dispatcher_delivers_in_publication_order_and_publish_waits_for_delivery() -> None:
    bus = EventBus()
    seen: list[int] = []
    delivered_on: set[str] = set()

    def record(events: Sequence[Event]) -> None:
        delivered_on.add(threading.current_thread().name)
        seen.extend(e.payload["i"] for e in events)

    bus.subscribe_batches(record)
    bus.start_dispatching()
    try:
        bus.publish_nowait(_events(500))
        bus.publish(_events(1, start=500))
        # publish returned: its event and everything handed over before it are delivered
        assert seen == list(range(501))
        assert delivered_on == {"keepclear-events"}
    finally:
        bus.stop_dispatching()
    bus.publish(_events(1, start=501))
    assert seen[-1] == 501
    assert threading.current_thread().name in delivered_on


def test_publish_nowait_returns_before_a_slow_consumer_and_stop_drains_the_queue() -> None:
    bus = EventBus()
    release = threading.Event()
    seen: list[int] = []

    def slow(events: Sequence[Event]) -> None:
        release.wait(timeout=10)
        seen.extend(e.payload["i"] for e in events)

    bus.subscribe_batches(slow)
    bus.start_dispatching()
    bus.publish_nowait(_events(3))
    bus.publish_nowait(_events(3, start=3))
    assert seen == []  # the publisher did not wait
    assert bus.queued_events >= 3
    release.set()
    bus.stop_dispatching()
    assert seen == list(range(6))
    assert bus.queued_events == 0


def test_publish_nowait_blocks_when_the_queue_is_full() -> None:
    bus = EventBus(max_queued_events=4)
    release = threading.Event()
    started = threading.Event()

    def slow(events: Sequence[Event]) -> None:
        started.set()
        release.wait(timeout=10)

    bus.subscribe_batches(slow)
    bus.start_dispatching()
    bus.publish_nowait(_events(1))
    assert started.wait(timeout=10)  # the dispatcher holds the first batch
    bus.publish_nowait(_events(4))  # queue now at its limit
    returned = threading.Event()
    publisher = threading.Thread(target=lambda: (bus.publish_nowait(_events(1)), returned.set()))
    publisher.start()
    assert not returned.wait(timeout=0.3)  # held back: memory stays bounded
    release.set()
    assert returned.wait(timeout=10)
    publisher.join()
    bus.stop_dispatching()
    assert bus.queued_events == 0


def test_a_batch_larger_than_a_chunk_is_delivered_in_chunks_and_publish_waits_for_the_last() -> None:
    bus = EventBus()
    chunks: list[list[int]] = []
    bus.subscribe_batches(lambda es: chunks.append([e.payload["i"] for e in es]))
    bus.start_dispatching(max_batch_events=100)
    try:
        bus.publish(_events(250))
        assert [len(c) for c in chunks] == [100, 100, 50]
        assert [i for c in chunks for i in c] == list(range(250))
        assert bus.queued_events == 0
    finally:
        bus.stop_dispatching()


def test_live_subscribers_get_what_is_queued_before_each_chunk_of_the_others() -> None:
    """A storm being written to the record does not hold back the streams: whatever was published
    meanwhile reaches the live subscribers before the record's next chunk."""
    bus = EventBus()
    log: list[tuple[str, int, int]] = []
    first_chunk = threading.Event()
    release = threading.Event()

    def record(events: Sequence[Event]) -> None:
        log.append(("record", events[0].payload["i"], len(events)))
        first_chunk.set()
        release.wait(timeout=10)

    bus.subscribe_batches(record)
    bus.subscribe_batches(lambda es: log.append(("live", es[0].payload["i"], len(es))), live=True)
    bus.start_dispatching(max_batch_events=100)
    try:
        bus.publish_nowait(_events(300))  # the storm
        assert first_chunk.wait(timeout=10)
        bus.publish_nowait(_events(1, start=300))  # an alert while the record is busy
        release.set()
        bus.publish(_events(1, start=301))
    finally:
        bus.stop_dispatching()
    assert log[:2] == [("live", 0, 300), ("record", 0, 100)]
    assert log[2][:2] == ("live", 300) and log[3] == ("record", 100, 100)  # 301 may have come along
    assert [i for who, i, _ in log if who == "record"] == [0, 100, 200, 300]
    assert sum(n for who, _, n in log if who == "live") == sum(n for who, _, n in log if who == "record") == 302


class _Store:
    """A subscriber writing to a store that can be made unreachable: what it took, in order."""

    def __init__(self) -> None:
        self.up = True
        self.taken: list[int] = []

    def batches(self, events: Sequence[Event]) -> None:
        if not self.up:
            raise StoreUnavailableError("test: the store is down")
        self.taken += [e.payload["i"] for e in events]

    def single(self, event: Event) -> None:
        self.batches([event])


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 5)), min_size=1, max_size=12),
    dispatching=st.booleans(),
)
def test_events_met_by_a_store_outage_are_held_and_delivered_once_in_order(
    steps: list[tuple[bool, int]], dispatching: bool
) -> None:
    """Whatever the outages between publications, each subscriber that writes to the store takes every
    event exactly once and in publication order once the store answers; the others are not held up."""
    bus = EventBus()
    batch_store, single_store, live = _Store(), _Store(), []
    bus.subscribe_batches(batch_store.batches)
    bus.subscribe(single_store.single)
    bus.subscribe_batches(lambda es: live.extend(e.payload["i"] for e in es), live=True)
    if dispatching:
        bus.start_dispatching()
    published = 0
    for up, count in steps:
        batch_store.up = single_store.up = up
        bus.publish(_events(count, start=published))
        published += count
        assert live == list(range(published))  # the streams never wait for the store
    batch_store.up = single_store.up = True
    if dispatching:
        bus.stop_dispatching()
    bus.retry_held(force=True)
    assert batch_store.taken == list(range(published))
    assert single_store.taken == list(range(published))
    assert bus.held_events == 0 and bus.failures_total == 0


def test_events_held_through_an_outage_are_bounded_and_the_dropped_counted() -> None:
    bus = EventBus(max_held_events=5)
    store = _Store()
    bus.subscribe_batches(store.batches)
    store.up = False
    bus.publish(_events(8))
    assert bus.held_events == 5 and bus.held_dropped_total == 3
    store.up = True
    bus.retry_held(force=True)
    assert store.taken == [3, 4, 5, 6, 7]  # the oldest went
    assert bus.gauges()["events_held"]() == 0


def test_the_dispatcher_retries_what_an_outage_held_without_new_events() -> None:
    bus = EventBus()
    store = _Store()
    bus.subscribe_batches(store.batches)
    bus.start_dispatching()
    try:
        store.up = False
        bus.publish(_events(3))
        assert bus.held_events == 3
        store.up = True
        deadline = time.monotonic() + 10
        while store.taken != [0, 1, 2] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.taken == [0, 1, 2]
    finally:
        bus.stop_dispatching()
