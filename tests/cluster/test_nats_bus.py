"""The bus across processes (``NatsBus``) on a real 3-node JetStream cluster and one PostgreSQL database.

Two deployments with their own bus stand for two keepclear processes (each bus has its own origin,
consumer and connection, exactly as in two processes). What one publishes reaches the other's
remote subscribers once: also when the publish is retried with the same id, when the stream holds
it twice, and when a node of the cluster is killed (``kill -9``) while events are being published.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nats = pytest.importorskip("nats")
from clustersupport import cluster, servers  # noqa: E402
from nats.js import api as js_api  # noqa: E402
from nats.js import errors as js_errors  # noqa: E402

from keepclear.domain import Domain, Force, Party, Unit  # noqa: E402
from keepclear.domain.event_kinds import EventKind  # noqa: E402
from keepclear.domain.event_wire import event_to_json, events_from_json, events_to_json  # noqa: E402
from keepclear.domain.events import Event  # noqa: E402
from keepclear.domain.hotline import Draft, MessageKind  # noqa: E402
from keepclear.services.hotline.service import HotlineService  # noqa: E402
from keepclear.services.runtime.bus import EventBus, ManualClock  # noqa: E402
from keepclear.services.runtime.deployment import Deployment, bus_for  # noqa: E402
from keepclear.services.runtime.detect_share_run import retrying  # noqa: E402
from keepclear.services.runtime.jetstream import passing, until_answered  # noqa: E402
from keepclear.services.runtime.leader import PostgresLeadership  # noqa: E402
from keepclear.services.runtime.nats_bus import NatsBus  # noqa: E402
from keepclear.services.runtime.nats_messages import (  # noqa: E402
    EMITTED_BY_HEADER,
    STREAM,
    SeenIds,
    acknowledge_each,
    events_of_message,
    subject_of,
)
from keepclear.services.runtime.nats_tracks import (  # noqa: E402
    TRACK_PREFIX,
    TRACK_STREAM,
    TrackFeed,
    drain_alert_events,
    recent_alert_events,
)
from keepclear.services.runtime.runtime import HOTLINE_WATCH_WITH_BUS_S, Runtime  # noqa: E402
from keepclear.services.tactical.track_wire import reports_to_bytes  # noqa: E402
from keepclear.services.tactical.tracks import ReportColumns  # noqa: E402
from keepclear.settings import Settings  # noqa: E402

#: Ports shifted by this (test_cluster uses 100): both modules may run at once.
PORT_OFFSET = 300
SERVERS = servers(PORT_OFFSET)
#: How long an event may take to reach the other process, and the whole drill.
DELIVERY_S = 10.0
DRILL_S = 60.0


class Received:
    """A remote subscriber that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[Event]) -> None:
        with self._lock:
            self.events.extend(events)

    def wait_for(self, count: int, timeout_s: float = DELIVERY_S) -> list[Event]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.events)


def soon() -> float:
    """The deadline (monotonic) of a JetStream request a test makes: a cluster just formed, or
    electing a leader, may answer nothing for a while on a loaded machine."""
    return time.monotonic() + DRILL_S / 2


