"""The incidents one party may report are bounded in rate (``incident_reports_per_party_per_s``,
bursts of ``incident_report_burst``): one token bucket per party, all its keys together. Past it a
report is refused before the store is touched and nothing of it stored (no incident, no event on
the other party's stream, no record entry); the other parties go on; once refilled (the API's
monotonic clock, moved by the test) the party reports again. Incidents keepclear opens itself
never count."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydantic
import pytest
from apisupport import Service, another_liaison_key, counter, recorded, running_service
from nksupport import stream_once
from test_hotline_post_rate import Monotonic, _until
from test_input_hardening import assert_problem

from keepclear.api.party_rate import HOTLINE_POSTS, INCIDENT_REPORTS, PartyRate
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc
from keepclear.settings import Settings

BURST = 3
PER_S = 0.25  # a token every 4 s


@dataclass
class Rated:
    """A real server whose parties may report ``BURST`` at once, then one every 4 s, and its monotonic clock."""

    service: Service
    clock: Monotonic


@pytest.fixture
def rated(tmp_path: Path, database_url: str) -> Iterator[Rated]:
    """On SQLite and on PostgreSQL."""
    clock = Monotonic()
    overrides = {"incident_report_burst": BURST, "incident_reports_per_party_per_s": PER_S}
    with running_service(tmp_path / "data", database_url, clock, **overrides) as service:
        yield Rated(service, clock)


def _report(client: httpx.Client, summary: str) -> httpx.Response:
    return client.post(
        "/v1/incidents", json={"time": format_utc(time.time() - 3600), "summary": summary, "parties": ["b"]}
    )


def _refused_total(service: Service) -> float:
    return counter(service, "incident_reports_refused_rate_total")


def _recorded_summaries(service: Service) -> set[str]:
    """The summaries of the incidents the signed record holds."""
    return recorded(service, "incident.opened", "summary")


def test_a_party_reporting_past_its_burst_is_refused_429_nothing_stored_and_the_others_go_on(rated: Rated) -> None:
    service, clock = rated.service, rated.clock
    with (
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
        another_liaison_key(service, "a") as a_again,
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
        assert _refused_total(service) == 3

        # Nothing of a refused report is stored: not in the lists, nor the store, nor b's stream, nor the record.
        listed = [i["summary"] for i in b.get("/v1/incidents").json()]
        assert len(listed_before) == BURST and len(listed) == BURST + 2, listed
        assert set(listed) == {*(f"a-burst-{k}" for k in range(BURST)), "b-meanwhile", "a-after-refill"}, listed
        assert sorted(i.summary for i in service.runtime.incidents.list()) == sorted(listed)
        assert _until(lambda: "a-after-refill" in _recorded_summaries(service)), (
            "the accepted reports were not recorded"
        )
        assert not {"a-refused-1", "a-refused-2", "a-refused-3"} & _recorded_summaries(service)
    streamed = [e["payload"]["summary"] for e in stream_once(service, "b-liaison") if e["kind"] == "incident.opened"]
    assert "a-after-refill" in streamed and not {"a-refused-1", "a-refused-2", "a-refused-3"} & set(streamed), streamed


def test_incidents_keepclear_opens_from_alerts_take_nothing_of_the_parties_buckets(rated: Rated) -> None:
    """Separation lost between a's and b's units opens incidents involving both (the services' own,
    from the bus's alert events): a and b may still report their whole burst."""
    service = rated.service
    now_s = time.time()
    service.runtime.incidents.on_events(
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
    opened = [i for i in service.runtime.incidents.list() if i.reported_by is None]
    assert len(opened) == 2 * BURST, opened
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        assert [_report(a, f"a-{k}").status_code for k in range(BURST)] == [201] * BURST
        assert [_report(b, f"b-{k}").status_code for k in range(BURST)] == [201] * BURST
    assert _refused_total(service) == 0


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
