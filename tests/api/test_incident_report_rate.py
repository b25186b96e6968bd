"""The incidents one party may report are bounded in rate (``incident_reports_per_party_per_s``,
bursts of ``incident_report_burst``): one token bucket per party, all its keys together. Past it a
report is refused before the store is touched and nothing of it stored (no incident, no event on
the other party's stream, no record entry); the other parties go on; once refilled (the API's
monotonic clock, moved by the test) the party reports again. Incidents keepclear opens itself
never count."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydantic
import pytest
import sqlalchemy as sa
from apisupport import Service, running_service
from nksupport import stream_once
from test_hotline_post_rate import Monotonic, _until
from test_input_hardening import assert_problem

from keepclear.api.party_rate import HOTLINE_POSTS, INCIDENT_REPORTS, PartyRate
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.identity import Role
from keepclear.settings import Settings
from keepclear.store.ledger import ledger_entries

BURST = 3
PER_S = 0.25  # a token every 4 s


@pytest.fixture
def clock() -> Monotonic:
    return Monotonic()


@pytest.fixture
def rated(tmp_path: Path, database_url: str, clock: Monotonic) -> Iterator[Service]:
    """A real server on SQLite and on PostgreSQL whose parties may report ``BURST`` at once, then one every 4 s."""
    with running_service(
        tmp_path / "data", database_url, clock, incident_report_burst=BURST, incident_reports_per_party_per_s=PER_S
    ) as service:
        yield service


def _report(client: httpx.Client, summary: str) -> httpx.Response:
    return client.post("/v1/incidents", json={"time": "2026-01-01T00:00:00Z", "summary": summary, "parties": ["b"]})


def _refused_total(service: Service) -> float:
    with service.client("admin") as admin:
        return float(admin.get("/v1/metrics").json()["counters"]["incident_reports_refused_rate_total"])


def _recorded_summaries(service: Service) -> set[str]:
    """The summaries of the incidents the signed record holds."""
    with service.deployment.db.read() as conn:
        payloads = conn.execute(
            sa.select(ledger_entries.c.payload).where(ledger_entries.c.kind == "incident.opened")
        ).scalars()
        return {json.loads(p).get("summary") for p in payloads}


def test_a_party_reporting_past_its_burst_is_refused_429_nothing_stored_and_the_others_go_on(
    rated: Service, clock: Monotonic
) -> None:
    second_key = rated.deployment.keys.create(Role.LIAISON, "a", "a's second console")[1]
    with (
        rated.client("a-liaison") as a,
        rated.client("b-liaison") as b,
        httpx.Client(base_url=rated.url, headers={"Authorization": f"Bearer {second_key}"}) as a_again,
    ):
        for k in range(BURST):
            assert _report(a, f"a-burst-{k}").status_code == 201
        listed_before = b.get("/v1/incidents").json()
        refused = _report(a, "a-refused-1")
        body = assert_problem(refused, 429, "incident_reports_per_party_per_s", "incident_report_burst", "4 s")
        assert refused.headers["Retry-After"] == "4", refused.headers
        assert "nothing was stored" in body["detail"]
        # All of a party's keys share its bucket.
        assert_problem(_report(a_again, "a-refused-2"), 429, "incident_report_burst")
        # The other party is not held back.
        assert _report(b, "b-meanwhile").status_code == 201
        # Part of the wait is not enough; the whole of it is.
        clock.now_s += 3.0
        assert_problem(_report(a, "a-refused-3"), 429, "1 s")
        clock.now_s += 1.0
        assert _report(a, "a-after-refill").status_code == 201
        assert _refused_total(rated) == 3

        # Nothing of a refused report is stored: not in the lists, nor the store, nor b's stream, nor the record.
        listed = [i["summary"] for i in b.get("/v1/incidents").json()]
        assert len(listed_before) == BURST and len(listed) == BURST + 2, listed
        assert set(listed) == {*(f"a-burst-{k}" for k in range(BURST)), "b-meanwhile", "a-after-refill"}, listed
        assert sorted(i.summary for i in rated.runtime.incidents.list()) == sorted(listed)
        assert _until(lambda: "a-after-refill" in _recorded_summaries(rated)), "the accepted reports were not recorded"
        assert not {"a-refused-1", "a-refused-2", "a-refused-3"} & _recorded_summaries(rated)
    streamed = [e["payload"]["summary"] for e in stream_once(rated, "b-liaison") if e["kind"] == "incident.opened"]
    assert "a-after-refill" in streamed and not {"a-refused-1", "a-refused-2", "a-refused-3"} & set(streamed), streamed


def test_incidents_keepclear_opens_from_alerts_take_nothing_of_the_parties_buckets(rated: Service) -> None:
    """Separation lost between a's and b's units opens incidents involving both (the services' own,
    from the bus's alert events): a and b may still report their whole burst."""
    now_s = time.time()
    rated.runtime.incidents.on_events(
        [
            Event(
                EventKind.ALERT_SEPARATION_LOST,
                now_s - 60 + k,
                None,
                {"los": True, "unit_ids": [f"ua-{k}", f"ub-{k}"], "alert_id": f"al-{k}"},
                parties=frozenset({"a", "b"}),
            )
            for k in range(2 * BURST)
        ]
    )
    opened = [i for i in rated.runtime.incidents.list() if i.reported_by is None]
    assert len(opened) == 2 * BURST, opened
    with rated.client("a-liaison") as a, rated.client("b-liaison") as b:
        assert [_report(a, f"a-{k}").status_code for k in range(BURST)] == [201] * BURST
        assert [_report(b, f"b-{k}").status_code for k in range(BURST)] == [201] * BURST
    assert _refused_total(rated) == 0


@pytest.mark.parametrize(
    "field, allowed, refused",
    [
        ("incident_reports_per_party_per_s", 0.5, 0),
        ("incident_reports_per_party_per_s", 1_000_000, float("nan")),
        ("incident_report_burst", 1, 0),
    ],
)
def test_the_incident_rate_settings_take_a_bound_and_refuse_what_bounds_nothing(
    tmp_path: Path, field: str, allowed: float, refused: float
) -> None:
    assert getattr(Settings(data_dir=tmp_path, **{field: allowed}), field) == allowed
    with pytest.raises(pydantic.ValidationError, match=field):
        Settings(data_dir=tmp_path, **{field: refused})


def test_one_bucket_words_its_refusal_and_metric_for_each_use() -> None:
    clock = Monotonic()
    reports = PartyRate(per_s=0.5, burst=1, words=INCIDENT_REPORTS, monotonic=clock)
    posts = PartyRate(per_s=0.5, burst=1, words=HOTLINE_POSTS, monotonic=clock)
    assert reports.take("a") is None and posts.take("a") is None  # separate buckets
    refused = reports.take("a")
    assert refused is not None and refused.retry_after_s == 2
    assert str(refused) == (
        "this party reports incidents faster than it may (incident_reports_per_party_per_s: 0.5 a second,"
        " bursts of incident_report_burst: 1); nothing was stored: report it again in 2 s"
    )
    assert reports.take("b") is None  # another party's bucket is full
    assert reports.gauges()["incident_reports_refused_rate_total"]() == 1
    assert posts.gauges()["hotline_posts_refused_rate_total"]() == 0
    clock.now_s += 2.0
    assert reports.take("a") is None