def wait_until(check: Callable[[], bool], timeout_s: float = DELIVERY_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def marker(k: int) -> Event:
    """A distinct event (a kind whose payload has no typed form, so any JSON object is valid)."""
    return Event(EventKind.FORCE_ADDED, 1509494400.0 + k, "a", {"force_id": f"f{k}", "n": k}, frozenset({"a"}))


def raised_alert(k: int, emitted_by: str | None) -> Event:
    """A distinct ``alert.raised`` (its typed form), emitted by ``emitted_by`` (a detector worker's run mark)."""
    payload = {
        "alert_id": f"alert-{k:020x}",
        "unit_a": f"ua{k}",
        "unit_b": f"ub{k}",
        "party_a": "a",
        "party_b": "b",
        "level": "caution",
        "level_number": 2,
        "raised_s": 1509494400.0 + k,
        "previous_level": None,
        "time_s": 1509494400.0 + k,
        "positions": {},
        "cpa": None,
    }
    return Event(EventKind.ALERT_RAISED, 1509494400.0 + k, None, payload, frozenset("ab"), emitted_by=emitted_by)


#: What emitted each of ``raised_alert(0..3)`` in the header tests: two runs of shares, then nobody.
MARKS = ["w0of2/0a1b2c3d", "w0of2/0a1b2c3d", "w1of2/9f8e7d6c", None]


# -- without a cluster --------------------------------------------------------------------
def test_seen_ids_remember_the_last_ones_only() -> None:
    seen = SeenIds(2)
    assert seen.add("x") and seen.add("y")
    assert not seen.add("x")  # seen, and now the most recent
    assert seen.add("z")  # "y" is forgotten, not "x"
    assert not seen.add("x") and seen.add("y") and len(seen) == 2
    with pytest.raises(ValueError, match="capacity"):
        SeenIds(0)


def test_acknowledgements_lost_with_the_connection_are_counted_each_and_logged_once_a_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Message:
        def __init__(self, fails: bool) -> None:
            self.fails, self.acked = fails, False

        async def ack(self) -> None:
            if self.fails:
                raise nats.errors.ConnectionClosedError
            self.acked = True

    batch = [Message(fails=k >= 2) for k in range(50)]
    with caplog.at_level(logging.WARNING, logger="keepclear"):
        assert asyncio.run(acknowledge_each(batch)) == 48
        assert asyncio.run(acknowledge_each(batch[:2])) == 0
    assert [m.acked for m in batch[:3]] == [True, True, False]
    assert [r.getMessage() for r in caplog.records] == [
        "acknowledging 48 of 50 messages to JetStream failed: ConnectionClosedError()"
    ]


def test_bad_settings_are_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="bus_url"):
        NatsBus(["http://127.0.0.1:4222"])
    with pytest.raises(ValueError, match="bus_replicas"):
        NatsBus(SERVERS, replicas=0)
    with pytest.raises(ValueError, match="bus_outgoing_events"):
        NatsBus(SERVERS, max_outgoing_events=0)


def test_no_server_is_a_connection_error_naming_bus_url() -> None:
    bus = NatsBus(["nats://127.0.0.1:1"], connect_timeout_s=0.5)
    with pytest.raises(ConnectionError, match="bus_url"):
        bus.connect()


def test_without_bus_url_the_deployment_keeps_the_in_process_bus(tmp_path: Path) -> None:
    bus = bus_for(Settings(data_dir=tmp_path))
    assert type(bus) is EventBus and not [name for name in bus.gauges() if name.startswith("bus_")]


def test_a_run_is_cut_where_its_emitter_changes_and_the_emitter_is_a_header_never_in_the_data() -> None:
    """``Event.emitted_by`` (a worker's run mark) goes as a header of its message, which holds events of
    one emitter only; the documents (what parties are handed) never hold it, and reading a message
    puts it back on each of its events."""
    bus = NatsBus(SERVERS)  # connects nothing
    events = [raised_alert(k, mark) for k, mark in enumerate(MARKS)]
    messages = bus._messages(events)
    assert [(m.events, m.emitted_by) for m in messages] == [(2, MARKS[0]), (1, MARKS[2]), (1, None)]
    headers = [m.headers(bus.origin) for m in messages]
    assert [h.get(EMITTED_BY_HEADER) for h in headers] == [MARKS[0], MARKS[2], None]
    assert not any(b"w0of2" in m.data or b"w1of2" in m.data for m in messages)
    back = [e for m, h in zip(messages, headers, strict=True) for e in events_of_message(m.data, h)]
    assert [(e.id, e.emitted_by) for e in back] == [(e.id, e.emitted_by) for e in events]
    assert back == events  # the mark is not part of an event's identity


def test_the_bus_across_processes_shows_every_buffer_it_holds() -> None:
    """Its gauges replaced the in-process bus's: on a bus_url deployment /v1/metrics had no
    ``events_held`` (events held for subscribers through a store outage, up to 200,000) nor their
    drops, and the ids remembered to drop repeats had no gauge at all."""
    bus = NatsBus(SERVERS, seen_ids=3)  # the constructor connects nothing
    gauges = bus.gauges()
    for name in ("events_held", "events_held_dropped_total", "bus_outgoing_events", "bus_outgoing_limit"):
        assert gauges[name]() == 0 or name == "bus_outgoing_limit", name
    bus._remember(marker(1))
    bus._remember(marker(2))
    assert gauges["bus_seen_ids"]() == 2 and gauges["bus_seen_ids_limit"]() == 3
    for k in range(3, 10):
        bus._remember(marker(k))
    assert gauges["bus_seen_ids"]() == 3


