"""The geometry one party may write in activities is bounded in rate (``activity_vertices_per_party_per_s``,
bursts of ``activity_vertex_burst``): a second token bucket per party beside the activity writes', one
token for each polygon position and route waypoint notified (a batch all its activities', all or none)
or amended. A liaison posting batches of 15 polygons of 19,000 vertices made the other parties' alerts
arrive ~2 s late (each vertex is checked, viewed, signed and rendered under the GIL); the write bucket
counted activities, not their size. Past the vertex bucket the write is refused before the store is
read, nothing of it stored, its activity write tokens given back; the other parties go on; a retry
under the same ``Idempotency-Key`` takes nothing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from apisupport import Service, counter, running_service
from test_api_activities import air_operation
from test_hotline_post_rate import Monotonic
from test_input_hardening import assert_problem

from keepclear.api.party_rate import ACTIVITY_VERTICES, PartyRate
from keepclear.domain.activities import MAX_VERTICES
from keepclear.settings import Settings

BURST = MAX_VERTICES  # the least the settings allow: the largest activity
PER_S = 1000.0  # a full bucket in 20 s
BIG = 5000  # positions of one large polygon: four fill the bucket


@dataclass
class Rated:
    service: Service
    clock: Monotonic


@pytest.fixture
def rated(tmp_path: Path, database_url: str) -> Iterator[Rated]:
    """On SQLite and on PostgreSQL; the activity write bucket is left far from its bound."""
    clock = Monotonic()
    overrides = {"activity_vertex_burst": BURST, "activity_vertices_per_party_per_s": PER_S}
    with running_service(tmp_path / "data", database_url, clock, **overrides) as service:
        yield Rated(service, clock)


def _ring(positions: int, lon_deg: float) -> list[list[float]]:
    """A closed ring of ``positions`` positions (the last the first) around (``lon_deg``, 35.4)."""
    n = positions - 1
    ring = [
        [lon_deg + 0.05 * math.cos(2 * math.pi * i / n), 35.4 + 0.05 * math.sin(2 * math.pi * i / n)] for i in range(n)
    ]
    return [*ring, ring[0]]


def _big(ident: str, k: int = 0, positions: int = BIG, **changes: Any) -> dict[str, Any]:
    """One of a's activities, one polygon of ``positions`` positions, addressed to b, ``k`` windows apart."""
    volume = {"geometry": {"type": "Polygon", "coordinates": [_ring(positions, 40.0)]}, "lower_ft": 0, "upper_ft": 900}
    return air_operation(start_h=30.0 + 5 * k, id=ident, volumes=[volume], **changes)


def _refused_total(service: Service) -> float:
    return counter(service, "activity_writes_refused_vertices_total")


def _stored(service: Service) -> set[str]:
    return {state.activity.id for state in service.runtime.activities.page(None, None, 100).states}


def test_a_party_past_its_vertex_burst_is_refused_429_nothing_stored_and_the_others_go_on(rated: Rated) -> None:
    service, clock = rated.service, rated.clock
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        for k in range(3):
            assert a.post("/v1/activities", json=_big(f"a-big-{k}", k)).status_code == 201
        # 5,000 left: a polygon of 6,000 is refused, the wait the time until 6,000 are held.
        refused = a.post("/v1/activities", json=_big("a-refused", 3, 6000))
        body = assert_problem(
            refused, 429, "activity_vertices_per_party_per_s: 1000 a second", "activity_vertex_burst: 20000", "1 s"
        )
        assert refused.headers["Retry-After"] == "1", refused.headers
        assert "nothing of it was stored (6000 geometry vertices)" in body["detail"], body
        amended = {"version": 1, "activity": _big("a-big-0", 0, 6000, text="moved")}
        assert_problem(a.post("/v1/activities/a-big-0/amend", json=amended), 429, "activity_vertex_burst")
        # The other party is not held back, by either bucket.
        theirs = {"addressees": ["a"], "units": ["ub"], "contact": "Bravo duty officer"}
        assert b.post("/v1/activities", json=_big("b-big", 40, BURST, **theirs)).status_code == 201
        assert _stored(service) == {"a-big-0", "a-big-1", "a-big-2", "b-big"}
        assert {view["id"]: view["version"] for view in b.get("/v1/activities").json()}["a-big-0"] == 1
        # Small activities still pass: the 5,000 left are a's.
        assert a.post("/v1/activities", json=air_operation(start_h=60.0, id="a-small")).status_code == 201
        clock.now_s += 2.0
        assert a.post("/v1/activities", json=_big("a-refused", 3, 6000)).status_code == 201
    assert _refused_total(service) == 2
    assert counter(service, "activity_writes_refused_rate_total") == 0


def test_a_party_past_its_vertices_is_refused_before_its_documents_are_read(rated: Rated) -> None:
    """The vertex tokens are taken for the positions the documents give, before any is read (reading
    them is most of what a large body costs): past them, a batch holding a document that is not
    valid is refused 429, not judged (422); once tokens are back, its problems are named."""
    service, clock = rated.service, rated.clock
    with service.client("a-liaison") as a:
        for k in range(3):
            assert a.post("/v1/activities", json=_big(f"a-big-{k}", k)).status_code == 201
        bad = _big("a-bad", 5, 6000, kind="not-a-kind")
        batch = {"activities": [_big("a-ok", 4, 10), bad]}
        body = assert_problem(a.post("/v1/activities/batch", json=batch), 429, "activity_vertex_burst")
        assert "nothing of it was stored (6010 geometry vertices)" in body["detail"], body
        clock.now_s += 2.0
        assert_problem(a.post("/v1/activities/batch", json=batch), 422, "activities[1].kind")
        assert _stored(service) == {"a-big-0", "a-big-1", "a-big-2"}
    assert _refused_total(service) == 1


