"""The activities one party may write are bounded in rate (``activity_writes_per_party_per_s``,
bursts of ``activity_write_burst``): one token bucket per party, all its keys together, one token
an activity notified (a batch one for each of its activities, all or none), amended or cancelled.
Past it the write is refused before the store is read and nothing of it stored (no activity, no
event on the other party's stream, no record entry); the other parties go on; a retry under the
same ``Idempotency-Key`` takes nothing; once refilled (the API's monotonic clock, moved by the test)
the party writes again. Acknowledging, objecting, activating, completing and keepclear's own writes
never count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import sqlalchemy as sa
from apisupport import Service, another_liaison_key, counter, running_service
from nksupport import stream_once
from test_api_activities import air_operation
from test_hotline_post_rate import Monotonic, _until
from test_input_hardening import assert_problem

from keepclear.api.party_rate import ACTIVITY_WRITES, INCIDENT_REPORTS, PartyRate
from keepclear.geo.activity_doc import activity_from_document
from keepclear.settings import Settings
from keepclear.store.ledger import ledger_entries

BURST = 5
BATCH = 3  # max_activities_per_batch: at most the burst
PER_S = 0.25  # a token every 4 s


@dataclass
class Rated:
    """A real server whose parties may write ``BURST`` activities at once, then one every 4 s, and its clock."""

    service: Service
    clock: Monotonic


@pytest.fixture
def rated(tmp_path: Path, database_url: str) -> Iterator[Rated]:
    """On SQLite and on PostgreSQL."""
    clock = Monotonic()
    overrides = {
        "activity_write_burst": BURST,
        "activity_writes_per_party_per_s": PER_S,
        "max_activities_per_batch": BATCH,
    }
    with running_service(tmp_path / "data", database_url, clock, **overrides) as service:
        yield Rated(service, clock)


def _a(ident: str, k: int = 0) -> dict[str, Any]:
    """One of a's activities, addressed to b, ``k`` windows apart from the others."""
    return air_operation(start_h=30.0 + 5 * k, id=ident)


def _b(ident: str, k: int = 0) -> dict[str, Any]:
    """One of b's activities, addressed to a."""
    return air_operation(start_h=300.0 + 5 * k, id=ident, addressees=["a"], units=["ub"], contact="Bravo duty officer")


def _batch(client: httpx.Client, idents: list[str], **headers: str) -> httpx.Response:
    body = {"activities": [_a(ident, 20 + k) for k, ident in enumerate(idents)]}
    return client.post("/v1/activities/batch", json=body, headers=headers)


def _refused_total(service: Service) -> float:
    return counter(service, "activity_writes_refused_rate_total")


def _recorded_activities(service: Service) -> dict[str, set[str]]:
    """Each ``activity.*`` kind the signed record holds, with the ids of the activities it names."""
    found: dict[str, set[str]] = {}
    with service.deployment.db.read() as conn:
        rows = conn.execute(
            sa.select(ledger_entries.c.kind, ledger_entries.c.payload).where(ledger_entries.c.kind.like("activity.%"))
        )
        for kind, payload in rows:
            value = json.loads(payload)
            ident = value["activity"]["id"] if "activity" in value else value.get("activity_id")
            found.setdefault(kind, set()).add(ident)
    return found


def _streamed(service: Service, who: str) -> dict[str, set[str]]:
    """Each ``activity.*`` kind on ``who``'s live stream, with the ids of the activities it names."""
    found: dict[str, set[str]] = {}
    for event in stream_once(service, who):
        if event["kind"].startswith("activity."):
            payload = event["payload"]
            ident = payload["activity"]["id"] if "activity" in payload else payload.get("activity_id")
            found.setdefault(event["kind"], set()).add(ident)
    return found


def _listed(client: httpx.Client) -> dict[str, tuple[int, str]]:
    """The activities the client's party sees: id → (version, status)."""
    return {view["id"]: (view["version"], view["status"]) for view in client.get("/v1/activities").json()}