def test_only_remote_subscribers_are_given_other_processes_events() -> None:
    bus = EventBus()
    local, remote = Received(), Received()
    bus.subscribe_batches(local)
    bus.subscribe_batches(remote, remote=True)
    bus.publish([marker(1)])
    bus.deliver_remote([marker(2)])
    assert [e.payload["n"] for e in local.events] == [1]
    assert [e.payload["n"] for e in remote.events] == [1, 2]


# -- on the cluster -----------------------------------------------------------------------
@pytest.fixture
def two_processes(running_cluster: dict[str, str], postgres_url: str, tmp_path: Path) -> Iterator[list[Deployment]]:
    """Two deployments on one PostgreSQL database, each with its own bus on the cluster."""
    clock = ManualClock(1509494400.0)
    settings = [
        Settings(data_dir=tmp_path / name, database_url=postgres_url, bus_url=",".join(SERVERS)) for name in ("a", "b")
    ]
    first = Deployment.open(settings[0], clock=clock, create=True)
    second = Deployment.open(settings[1], clock=clock)
    try:
        yield [first, second]
    finally:
        first.close()
        second.close()


def nats_bus(dep: Deployment) -> NatsBus:
    assert isinstance(dep.bus, NatsBus)
    return dep.bus


def test_an_event_of_one_process_reaches_the_others_subscribers_once(two_processes: list[Deployment]) -> None:
    a, b = two_processes
    runtime_b = Runtime(b)
    on_b, on_a = Received(), Received()
    b.bus.subscribe_batches(on_b, remote=True)
    a.bus.subscribe_batches(on_a, remote=True)

    a.registry.add_party(Party("a", "Alpha"))
    a.registry.add_force(Force("fa", "Alpha air", "a"))
    a.registry.add_unit(Unit("ua", "ALPHA1", Domain.AIR, "fighter", "fa"))
    # B's unit directory learns the unit A registered, from the bus (B never read the store for it).
    assert wait_until(lambda: runtime_b.directory.lookup("ua") is not None)
    assert runtime_b.directory.lookup("ua") == ("a", Domain.AIR)
    kinds = [e.kind for e in on_b.wait_for(3)]
    assert kinds == [EventKind.PARTY_ADDED, EventKind.FORCE_ADDED, EventKind.UNIT_ADDED]

    # An event without a wire form (a NaN) is delivered here only, counted, and blocks nothing after it.
    failures = nats_bus(a).bus_failures_total
    a.bus.publish([Event(EventKind.FORCE_ADDED, 1.0, "a", {"n": float("nan")}, frozenset({"a"}))])
    assert nats_bus(a).bus_failures_total == failures + 1 and math.isnan(on_a.events[-1].payload["n"])

    # A publish retried with the same id (its acknowledgement lost, say) is stored and delivered once.
    event = marker(1)
    a.bus.publish([event])
    a.bus.publish([event])
    # The same event in the stream twice (a redelivery, another publisher's id): delivered once.
    asyncio.run(publish_raw(event, msg_id="another-id"))
    assert wait_until(lambda: nats_bus(b).duplicates_dropped_total >= 1)
    time.sleep(0.5)  # anything more would arrive by now
    assert [e.id for e in on_b.events].count(event.id) == 1
    assert nats_bus(a).delivered_total == 0  # a process is never given its own events back
    # 4 events; the repeat is sent again unless it met the first in one window (then it goes once)
    assert wait_until(lambda: nats_bus(a).outgoing_events == 0) and nats_bus(a).published_total >= 4
    counters = runtime_b.counters()  # what /v1/metrics shows
    assert counters["bus_delivered_total"] == 4 and counters["bus_duplicates_dropped_total"] == 1