def test_a_batch_is_refused_whole_and_gives_its_activity_writes_back(tmp_path: Path) -> None:
    """The activity write bucket holds 4 and barely refills: the requests the vertex bucket refuses
    give back the writes they took, so a batch of 3 passes after one activity."""
    clock = Monotonic()
    overrides = {
        "activity_vertex_burst": BURST,
        "activity_vertices_per_party_per_s": PER_S,
        "activity_write_burst": 4,
        "activity_writes_per_party_per_s": 0.001,
        "max_activities_per_batch": 3,
    }
    with running_service(tmp_path / "data", None, clock, **overrides) as service, service.client("a-liaison") as a:
        assert a.post("/v1/activities/batch", json={"activities": [_big("a-0", 0, 3 * BIG)]}).status_code == 201
        three = {"activities": [_big(f"a-x-{k}", 1 + k, 2000) for k in range(3)]}  # 6,000, 5,000 held
        refused = a.post("/v1/activities/batch", json=three)
        body = assert_problem(refused, 429, "activity_vertex_burst", "1 s")
        assert "nothing of it was stored (6000 geometry vertices)" in body["detail"], body
        assert _stored(service) == {"a-0"}
        # More than the whole burst in one request could never pass: 422, to be sent in smaller batches.
        huge = {"activities": [_big(f"a-h-{k}", 10 + k, BURST // 2 + 1) for k in range(2)]}
        assert_problem(a.post("/v1/activities/batch", json=huge), 422, "activity_vertex_burst", "smaller batches")
        assert _stored(service) == {"a-0"}
        clock.now_s += 1.0
        # The refused requests took none of the activity writes: the 3 left pass the batch.
        assert a.post("/v1/activities/batch", json=three).status_code == 201
        assert _stored(service) == {"a-0", "a-x-0", "a-x-1", "a-x-2"}
        assert counter(service, "activity_writes_refused_vertices_total") == 1
        assert counter(service, "activity_writes_refused_rate_total") == 0


def test_a_retry_of_an_accepted_write_is_answered_and_takes_nothing(rated: Rated) -> None:
    service = rated.service
    with service.client("a-liaison") as a:

        def keyed(path: str, body: dict[str, Any], key: str) -> httpx.Response:
            return a.post(path, json=body, headers={"Idempotency-Key": key})

        one, batch = _big("a-keyed", 0, 2 * BIG), {"activities": [_big("a-kb-0", 1), _big("a-kb-1", 2)]}
        first = keyed("/v1/activities", one, "notify-0001")
        assert first.status_code == 201, first.text
        assert keyed("/v1/activities/batch", batch, "batch-0001").status_code == 201
        # The bucket is empty: the retries are answered from the stored answers, again and again.
        for _ in range(3):
            for path, body, key in (
                ("/v1/activities", one, "notify-0001"),
                ("/v1/activities/batch", batch, "batch-0001"),
            ):
                again = keyed(path, body, key)
                assert again.status_code == 201, again.text
                assert again.headers.get("Idempotent-Replayed") == "true", again.headers
        assert keyed("/v1/activities", one, "notify-0001").content == first.content
        assert_problem(a.post("/v1/activities", json=_big("a-more", 5, 10)), 429, "activity_vertex_burst")
    assert _refused_total(service) == 1


def test_the_vertex_burst_below_the_largest_activity_is_refused_naming_the_setting(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, activity_vertex_burst=MAX_VERTICES).activity_vertex_burst == MAX_VERTICES
    with pytest.raises(pydantic.ValidationError, match=rf"activity_vertex_burst \({MAX_VERTICES - 1}\) is less than"):
        Settings(data_dir=tmp_path, activity_vertex_burst=MAX_VERTICES - 1)
    for field, refused in (("activity_vertices_per_party_per_s", 0), ("activity_vertices_per_party_per_s", math.nan)):
        with pytest.raises(pydantic.ValidationError, match=field):
            Settings(data_dir=tmp_path, **{field: refused})
    defaults = Settings(data_dir=tmp_path)
    assert (defaults.activity_vertices_per_party_per_s, defaults.activity_vertex_burst) == (2000.0, 200_000)


def test_take_names_the_vertices_of_a_refused_request() -> None:
    clock = Monotonic()
    vertices = PartyRate(per_s=2000.0, burst=200_000, words=ACTIVITY_VERTICES, monotonic=clock)
    assert vertices.take("a", 190_000) is None
    refused = vertices.take("a", 19_000)
    assert refused is not None and refused.retry_after_s == 5
    assert str(refused) == (
        "this party writes activity geometry faster than it may (activity_vertices_per_party_per_s: 2000 a second,"
        " bursts of activity_vertex_burst: 200000); nothing of it was stored (19000 geometry vertices):"
        " send it again in 5 s"
    )
    assert vertices.gauges()["activity_writes_refused_vertices_total"]() == 1