def test_a_party_writing_past_its_burst_is_refused_429_nothing_stored_and_the_others_go_on(rated: Rated) -> None:
    service, clock = rated.service, rated.clock
    refused_ids = {"a-refused-1", "a-refused-2", "a-refused-3", "a-refused-4"}
    with (
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
        another_liaison_key(service, "a") as a_again,
    ):
        for k in range(BURST - BATCH):
            assert a.post("/v1/activities", json=_a(f"a-burst-{k}", k)).status_code == 201
        assert _batch(a, [f"a-batch-{k}" for k in range(BATCH)]).status_code == 201
        seen_by_b = _listed(b)
        refused = a.post("/v1/activities", json=_a("a-refused-1", 10))
        body = assert_problem(refused, 429, "activity_writes_per_party_per_s", "activity_write_burst", "4 s")
        assert refused.headers["Retry-After"] == "4", refused.headers
        assert "writes activities faster than it may" in body["detail"] and "nothing was stored" in body["detail"]
        # All of a party's keys share its bucket; every write counts: a batch, an amendment, a cancellation.
        assert_problem(_batch(a_again, ["a-refused-2", "a-refused-3"]), 429, "activity_write_burst", "8 s")
        amended = _a("a-burst-0", 11) | {"text": "moved"}
        assert_problem(a.post("/v1/activities/a-burst-0/amend", json={"version": 1, "activity": amended}), 429)
        cancel = {"version": 1, "reason": "off"}
        assert_problem(a.post("/v1/activities/a-burst-1/cancel", json=cancel), 429, "activity_write_burst")
        # The other party is not held back.
        assert b.post("/v1/activities", json=_b("b-meanwhile")).status_code == 201
        # Part of the wait is not enough; the whole of it is.
        clock.now_s += 3.0
        assert_problem(a.post("/v1/activities", json=_a("a-refused-4", 12)), 429, "1 s")
        clock.now_s += 1.0
        assert a.post("/v1/activities", json=_a("a-after-refill", 13)).status_code == 201
        assert _refused_total(service) == 5

        # Nothing of a refused write is stored: not in either party's list, nor the store, nor b's stream,
        # nor the record.
        written = {f"a-burst-{k}" for k in range(BURST - BATCH)} | {f"a-batch-{k}" for k in range(BATCH)}
        assert set(seen_by_b) == written
        assert set(_listed(b)) == written | {"b-meanwhile", "a-after-refill"}
        assert _listed(a) == {ident: (1, "notified") for ident in written | {"a-after-refill", "b-meanwhile"}}
        stored = {state.activity.id for state in service.runtime.activities.page(None, None, 100).states}
        assert stored == written | {"b-meanwhile", "a-after-refill"}
    assert _until(lambda: "a-after-refill" in _recorded_activities(service).get("activity.notified", set())), (
        "the accepted writes were not recorded"
    )
    recorded = _recorded_activities(service)
    assert not refused_ids & set().union(*recorded.values()), recorded
    assert "activity.amended" not in recorded and "activity.cancelled" not in recorded, recorded
    streamed = _streamed(service, "b-liaison")
    assert streamed["activity.notified"] == written | {"a-after-refill", "b-meanwhile"}, streamed
    assert "activity.amended" not in streamed and "activity.cancelled" not in streamed, streamed


def test_a_batch_takes_a_token_for_each_activity_and_is_refused_whole_when_fewer_are_left(rated: Rated) -> None:
    service, clock = rated.service, rated.clock
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        for k in range(BURST - 2):
            assert a.post("/v1/activities", json=_a(f"a-one-{k}", k)).status_code == 201
        # Two tokens left: a batch of three is refused whole, the wait the time until three are held.
        refused = _batch(a, ["a-x-0", "a-x-1", "a-x-2"])
        body = assert_problem(refused, 429, "activity_write_burst", "4 s")
        assert refused.headers["Retry-After"] == "4"
        assert "nothing of the 3 was stored" in body["detail"], body
        assert not {"a-x-0", "a-x-1", "a-x-2"} & set(_listed(b))
        # A batch of two takes the two.
        assert _batch(a, ["a-y-0", "a-y-1"]).status_code == 201
        assert_problem(a.post("/v1/activities", json=_a("a-z", 9)), 429, "4 s")
        # Two tokens back (8 s): still one short of three.
        clock.now_s += 8.0
        assert_problem(_batch(a, ["a-x-0", "a-x-1", "a-x-2"]), 429, "4 s")
        clock.now_s += 4.0
        assert _batch(a, ["a-x-0", "a-x-1", "a-x-2"]).status_code == 201
        assert {"a-x-0", "a-x-1", "a-x-2", "a-y-0", "a-y-1"} <= set(_listed(b))
        # A batch larger than max_activities_per_batch is refused as it always was (422), taking nothing.
        clock.now_s += BURST / PER_S
        too_many = _batch(a, [f"a-big-{k}" for k in range(BATCH + 1)])
        assert_problem(too_many, 422, f"at most {BATCH} in one batch")
        assert _batch(a, [f"a-w-{k}" for k in range(BATCH)]).status_code == 201
        assert a.post("/v1/activities", json=_a("a-w-last", 19)).status_code == 201
        assert _refused_total(service) == 3