def test_a_hotline_message_whose_event_never_crossed_is_found_in_the_store_by_the_other_process(
    two_processes: list[Deployment],
) -> None:
    """A's message whose ``message.posted`` reached B is heard there, and B's look in the store wakes
    nothing for it; one committed by A whose event never went out (A killed between its commit and
    its publish: here posted on a bus of its own) is found by B's look, every 5 s with a bus."""
    a, b = two_processes
    clock = a.clock
    assert isinstance(clock, ManualClock)
    runtime_a, runtime_b = Runtime(a), Runtime(b)
    try:
        for party in ("c", "r"):
            a.registry.add_party(Party(party, party.upper()))
        thread = runtime_a.hotline.create_thread("c", ["r"], "crossing")
        runtime_b.tick()  # the first look
        delivered = nats_bus(b).delivered_total
        runtime_a.hotline.post("c", "Maj C", Draft(thread.id, MessageKind.TEXT, "via-bus-0001", body="x"))
        assert wait_until(lambda: nats_bus(b).delivered_total > delivered)
        clock.advance(HOTLINE_WATCH_WITH_BUS_S)
        runtime_b.tick()
        assert runtime_b.counters()["hotline_store_watch_woken_total"] == 0  # the bus brought it
        dead_a = HotlineService(a.db, clock, EventBus(), runtime_a.hotline.phrases)
        dead_a.post("r", "Maj R", Draft(thread.id, MessageKind.TEXT, "lost-0001", body="y"))
        clock.advance(HOTLINE_WATCH_WITH_BUS_S / 2)
        runtime_b.tick()
        assert runtime_b.counters()["hotline_store_watch_woken_total"] == 0  # not yet: within the 5 s
        clock.advance(HOTLINE_WATCH_WITH_BUS_S / 2)
        runtime_b.tick()
        assert runtime_b.counters()["hotline_store_watch_woken_total"] == 1
    finally:  # the roles the ticks took: their PostgreSQL sessions closed
        runtime_a.stop()
        runtime_b.stop()


async def publish_raw(event: Event, *, msg_id: str, data: bytes | None = None) -> None:
    nc = await nats.connect(servers=SERVERS)
    try:
        js = nc.jetstream(timeout=2.0)
        body = event_to_json(event).encode() if data is None else data
        headers = {"Nats-Msg-Id": msg_id}
        await until_answered(lambda: js.publish(subject_of(event), body, stream=STREAM, headers=headers), soon())
    finally:
        await nc.close()


async def stream_messages() -> int:
    nc = await nats.connect(servers=SERVERS)
    try:
        info = await until_answered(lambda: nc.jetstream(timeout=2.0).stream_info(STREAM), soon())
        assert info.state is not None
        return int(info.state.messages)
    finally:
        await nc.close()


def test_a_stopped_runtime_takes_no_role_again_on_a_tick_that_outlived_its_stop(
    two_processes: list[Deployment],
) -> None:
    """``stop`` waits a while for the tick thread, then gives the roles up; a tick still running (or
    driven after) must not take them again on a new session, which nothing would close."""
    a, _ = two_processes
    runtime = Runtime(a)
    sessions = [lead for lead in runtime.leaders.values() if isinstance(lead, PostgresLeadership)]
    assert sessions, "the scale-out mode leads its roles through advisory locks"
    runtime.tick()
    assert any(lead.backend_pid is not None for lead in sessions)
    runtime.start()
    runtime.stop()
    assert [lead.backend_pid for lead in sessions] == [None] * len(sessions)
    runtime.tick()  # the straggler
    assert [lead.backend_pid for lead in sessions] == [None] * len(sessions)
    assert not any(lead.held for lead in sessions)


def test_a_run_of_events_goes_as_one_message_and_arrives_in_order_once(two_processes: list[Deployment]) -> None:
    """A run of one kind published together is one message on the stream (a batch document), handed
    over in order; a batch that repeats an event already delivered hands over only the new ones."""
    a, b = two_processes
    on_b = Received()
    b.bus.subscribe_batches(on_b, remote=True)
    before = asyncio.run(stream_messages())
    run = [marker(100 + k) for k in range(100)]
    a.bus.publish_nowait(run)
    assert [e.id for e in on_b.wait_for(100)] == [e.id for e in run]
    assert asyncio.run(stream_messages()) == before + 1
    fresh = marker(1000)
    asyncio.run(publish_raw(fresh, msg_id="batch-by-hand", data=events_to_json([run[-1], fresh]).encode()))
    assert [e.id for e in on_b.wait_for(101)][100:] == [fresh.id]
    time.sleep(0.5)  # anything more would arrive by now
    assert len(on_b.events) == 101 and nats_bus(b).duplicates_dropped_total == 1


