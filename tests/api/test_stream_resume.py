"""Where a reconnecting SSE client resumes (``StreamHub._missed``), against a scan of the party's ring.

The hub finds the resume point by a map of tags and an index (its rings' places are consecutive);
the oracle below is the plain reading of the rule: after the oldest copy of the tag in the party's
own ring (in one process), or with the events that arrived within the margin before it too (across
processes); ``0`` is everything kept; anything else (made up, another party's, older than the ring,
not an id at all) is reload, and across processes a well-formed tag not kept is "not here yet".
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.api.streams import StreamHub, _Item
from keepclear.domain.events import Event


def oracle(ring: Sequence[_Item], across: bool, margin_s: float, last_event_id: str | None) -> object:
    """The resume rule by scanning every item of the party's ring."""
    if last_event_id is None:
        return [], False
    if last_event_id == "0":
        return list(ring), bool(ring) and ring[0].seq > 1
    well_formed = re.fullmatch(r"[0-9a-f]{16}", last_event_id) is not None
    point = next((item for item in ring if item.tag == last_event_id), None)
    if point is None:
        return None if across and well_formed else ([], True)
    if not across:
        return [i for i in ring if i.seq > point.seq], False
    since_s = point.arrived_s - margin_s
    return [i for i in ring if i.seq > point.seq or (i.arrived_s >= since_s and i.seq < point.seq)], False


def _event(n: int, parties: str) -> Event:
    return Event("alert.raised", 1_700_000_000.0 + n, None, {"alert_id": f"alert-{n}"}, frozenset(parties))


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["a", "b", "ab"])), min_size=1, max_size=12),
        min_size=1,
        max_size=12,
    ),
    ring_size=st.integers(1, 40),
    across=st.booleans(),
    margin_s=st.sampled_from([0.0, 1e-6, 2.0]),
    asks=st.lists(st.tuples(st.integers(0, 200), st.booleans()), min_size=1, max_size=10),
)
def test_the_resume_point_is_the_one_a_scan_of_the_ring_finds(
    batches: list[list[tuple[int, str]]], ring_size: int, across: bool, margin_s: float, asks: list[tuple[int, bool]]
) -> None:
    hub = StreamHub(ring_size=ring_size, across_processes=across, resume_margin_s=margin_s)
    for batch in batches:  # the same event may come twice (several copies of a tag)
        hub.on_events([_event(n, parties) for n, parties in batch])
    ring_a = list(hub._rings["a"].items) if "a" in hub._rings else []
    ring_b = list(hub._rings["b"].items) if "b" in hub._rings else []
    ids: list[str | None] = [None, "0", "junk", "12-zz", "0123456789abcdef", "17"]
    for place, from_b in asks:
        ring = ring_b if from_b else ring_a  # a's own ids, and ids from b's stream
        if ring:
            ids.append(ring[place % len(ring)].tag)
    for last_event_id in ids:
        assert hub._missed("a", last_event_id) == oracle(ring_a, across, margin_s, last_event_id), last_event_id


def _large(n: int, size: int) -> Event:
    return Event(
        "alert.raised", 1_700_000_000.0 + n, None, {"alert_id": f"alert-{n}", "pad": "x" * size}, frozenset("a")
    )


def test_a_partys_ring_is_bounded_in_bytes_as_well_as_in_events() -> None:
    """The ring kept the last 10,000 events a party was shown whatever their size: events of a
    megabyte each (an activity's geometry in its view) made one party's ring hold gigabytes. It keeps
    at most ``ring_bytes`` of their text now, the oldest leaving first; a resume from one gone is
    told to reload, as from any point older than the ring."""
    hub = StreamHub(ring_size=10_000, ring_bytes=100_000)
    hub.on_events([_large(0, 10)])
    first = hub._rings["a"].items[0].tag
    for n in range(1, 40):
        hub.on_events([_large(n, 10_000)])
    ring = hub._rings["a"]
    assert ring.text_bytes == sum(len(item.text) for item in ring.items) <= 100_000
    assert 5 <= len(ring.items) < 10  # the newest that fit
    assert hub.gauges()["stream_ring_bytes"]() == ring.text_bytes
    assert hub._missed("a", first) == ([], True)
    missed, reload = hub._missed("a", ring.items[0].tag)
    assert [item.seq for item in missed] == [item.seq for item in list(ring.items)[1:]] and not reload
    hub.on_events([_large(99, 500_000)])  # one larger than the bound alone is still kept, alone
    assert len(hub._rings["a"].items) == 1


def test_a_connections_backlog_is_bounded_in_bytes_as_well_as_in_events() -> None:
    """A client that does not read is cut once its waiting events pass ``backlog_bytes``, not only
    ``backlog_events``: large events held 10,000 times their size per connection."""
    hub = StreamHub(backlog_events=10_000, backlog_bytes=100_000)

    async def drive() -> tuple[int, bool]:
        connected = asyncio.Event()

        async def client() -> None:
            async for text in hub.stream("a", None):
                if "hello" in text:
                    connected.set()
                    await asyncio.Event().wait()  # reads nothing more

        task = asyncio.create_task(client())
        await connected.wait()
        (conn,) = hub._connections
        for n in range(30):
            hub.on_events([_large(n, 10_000)])
        await asyncio.sleep(0.05)  # the events reach the connection's loop
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return conn.backlog.queued_bytes, task.cancelled()

    held, cut = asyncio.run(drive())
    assert cut and hub.cut_total == 1 and held <= 100_000
