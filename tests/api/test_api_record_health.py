"""/v1/health and /v1/metrics show the record's outbox: backlog, parked entries, failures."""

from __future__ import annotations

import time
from pathlib import Path

from apisupport import running_service

from keepclear.store import outbox


def test_health_degrades_on_a_parked_entry_and_metrics_show_the_outbox(tmp_path: Path, database_url: str) -> None:
    with (
        running_service(tmp_path / "data", database_url, record_max_attempts=1, record_poll_s=0.05) as service,
        service.client(None) as anyone,
        service.client("admin") as admin,
    ):
        health = anyone.get("/v1/health").json()
        assert (health["status"], health["problems"]) == ("ok", [])
        record = admin.get("/v1/metrics").json()["record"]
        assert record["waiting"] == 0 and record["failed"] == 0 and record["signed_total"] >= 0
        # an entry the ledger refuses (a reserved kind), staged as a writer would
        with service.deployment.db.write() as conn:
            outbox.stage(conn, [("ledger.genesis", None, time.time(), "{}", None)], time.time())
        service.runtime.record.wake()
        deadline = time.monotonic() + 20
        while (health := anyone.get("/v1/health").json())["status"] == "ok":
            assert time.monotonic() < deadline, health
            time.sleep(0.05)
        assert health["status"] == "degraded"
        assert health["problems"] == ["record: 1 entries failed to be signed and are parked in the outbox"]
        record = admin.get("/v1/metrics").json()["record"]
        assert (record["waiting"], record["failed"], record["retries_total"]) == (0, 1, 1)
        assert "ledger.genesis" in record["last_error"]
        # the service goes on recording
        assert admin.post("/v1/parties", json={"id": "c", "name": "Charlie", "roster": []}).status_code == 201
        kinds = [e.statement.kind for e in service.runtime.ledger.entries()]
        assert kinds.count("party.added") == 3