async def alert_messages() -> list[tuple[dict[str, str], bytes]]:
    """Every alert message on the event stream: its headers and data, as any reader of the stream gets them."""
    nc = await nats.connect(servers=SERVERS)
    try:
        config = js_api.ConsumerConfig(deliver_policy=js_api.DeliverPolicy.ALL, ack_policy=js_api.AckPolicy.NONE)
        js = nc.jetstream(timeout=2.0)
        pull = await until_answered(
            lambda: js.pull_subscribe("keepclear.events.alert.>", stream=STREAM, config=config), soon()
        )
        out: list[tuple[dict[str, str], bytes]] = []
        while True:
            try:
                messages = await pull.fetch(64, timeout=1.0)
            except nats.errors.TimeoutError:
                return out
            out += [(dict(m.headers or {}), m.data) for m in messages]
    finally:
        await nc.close()


def test_what_emitted_an_alert_reaches_the_others_and_a_reading_back_of_the_stream_in_a_header_only(
    running_cluster: dict[str, str],
) -> None:
    """A worker's run mark on its alert events reaches another process with each event, and a worker
    reading the stream back at its start (``recent_alert_events``) gets it too; the stored data of
    the messages never holds it."""
    a = NatsBus(SERVERS).connect()
    b = NatsBus(SERVERS).connect()
    try:
        on_b = Received()
        b.subscribe_batches(on_b, remote=True)
        events = [raised_alert(k, mark) for k, mark in enumerate(MARKS)]
        a.publish_nowait(events)
        expected = [(e.id, e.emitted_by) for e in events]
        assert [(e.id, e.emitted_by) for e in on_b.wait_for(len(events))] == expected
        back = retrying(lambda: b.call(lambda nc: recent_alert_events(nc, time.time() - 600)).result(timeout=30))
        assert [(e.id, e.emitted_by) for e in back] == expected
        stored = asyncio.run(alert_messages())
        assert [h.get(EMITTED_BY_HEADER) for h, _ in stored] == [MARKS[0], MARKS[2], None]
        assert not any(b"w0of2" in data or b"w1of2" in data for _, data in stored)
    finally:
        a.close()
        b.close()


class LateOnce:
    """A pull subscription whose first fetch times out before anything is taken, as one on a loaded
    server does; the rest go to the real one."""

    def __init__(self, pull: Any) -> None:
        self.pull = pull
        self.late = True

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        if self.late:
            self.late = False
            raise nats.errors.TimeoutError
        return list(await self.pull.fetch(batch, timeout=timeout))

    async def consumer_info(self) -> Any:
        return await self.pull.consumer_info()


def test_reading_alerts_back_goes_on_past_a_late_answer_and_stops_once_nothing_is_pending(
    running_cluster: dict[str, str],
) -> None:
    """A worker reading the held alerts back at its start gets all of them although a fetch timed
    out first (it would otherwise raise again alerts others hold), and an empty reading ends."""
    a = NatsBus(SERVERS).connect()
    try:
        events = [raised_alert(k, mark) for k, mark in enumerate(MARKS)]
        a.publish_nowait(events)
        assert a.wait_sent(DRILL_S)

        async def read(subject: str) -> list[Event]:
            nc = await nats.connect(servers=SERVERS)
            try:
                js = nc.jetstream(timeout=2.0)
                config = js_api.ConsumerConfig(ack_policy=js_api.AckPolicy.NONE)
                pull = await until_answered(lambda: js.pull_subscribe(subject, stream=STREAM, config=config), soon())
                return await drain_alert_events(LateOnce(pull), 1000, stall_s=DELIVERY_S)
            finally:
                await nc.close()

        assert [e.id for e in asyncio.run(read("keepclear.events.alert.>"))] == [e.id for e in events]
        assert asyncio.run(read("keepclear.events.nothing.>")) == []
    finally:
        a.close()


