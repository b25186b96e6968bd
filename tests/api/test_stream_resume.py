"""Where a reconnecting SSE client resumes (``StreamHub._missed``), against a scan of the whole ring.

The hub finds the resume point by index (its ring's numbers are consecutive) and a tag by a map; the
oracle below is the plain reading of the rule: after the point in this process's numbering, or, for
another process's tag, everything after the tag's newest copy and what arrived within the margin
before it; a number older than the ring means reload; a tag the ring does not hold is not known yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.api.streams import StreamHub, _Item
from keepclear.domain.events import Event


def oracle(ring: Sequence[_Item], next_seq: int, margin_s: float, last_event_id: str | None) -> object:
    """The resume rule by scanning every item (what the hub did before it indexed the ring)."""

    found = re.fullmatch(r"(\d{1,18})(?:-([0-9a-f]{12}))?", last_event_id or "")
    if found is None:
        return [], last_event_id is not None
    seq, tag = int(found.group(1)), found.group(2)
    oldest = ring[0].seq if ring else next_seq
    here = next((item for item in ring if item.seq == seq), None) if tag else None
    if tag is None or (here is not None and here.tag == tag):
        return [item for item in ring if item.seq > seq], seq + 1 < oldest
    point = next((item for item in reversed(ring) if item.tag == tag), None)
    if point is None:
        return None
    since_s = point.arrived_s - margin_s
    return [i for i in ring if i.seq > point.seq or (i.arrived_s >= since_s and i.seq != point.seq)], False


def _event(n: int) -> Event:
    return Event("alert.raised", 1_700_000_000.0 + n, None, {"alert_id": f"alert-{n}"}, frozenset({"a", "b"}))


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=12), min_size=1, max_size=12),
    ring_size=st.integers(1, 40),
    margin_s=st.sampled_from([0.0, 1e-6, 2.0]),
    asks=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 30), st.booleans()), min_size=1, max_size=10),
)
def test_the_resume_point_is_the_one_a_scan_of_the_ring_finds(
    batches: list[list[int]], ring_size: int, margin_s: float, asks: list[tuple[int, int, bool]]
) -> None:
    hub = StreamHub(ring_size=ring_size, tagged_ids=True, resume_margin_s=margin_s)
    for batch in batches:  # the same event may come twice (several copies of a tag)
        hub.on_events([_event(n) for n in batch])
    ids: list[str | None] = [None, "junk", "12-zz", str(hub._seq + 5)]
    for seq, n, own_tag in asks:
        tag = _event(n).id[4:16]
        ids += [str(seq), f"{seq}-{tag}"]
        if own_tag and hub._ring:  # a number and tag as this hub wrote them
            item = hub._ring[seq % len(hub._ring)]
            ids.append(f"{item.seq}-{item.tag}")
    for last_event_id in ids:
        expected = oracle(list(hub._ring), hub._seq + 1, margin_s, last_event_id)
        assert hub._missed(last_event_id) == expected, last_event_id
