"""Alert ids tell a party nothing of other parties' alerts (need to know: traffic analysis).

A party sees the ids of its own alerts. Were they counted (``alert-000007``), the gap between two of
them would tell it how many alerts other pairs had in between, and when. An id is its book's prefix
and ``ALERT_ID_BITS`` fresh random bits: given the bits its own alerts draw, a party's view is the
same whether or not other pairs had alerts; the bits being independent uniform draws, its ids have
the same distribution either way. Nor does an id say who raised it: a detector worker's book names
its share and run on its events (``emitted_by``, carried where no party reads it), never in an id.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Iterator

import numpy as np

from keepclear.detect.alerts import ALERT_ID_BITS, AlertBook, candidate_settings
from keepclear.detect.minima import ProbeSettings
from keepclear.detect.probe import probe
from keepclear.detect.states import TrackStates
from keepclear.domain.event_wire import event_to_json
from keepclear.domain.events import Event
from keepclear.domain.ids import RandomBits

PARTIES = ["coalition", "russia", "un-ocha"]
#: An encounter: (unit of the first party, unit of the second, their party codes, latitude and
#: longitude of the meeting point, half the distance between them at t=0 in metres). Head on at
#: 200 m/s each, east and west, co-altitude.
Encounter = tuple[str, str, int, int, float, float, float]
#: Coalition's two encounters: raised about 100 s apart.
OWN: list[Encounter] = [("c-1", "r-1", 0, 1, 30.0, 36.0, 20_000.0), ("c-2", "r-2", 0, 1, 31.0, 36.0, 40_000.0)]
#: Other pairs' encounters (russia and the UN), raised in between: a degree of latitude apart each.
OTHERS: list[Encounter] = [(f"u-{k}", f"x-{k}", 2, 1, 32.0 + k, 36.0, 24_000.0 + 3_000.0 * k) for k in range(5)]
PATTERN = re.compile(rf"^alert-[0-9a-f]{{{ALERT_ID_BITS // 4}}}$")


def states(encounters: list[Encounter], t: float) -> TrackStates:
    """Every encounter's two units at ``t``, each reported at ``t``."""
    ids, party, lat, lon, east = [], [], [], [], []
    for unit_a, unit_b, party_a, party_b, lat_deg, lon_deg, half_m in encounters:
        x_deg = (half_m - 200.0 * t) / 111_320.0 / np.cos(np.radians(lat_deg))
        ids += [unit_a, unit_b]
        party += [party_a, party_b]
        lat += [lat_deg, lat_deg]
        lon += [lon_deg - x_deg, lon_deg + x_deg]
        east += [200.0, -200.0]
    n = len(ids)
    return TrackStates(
        tuple(ids),
        np.array(party),
        np.zeros(n, dtype=np.int64),
        np.full(n, t),
        np.array(lat),
        np.array(lon),
        np.full(n, 9000.0),
        np.array(east),
        np.zeros(n),
        np.zeros(n),
    )


def run(
    encounters: list[Encounter], random_bits: RandomBits, seconds: int = 260, emitted_by: str | None = None
) -> list[Event]:
    book = AlertBook(random_bits=random_bits, emitted_by=emitted_by)
    wide = candidate_settings(book.settings, ProbeSettings())
    events: list[Event] = []
    for step in range(seconds):
        t = float(step)
        s = states(encounters, t)
        events += book.update(t, s, probe(s, t, wide), PARTIES)
    return events


def drawn(values: list[int]) -> RandomBits:
    """A source that gives ``values`` in turn (of ``ALERT_ID_BITS`` bits each)."""
    supply: Iterator[int] = iter(values)

    def random_bits(bits: int) -> int:
        assert bits == ALERT_ID_BITS
        return next(supply)

    return random_bits


def raised(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == "alert.raised"]


def test_an_alert_id_is_alert_and_one_draw_of_random_bits_and_nothing_else() -> None:
    draws = random.Random(11)
    taken: list[int] = []

    def recording(bits: int) -> int:
        taken.append(draws.getrandbits(bits))
        return taken[-1]

    events = run(OWN + OTHERS, recording)
    assert [e.payload["alert_id"] for e in raised(events)] == [f"alert-{value:020x}" for value in taken]
    assert len(taken) == len(OWN) + len(OTHERS)


def test_a_partys_view_is_the_same_with_or_without_other_pairs_alerts_between_its_own() -> None:
    """Coalition's two alerts drawing the same bits in a world without other alerts and in one where
    five pairs of other parties raise alerts between them: coalition's events are the same, ids
    included. Its ids depend on its own draws alone, so with fresh random draws (the default) they
    are distributed alike in both worlds: nothing in them counts the others."""
    own_bits, other_bits = random.Random(5), random.Random(6)
    first, second = own_bits.getrandbits(ALERT_ID_BITS), own_bits.getrandbits(ALERT_ID_BITS)
    alone = run(OWN, drawn([first, second]))
    others = [other_bits.getrandbits(ALERT_ID_BITS) for _ in OTHERS]
    busy = run(OWN + OTHERS, drawn([first, *others, second]))
    # In the busy world the others' alerts are raised between coalition's two.
    assert [e.payload["unit_a"][0] for e in raised(busy)] == ["c", *"u" * len(OTHERS), "c"]

    def seen_by_coalition(events: list[Event]) -> list[Event]:
        return [e for e in events if "coalition" in e.parties]

    assert seen_by_coalition(busy) == seen_by_coalition(alone)
    assert len(raised(seen_by_coalition(alone))) == 2


def test_ids_are_unpredictable_random_bits_not_in_the_order_raised() -> None:
    """Fifty pairs raised in one tick (default source: the operating system's): every id has the
    same shape, none repeats, and sorting them does not give the order they were raised in."""
    grid: list[Encounter] = [
        (f"a-{k:02d}", f"b-{k:02d}", 0, 1, 20.0 + k // 10, 30.0 + k % 10, 20_000.0) for k in range(50)
    ]
    ids = [e.payload["alert_id"] for e in raised(run(grid, secrets.randbits, seconds=60))]
    assert len(ids) == 50 and len(set(ids)) == 50
    assert all(PATTERN.match(alert_id) for alert_id in ids), ids[:3]
    assert sorted(ids) != ids


def test_a_workers_book_makes_the_same_ids_and_documents_as_an_embedded_one_its_mark_aside() -> None:
    """A detector worker's book (``emitted_by``: its share and run) drawing the same bits as an
    embedded one: the same ids, payloads, event ids and wire documents, of the embedded shape; the
    mark is on its events only, in nothing a party is shown."""
    mark = "w1of2-0of3/0a1b2c3d4e5f6071"
    embedded = run(OWN, random.Random(1).getrandbits)
    worker = run(OWN, random.Random(1).getrandbits, emitted_by=mark)
    assert raised(worker) and [e.payload for e in worker] == [e.payload for e in embedded]
    assert [e.id for e in worker] == [e.id for e in embedded]
    assert [event_to_json(e) for e in worker] == [event_to_json(e) for e in embedded]
    assert all(PATTERN.match(e.payload["alert_id"]) for e in worker)
    assert {e.emitted_by for e in worker} == {mark} and {e.emitted_by for e in embedded} == {None}
    assert not any("w1of2" in event_to_json(e) or "0a1b2c3d" in event_to_json(e) for e in worker)
