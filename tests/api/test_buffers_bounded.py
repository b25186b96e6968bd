"""Everything that buffers has a bound and a metric: what a hostile party drives through the real API
stays within its bound, is refused (or dropped, counted) at it, and shows in /v1/metrics."""

from __future__ import annotations

import time
from pathlib import Path

from apisupport import Service, running_service
from test_api_activities import air_operation
from test_input_hardening import assert_problem

from keepclear.domain.timefmt import format_utc


def test_a_party_keeps_a_bounded_number_of_live_activities(tmp_path: Path, database_url: str) -> None:
    """Every live activity stays in each API process's strategic index, geometry drawn, until it is
    completed or cancelled (none expires): a party notifying without end grew every process's memory
    without bound. Past ``max_live_activities_per_party`` a notification is refused whole."""
    with (
        running_service(tmp_path / "data", database_url, max_live_activities_per_party=3) as service,
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
        service.client("admin") as admin,
    ):
        ids = []
        for k in range(3):
            notified = a.post("/v1/activities", json=air_operation(start_h=30.0 + 10 * k))
            assert notified.status_code == 201, notified.text
            ids.append(notified.json()["activity"]["id"])
        one_more = air_operation(start_h=80.0, id="a-one-more")
        assert_problem(a.post("/v1/activities", json=one_more), 409, "max_live_activities_per_party", "3")
        batch = {"activities": [air_operation(start_h=90.0, id="a-batch-1"), air_operation(start_h=95.0)]}
        assert_problem(a.post("/v1/activities/batch", json=batch), 409, "max_live_activities_per_party")
        assert len(a.get("/v1/activities").json()) == 3  # nothing of either was stored
        # The bound is each party's own.
        assert b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"])).status_code == 201
        counters = admin.get("/v1/metrics").json()["counters"]
        assert counters["activities_live"] == 4
        assert counters["activities_live_per_party_max"] == 3
        assert counters["activities_refused_live_limit_total"] == 2
        # Cancelling one makes room.
        assert a.post(f"/v1/activities/{ids[0]}/cancel", json={"version": 1, "reason": "off"}).status_code == 200
        assert a.post("/v1/activities", json=one_more).status_code == 201
        assert admin.get("/v1/metrics").json()["counters"]["activities_live_per_party_max"] == 3


def test_where_each_unit_is_fed_from_is_kept_for_known_units_only_and_counted(service: Service) -> None:
    """The feed each unit was last reported by (``GET /v1/feeds``) is one entry per unit of the
    registry; reports the service refuses (another party's unit, a made-up id) leave none."""
    now = format_utc(time.time())
    columns = {"unit_id": ["ua", "ub", "made-up"], "time": [now] * 3, "lat_deg": [36.0] * 3, "lon_deg": [38.0] * 3}
    with service.client("a-feed") as feed, service.client("admin") as admin:
        answer = feed.post("/v1/tracks", json={"columns": columns}, headers={"X-Keepclear-Source": "x" * 10_000})
        assert answer.status_code == 202 and answer.json()["accepted_indices"] == [0], answer.text
        assert admin.get("/v1/metrics").json()["counters"]["feed_sources_units"] == 1
    with service.client("a-liaison") as liaison:
        (fed,) = liaison.get("/v1/feeds").json()
    assert fed["unit_id"] == "ua" and len(fed["source"]) == 200  # the source a feed names is cut