async def steal_one(durable: str, timeout_s: float = DELIVERY_S) -> int | None:
    """Fetch one message from ``durable`` (another process's consumer) and drop it unacknowledged, as
    a fetch whose answer is lost on the way (a node killed, a reconnect): the marker number it held."""
    nc = await nats.connect(servers=SERVERS)
    try:
        js = nc.jetstream(timeout=2.0)
        pull = await until_answered(lambda: js.pull_subscribe_bind(durable=durable, stream=STREAM), soon())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                messages = await pull.fetch(1, timeout=0.2)
            except Exception as exc:  # a loaded server answers a pull late or with a passing status
                if passing(exc) or isinstance(exc, js_errors.APIError):
                    continue
                raise
            if messages:
                return int(events_from_json(messages[0].data)[0].payload["n"])
        return None
    finally:
        await nc.close()


def test_a_message_lost_on_its_way_comes_again_and_later_acknowledgements_do_not_cover_it(
    running_cluster: dict[str, str],
) -> None:
    """The server sent a message into a fetch whose answer never arrived: the process acknowledges the
    later messages it did get, and the lost one still comes (after the ack wait), once."""
    a = NatsBus(SERVERS, ack_wait_s=1.0).connect()
    b = NatsBus(SERVERS, ack_wait_s=1.0).connect()
    try:
        on_b = Received()
        b.subscribe_batches(on_b, remote=True)
        stolen: list[int | None] = []
        failed: list[BaseException] = []

        def steal() -> None:
            try:
                stolen.append(asyncio.run(steal_one(f"keepclear-{b.origin}")))
            except Exception as exc:  # said by the assertion below, not lost in a thread
                failed.append(exc)

        thief = threading.Thread(target=steal)
        thief.start()
        sent = 0
        while thief.is_alive():  # until one went astray
            a.publish_nowait([marker(sent)])
            sent += 1
            time.sleep(0.01)
        for _ in range(10):  # then more, that b receives and acknowledges
            a.publish_nowait([marker(sent)])
            sent += 1
        assert not failed, f"the thief could not fetch: {failed[0]!r}"
        assert stolen and stolen[0] is not None and stolen[0] < sent - 10
        received = on_b.wait_for(sent, DELIVERY_S)
        time.sleep(1.5)  # past another ack wait: nothing more may come
        ns = sorted(e.payload["n"] for e in on_b.events)
        assert ns == list(range(sent)), f"missing {sorted(set(range(sent)) - set(ns))}, stolen {stolen[0]}"
        assert len(received) == sent
    finally:
        a.close()
        b.close()


def test_a_feed_consumer_left_acknowledging_all_is_made_again_acknowledging_each(
    running_cluster: dict[str, str],
) -> None:
    """A worker's durable consumer made by an older build ("all up to" acknowledgements) is made again
    with explicit ones when the worker starts, and the worker takes the reports published after."""
    bus = NatsBus(SERVERS).connect()
    taken: list[ReportColumns] = []
    subjects = [f"{TRACK_PREFIX}.7"]
    feed = TrackFeed(bus, "older", subjects, taken.extend).start()
    feed.stop()

    async def make_old(nc: Any) -> None:
        js = nc.jetstream(timeout=5.0)
        await until_answered(lambda: js.delete_consumer(TRACK_STREAM, feed.durable), soon())
        old = js_api.ConsumerConfig(
            durable_name=feed.durable, filter_subjects=subjects, ack_policy=js_api.AckPolicy.ALL
        )
        await until_answered(lambda: js.add_consumer(TRACK_STREAM, old), soon())

    async def policy(nc: Any) -> js_api.AckPolicy | None:
        js = nc.jetstream(timeout=5.0)
        info = await until_answered(lambda: js.consumer_info(TRACK_STREAM, feed.durable), soon())
        return info.config.ack_policy

    async def publish(nc: Any) -> None:
        js = nc.jetstream(timeout=5.0)
        await until_answered(lambda: js.publish(subjects[0], reports_to_bytes(report)), soon())

    values = np.zeros((1, 7))
    values[0, :4] = 1_800_000_000.0, 35.0, 36.0, 7_000.0
    report = ReportColumns(["u1"], values, ["a"], [Domain.AIR])
    again: TrackFeed | None = None
    try:
        bus.call(make_old).result(timeout=DRILL_S)
        assert bus.call(policy).result(timeout=DRILL_S) == js_api.AckPolicy.ALL
        again = TrackFeed(bus, "older", subjects, taken.extend).start()
        assert bus.call(policy).result(timeout=DRILL_S) == js_api.AckPolicy.EXPLICIT
        bus.call(publish).result(timeout=DRILL_S)
        assert wait_until(lambda: bool(taken))
        assert taken[0].unit_ids == ["u1"] and np.array_equal(taken[0].values, values)
    finally:
        if again is not None:
            again.stop()
        bus.close()


