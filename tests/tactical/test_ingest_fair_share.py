"""The track ingest queue is shared fairly between the parties feeding it (SQLite and PostgreSQL
registries): one party's feed sending as fast as it is answered fills the queue to its limit but
cannot keep another party's feed out, which would leave that party's picture and alerts behind."""

from __future__ import annotations

import time

import numpy as np
import pytest

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.errors import OverloadedError
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.tactical.tracks import IngestLimits, ReportColumns, TrackIngest, UnitDirectory

LIMIT = 1_000  # reports the pump moves within the backlog bound (set through the measured cost below)
PARTIES = ("a", "b", "c")


class _Clock:
    def now_s(self) -> float:
        return time.time()


@pytest.fixture
def ingest(deployment: Deployment) -> TrackIngest:
    reg = deployment.registry
    for party in PARTIES:
        reg.add_party(Party(party, party.upper()))
        reg.add_force(Force(f"f{party}", f"{party} air", party))
        reg.add_unit(Unit(f"u{party}", f"{party.upper()}1", Domain.AIR, "fighter", f"f{party}"))
    ingest = TrackIngest(UnitDirectory(deployment.db), _Clock(), IngestLimits(queue_reports=10 * LIMIT, backlog_s=1.0))
    ingest.record_pump(LIMIT, 1.0)  # 1 ms a report: the backlog bound is LIMIT reports
    assert ingest.backlog_limit_reports == LIMIT
    return ingest


def batch(party: str, reports: int) -> ReportColumns:
    """``reports`` valid reports of ``party``'s unit, now."""
    values = np.tile([time.time(), 35.0, 38.0, 3000.0, 100.0, 0.0, 0.0], (reports, 1))
    return ReportColumns([f"u{party}"] * reports, values)


def fill(ingest: TrackIngest, party: str, reports: int, each: int = 100) -> int:
    """``party`` sends batches of ``each`` until refused or ``reports`` sent: how many were taken."""
    taken = 0
    while taken < reports:
        try:
            ingest.submit(batch(party, each), party)
        except OverloadedError:
            break
        taken += each
    return taken


def test_a_party_alone_fills_the_queue_to_its_limit_and_no_further(ingest: TrackIngest) -> None:
    assert fill(ingest, "a", 10 * LIMIT) == LIMIT
    with pytest.raises(OverloadedError, match=r"behind .*1000 of them this party's"):
        ingest.check_open("a")
    assert ingest.batches_refused_backlog_total >= 1
    assert ingest.queued_per_party_max == LIMIT


def test_another_party_gets_its_share_over_the_limit_of_a_queue_one_party_filled(ingest: TrackIngest) -> None:
    """a filled the queue; b is still taken, up to half of the limit (two parties share it), and
    before its body is read ``check_open`` lets it through while it refuses a."""
    fill(ingest, "a", 10 * LIMIT)
    ingest.check_open("b")
    with pytest.raises(OverloadedError):
        ingest.check_open("a")
    assert fill(ingest, "b", 10 * LIMIT) == LIMIT // 2
    assert ingest.batches_admitted_fair_share_total == (LIMIT // 2) // 100
    with pytest.raises(OverloadedError):
        ingest.submit(batch("a", 1), "a")
    assert ingest.queued == LIMIT + LIMIT // 2


def test_the_shares_shrink_as_more_parties_feed_and_the_queue_stays_within_twice_its_limit(
    ingest: TrackIngest,
) -> None:
    fill(ingest, "a", 10 * LIMIT)
    assert fill(ingest, "b", 10 * LIMIT, each=50) == LIMIT // 2
    third = fill(ingest, "c", 10 * LIMIT, each=50)
    assert third == 300  # a third of the limit (333), in batches of 50
    assert ingest.queued <= 2 * LIMIT


def test_the_queue_is_taken_oldest_first_and_a_party_back_within_its_share_is_taken_again(
    ingest: TrackIngest,
) -> None:
    fill(ingest, "a", 10 * LIMIT)
    fill(ingest, "b", 10 * LIMIT)
    taken = ingest.take(LIMIT // 2 + 50)  # a's oldest reports, b's still waiting
    assert {u for chunk in taken for u in chunk.unit_ids} == {"ua"}
    assert ingest.queued == LIMIT - 50 and ingest.queued_per_party_max == LIMIT // 2  # b's 500, a's 450
    assert fill(ingest, "a", 10 * LIMIT, each=10) == 50  # up to the limit, no further (a holds its share)
    rest = ingest.drain()
    units = [u for chunk in rest for u in chunk.unit_ids]
    assert units == ["ua"] * (LIMIT // 2 - 50) + ["ub"] * (LIMIT // 2) + ["ua"] * 50  # as they came
    assert ingest.queued == 0 and ingest.queued_per_party_max == 0


def test_an_empty_queue_takes_any_batch_within_the_memory_bound(ingest: TrackIngest) -> None:
    ingest.submit(batch("a", 3 * LIMIT), "a")  # past the backlog bound: feeds always make progress
    assert ingest.queued == 3 * LIMIT
    with pytest.raises(OverloadedError):
        ingest.submit(batch("b", 1), "b")  # a holds three times the limit: the queue is past twice it
