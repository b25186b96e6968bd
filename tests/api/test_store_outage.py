"""The store goes away and comes back: a real PostgreSQL server of the test's own, stopped under a
running service and started again.

While it is away the live picture must not stop: feeds keep reporting, the probe raises the alert
of a pair that converges only then and both sides get it on their streams; writes are answered 503
with Retry-After (never a 500 or a dropped connection); health says why. When it is back, writes go
through again, the alert raised meanwhile is signed into the record and the track history held in
memory is written, with nothing lost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from apisupport import Service, SseReader, running_service

from pgserver import PostgresServer
from tracksupport import air_report


def _until(read: object, timeout_s: float) -> object:
    deadline = time.monotonic() + timeout_s
    while not (answer := read()) and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.2)
    return answer


def _post_message(client: httpx.Client, thread_id: str, n: int) -> httpx.Response:
    return client.post(
        f"/v1/hotline/threads/{thread_id}/messages",
        json={"kind": "text", "body": f"message {n}"},
        headers={"Idempotency-Key": f"outage-{n:04d}"},
    )


def test_the_live_picture_goes_on_through_a_store_outage_and_the_record_catches_up(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    with running_service(tmp_path / "data", own_postgres.url) as service:
        _through_an_outage(service, own_postgres)


def _through_an_outage(service: Service, server: PostgresServer) -> None:
    b_stream = SseReader(service, "b-liaison")
    a_feed, b_feed = service.client("a-feed"), service.client("b-feed")
    a_liaison, admin = service.client("a-liaison"), service.client("admin")
    try:
        # Before: far apart and diverging (no alert); every key used once, a message posted.
        now_s = time.time()
        assert a_feed.post("/v1/tracks", json={"reports": [air_report("ua", 30.0, -220.0, now_s)]}).status_code == 202
        assert b_feed.post("/v1/tracks", json={"reports": [air_report("ub", 40.0, 220.0, now_s)]}).status_code == 202
        [thread] = [t for t in a_liaison.get("/v1/hotline/threads").json() if t["standing"]]
        assert _post_message(a_liaison, thread["id"], 1).status_code == 201
        assert admin.get("/v1/metrics").status_code == 200
        assert a_liaison.get("/v1/alerts").json() == []
        # A key made since the service read every valid key (at start: once a minute), never used.
        made = admin.post("/v1/keys", json={"role": "observer", "party_id": "a", "label": "late"})
        assert made.status_code == 201, made.text
        late_key = made.json()["key"]
        # A key used, then revoked, before the outage: never taken during it.
        with service.client("b-observer") as b_observer:
            assert b_observer.get("/v1/alerts").status_code == 200
            key_id = service.keys["b-observer"].split("_")[1]
            assert admin.delete(f"/v1/keys/{key_id}").status_code in (200, 204)

        server.stop()

        # Writes: 503 with Retry-After and a problem that says why, nothing else.
        refused = _post_message(a_liaison, thread["id"], 2)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"].isdigit()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "store cannot be reached" in refused.json()["detail"]
        assert str(server.port) not in refused.text  # nothing of the infrastructure to a client
        assert a_liaison.get("/v1/activities").status_code == 503  # a read of the store: the same
        # A key the store never confirmed to this process is not taken on trust, nor one revoked.
        with (
            httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {late_key}"}) as observer,
            service.client("b-observer") as revoked,
            service.client(None) as anyone,
        ):
            assert observer.get("/v1/alerts").status_code == 503
            assert revoked.get("/v1/alerts").status_code == 503
            health = anyone.get("/v1/health").json()
        assert health["status"] == "degraded"
        assert any(p.startswith("store: cannot be reached") for p in health["problems"]), health
        assert str(server.port) not in str(health)  # health answers anyone
        assert not any(c.isdigit() for p in health["problems"] for c in p.replace("503", "")), health  # nor how busy

        # The live picture goes on: head on, 40 km apart, reported only now.
        outage_s = max(time.time(), now_s + 3.0)  # past history's 2 s thinning
        for feed, report in (
            (a_feed, air_report("ua", 38.0, 220.0, outage_s)),
            (b_feed, air_report("ub", 38.44, -220.0, outage_s)),
        ):
            answer = feed.post("/v1/tracks", json={"reports": [report]})
            assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text
        raised = b_stream.wait_for(lambda e: e["kind"] == "alert.raised", timeout_s=15)
        alert_id = raised["payload"]["alert_id"]
        assert [a["alert_id"] for a in a_liaison.get("/v1/alerts").json()] == [alert_id]
        assert {t["unit_id"] for t in a_liaison.get("/v1/tracks").json()} == {"ua", "ub"}
        metrics = admin.get("/v1/metrics")
        assert metrics.status_code == 200, metrics.text
        counters = metrics.json()["counters"]
        assert counters["history_rows_pending"] >= 1 and counters["events_held"] >= 1, counters
        (counted,) = metrics.json()["problems"]  # the admin has the counts
        assert counted.startswith("store: cannot be reached") and " events (alerts) wait" in counted, counted

        server.start()

        # Back: writes go through, the record has the alert raised meanwhile, the history is written.
        assert _until(lambda: _post_message(a_liaison, thread["id"], 3).status_code == 201, 30)

        def recorded() -> list[str]:
            with service.client("b-liaison") as b_liaison:
                entries = b_liaison.get("/v1/record/export").json()["entries"]
            return [e["statement"]["kind"] for e in entries if alert_id in json.dumps(e)]

        # the alert's entry, and the notice the hotline posts of it on the standing line
        kinds = _until(lambda: {"alert.raised", "message.posted"} <= set(recorded()), 30)
        assert kinds, f"what an alert raised during the outage leaves is not all in the record: {recorded()}"

        def settled() -> dict[str, float] | None:
            counters = admin.get("/v1/metrics").json()["counters"]
            return counters if counters["history_rows_pending"] == 0 and counters["events_held"] == 0 else None

        counters = _until(settled, 30)
        assert counters, admin.get("/v1/metrics").json()["counters"]
        assert counters["history_rows_dropped_total"] == 0  # type: ignore[index]
        with service.deployment.db.read() as conn:
            times = (
                conn.execute(sa.text("SELECT time_s FROM track_history WHERE unit_id = 'ua' ORDER BY time_s"))
                .scalars()
                .all()
            )
        assert times == [pytest.approx(now_s, abs=1e-3), pytest.approx(outage_s, abs=1e-3)], times
    finally:
        for client in (a_feed, b_feed, a_liaison, admin):
            client.close()
        b_stream.close()