async def stream_leader() -> str:
    nc = await nats.connect(servers=SERVERS)
    try:
        info = await until_answered(lambda: nc.jetstream(timeout=2.0).stream_info(STREAM), soon())
        assert info.cluster is not None and info.cluster.leader is not None
        return info.cluster.leader
    finally:
        await nc.close()


def test_kill_9_of_a_node_while_publishing_loses_and_repeats_nothing(
    running_cluster: dict[str, str], two_processes: list[Deployment]
) -> None:
    a, b = two_processes
    on_b = Received()
    b.bus.subscribe_batches(on_b, remote=True)
    count = 400
    a.bus.publish([marker(0)])
    assert on_b.wait_for(1)
    leader = asyncio.run(stream_leader())

    def publish_all() -> None:
        for k in range(1, count):
            a.bus.publish_nowait([marker(k)])
            time.sleep(0.005)

    t0 = time.monotonic()
    publisher = threading.Thread(target=publish_all)
    publisher.start()
    time.sleep(0.5)
    killed = cluster("kill", leader.removeprefix("n"), env=running_cluster)
    t_kill = time.monotonic()
    assert killed.returncode == 0, killed.stderr
    publisher.join()
    received = on_b.wait_for(count, DRILL_S)
    ns = sorted(e.payload["n"] for e in received)
    assert ns == list(range(count)), f"missing {sorted(set(range(count)) - set(ns))[:10]}, {len(ns)} received"
    # b may read a message off the stream before a has its acknowledgement (the first one went down
    # with the killed leader, the one for the repeat is on its way): a's queue empties after
    assert nats_bus(a).wait_sent(DRILL_S), f"{nats_bus(a).outgoing_events} events never acknowledged"
    assert nats_bus(a).outgoing_dropped_total == 0
    print(
        json.dumps(
            {
                "events": count,
                "killed": leader,
                "all_delivered_after_kill_s": round(time.monotonic() - t_kill, 2),
                "drill_s": round(time.monotonic() - t0, 2),
                "publish_failures_retried": nats_bus(a).bus_failures_total,
                "duplicates_dropped_on_b": nats_bus(b).duplicates_dropped_total,
            }
        )
    )


def test_events_published_while_every_node_is_down_go_once_the_nodes_are_back(
    running_cluster: dict[str, str], two_processes: list[Deployment]
) -> None:
    """An outage long enough for the retries to fill the client's reconnect buffer (2 MB) many times
    over: nats-py's ``publish_async`` keeps a pending-acknowledgement slot for each publish its
    client refused then, and with all of its 4,000 slots kept no publish ever went again."""
    a, b = two_processes
    on_b = Received()
    b.bus.subscribe_batches(on_b, remote=True)
    a.bus.publish([marker(0)])
    assert on_b.wait_for(1)
    for node in ("1", "2", "3"):
        killed = cluster("kill", node, env=running_cluster)
        assert killed.returncode == 0, killed.stderr
    count = 600  # 12 kB each, one message each (the emitter alternates): 7 MB in all
    events = [
        dataclasses.replace(
            marker(k), payload={"force_id": f"f{k}", "n": k, "pad": "x" * 12_000}, emitted_by=f"m{k % 2}"
        )
        for k in range(1, count)
    ]
    a.bus.publish_nowait(events)
    time.sleep(8.0)  # every node down: the sender tries again and again
    up = cluster("up", "--no-keepclear", env=running_cluster)
    assert up.returncode == 0, up.stdout + up.stderr
    assert nats_bus(a).wait_sent(DRILL_S), f"{nats_bus(a).outgoing_events} events never acknowledged"
    received = on_b.wait_for(count, DRILL_S)
    ns = sorted(e.payload["n"] for e in received)
    assert ns == list(range(count)), f"missing {sorted(set(range(count)) - set(ns))[:10]}, {len(ns)} received"