def test_a_retry_under_the_same_idempotency_key_takes_nothing(rated: Rated) -> None:
    service, clock = rated.service, rated.clock
    one, batch, late = _a("a-keyed", 0), {"activities": [_a("a-kb-0", 1), _a("a-kb-1", 2)]}, _a("a-late", 6)
    cancel = {"version": 1, "reason": "off"}
    with service.client("a-liaison") as a:

        def keyed(path: str, body: dict[str, Any], key: str) -> httpx.Response:
            return a.post(path, json=body, headers={"Idempotency-Key": key})

        first = keyed("/v1/activities", one, "notify-0001")
        assert first.status_code == 201, first.text
        assert keyed("/v1/activities/batch", batch, "batch-0001").status_code == 201
        assert keyed("/v1/activities/a-keyed/cancel", cancel, "cancel-0001").status_code == 200
        # One token left: the retries are answered from the stored answers, again and again, taking none.
        for _ in range(3):
            for path, body, key, status in (
                ("/v1/activities", one, "notify-0001", 201),
                ("/v1/activities/batch", batch, "batch-0001", 201),
                ("/v1/activities/a-keyed/cancel", cancel, "cancel-0001", 200),
            ):
                again = keyed(path, body, key)
                assert again.status_code == status, again.text
                assert again.headers.get("Idempotent-Replayed") == "true", again.headers
        assert keyed("/v1/activities", one, "notify-0001").content == first.content
        assert a.post("/v1/activities", json=_a("a-last", 5)).status_code == 201  # the one token left
        # A write refused for its rate keeps no key: once refilled, its retry is carried out.
        assert_problem(keyed("/v1/activities", late, "late-0001"), 429, "4 s")
        clock.now_s += 4.0
        done = keyed("/v1/activities", late, "late-0001")
        assert done.status_code == 201 and "Idempotent-Replayed" not in done.headers, done.headers
        assert _refused_total(service) == 1


def test_answers_activation_completion_and_keepclears_own_writes_take_nothing(rated: Rated) -> None:
    """Acknowledging and objecting happen once a version for each addressee, activating and completing
    once an activity: with its bucket empty a party still does them. Activities notified by the services
    themselves (a scenario, the demo) take nothing of the parties' buckets."""
    service = rated.service
    for k in range(2 * BURST):  # as the scenario runner does: the service, not the API
        service.runtime.activities.notify(activity_from_document(_a(f"a-own-{k}", k), party_id="a"))
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        assert _batch(a, ["a-0", "a-1", "a-2"]).status_code == 201  # the whole burst is a's still
        assert a.post("/v1/activities", json=_a("a-3", 3)).status_code == 201
        assert a.post("/v1/activities", json=_a("a-4", 4)).status_code == 201
        for k in range(BURST):
            assert b.post("/v1/activities", json=_b(f"b-{k}", k)).status_code == 201
        assert_problem(a.post("/v1/activities", json=_a("a-5", 5)), 429)
        assert_problem(b.post("/v1/activities", json=_b("b-5", 5)), 429)
        # Both buckets are empty: the answers, the activation and the completion go on.
        assert b.post("/v1/activities/a-0/acknowledge", json={"version": 1}).status_code == 200
        assert b.post("/v1/activities/a-1/object", json={"version": 1, "reason": "our range"}).status_code == 200
        assert a.post("/v1/activities/b-0/acknowledge", json={"version": 1}).status_code == 200
        assert a.post("/v1/activities/a-2/activate", json={"version": 1}).status_code == 200
        assert a.post("/v1/activities/a-2/complete", json={"version": 1}).status_code == 200
        assert _listed(a)["a-2"] == (1, "completed")
    assert _refused_total(service) == 2


@pytest.mark.parametrize(
    "field, allowed, refused",
    [
        ("activity_writes_per_party_per_s", 0.5, 0),
        ("activity_writes_per_party_per_s", 1_000_000, float("nan")),
        ("activity_write_burst", 500, 0),
    ],
)
def test_the_activity_rate_settings_take_a_bound_and_refuse_what_bounds_nothing(
    tmp_path: Path, field: str, allowed: float, refused: float
) -> None:
    assert getattr(Settings(data_dir=tmp_path, **{field: allowed}), field) == allowed
    with pytest.raises(pydantic.ValidationError, match=field):
        Settings(data_dir=tmp_path, **{field: refused})


def test_a_burst_smaller_than_a_full_batch_is_refused_naming_both_settings(tmp_path: Path) -> None:
    """A batch takes one token an activity: a bucket smaller than the largest batch could never let it pass."""
    assert Settings(data_dir=tmp_path, activity_write_burst=10, max_activities_per_batch=10).activity_write_burst == 10
    with pytest.raises(pydantic.ValidationError, match=r"activity_write_burst \(10\) is less than max_activities_per"):
        Settings(data_dir=tmp_path, activity_write_burst=10, max_activities_per_batch=11)
    with pytest.raises(pydantic.ValidationError, match="max_activities_per_batch"):
        Settings(data_dir=tmp_path, activity_write_burst=499)  # the default batch is 500


def test_take_counts_all_or_none_and_waits_for_all() -> None:
    clock = Monotonic()
    writes = PartyRate(per_s=0.5, burst=4, words=ACTIVITY_WRITES, monotonic=clock)
    reports = PartyRate(per_s=0.5, burst=1, words=INCIDENT_REPORTS, monotonic=clock)
    assert writes.take("a", 3) is None
    refused = writes.take("a", 2)  # one held: none taken
    assert refused is not None and refused.retry_after_s == 2
    assert str(refused) == (
        "this party writes activities faster than it may (activity_writes_per_party_per_s: 0.5 a second,"
        " bursts of activity_write_burst: 4); nothing of the 2 was stored: send it again in 2 s"
    )
    assert writes.take("a") is None  # the one still held
    one = writes.take("a")
    assert one is not None and str(one).endswith("nothing was stored: send it again in 2 s")
    clock.now_s += 8.0  # full again, never past the burst
    assert writes.take("a", 4) is None
    assert writes.take("b", 4) is None  # another party's bucket is its own
    assert writes.gauges()["activity_writes_refused_rate_total"]() == 2
    assert reports.gauges()["incident_reports_refused_rate_total"]() == 0
    for impossible in (0, 5):
        with pytest.raises(ValueError, match="count must be 1 to burst"):
            writes.take("c", impossible)


def test_with_the_defaults_four_full_batches_pass_at_once_and_a_fifth_is_refused(tmp_path: Path) -> None:
    """The default burst (2,000) is four full batches of the default ``max_activities_per_batch`` (500):
    a day's tasking order and its convoys sent together pass; the party writing on is held back."""
    defaults = Settings(data_dir=tmp_path)
    full = defaults.max_activities_per_batch
    assert (defaults.activity_write_burst, full) == (2000, 500)
    with running_service(tmp_path / "data", None, Monotonic()) as service, service.client("a-liaison") as a:
        for n in range(4):  # the API's clock stands still: what is refilled meanwhile does not count
            body = {"activities": [_a(f"a-{n}-{k:03d}", k % 50) for k in range(full)]}
            assert a.post("/v1/activities/batch", json=body).status_code == 201
        refused = a.post("/v1/activities", json=_a("a-one-more", 0))
        assert_problem(refused, 429, "activity_writes_per_party_per_s: 10 a second", "activity_write_burst: 2000")
        assert "a-one-more" not in {
            state.activity.id for state in service.runtime.activities.page("a", "a-3", 10).states
        }
