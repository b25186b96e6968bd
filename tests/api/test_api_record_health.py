"""/v1/health and /v1/metrics show the record's outbox: backlog, parked entries, failures; health to
anyone in words, the counts to the admin only (they would tell anyone how busy the deployment is)."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
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
        assert health["problems"] == ["record: entries failed to be signed and are parked in the outbox"]
        assert admin.get("/v1/health").json() == health  # the same answer whoever asks
        metrics = admin.get("/v1/metrics").json()
        assert metrics["problems"] == ["record: 1 entries failed to be signed and are parked in the outbox"]
        record = metrics["record"]
        assert (record["waiting"], record["failed"], record["retries_total"]) == (0, 1, 1)
        assert "ledger.genesis" in record["last_error"]
        # the service goes on recording
        assert admin.post("/v1/parties", json={"id": "c", "name": "Charlie", "roster": []}).status_code == 201
        kinds = [e.statement.kind for e in service.runtime.ledger.entries()]
        assert kinds.count("party.added") == 3


def test_a_full_outbox_refuses_writes_with_503_until_it_has_room(tmp_path: Path, database_url: str) -> None:
    """The outbox holds at most ``OUTBOX_MAX_ROWS`` rows: past it a write is refused whole with a 503
    problem and Retry-After, health says why, and the write succeeds once there is room."""
    limit = outbox.OUTBOX_MAX_ROWS
    with (
        running_service(tmp_path / "data", database_url) as service,
        service.client(None) as anyone,
        service.client("admin") as admin,
    ):
        # rows the signer cannot sign (parked), filling the outbox to its bound
        with service.deployment.db.write() as conn:
            conn.execute(
                sa.text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :limit)"
                    " INSERT INTO record_outbox (kind, party_id, time_s, payload, audience, staged_s, attempts,"
                    " next_try_s, failed, last_error) SELECT 'party.added', NULL, 0, '{}', NULL, 0, 5, 0, true,"
                    " 'filler' FROM n"
                ),
                {"limit": limit},
            )
        answer = admin.post("/v1/parties", json={"id": "c", "name": "Charlie", "roster": []})
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) >= 1
        assert f"at most {limit}" in answer.json()["detail"]
        assert "c" not in [p["id"] for p in admin.get("/v1/parties").json()]  # nothing of the write was kept
        health = anyone.get("/v1/health").json()
        assert "record: the outbox is full: writes are refused with 503" in health["problems"]
        assert not any(char.isdigit() for p in health["problems"] for char in p.replace("503", "")), health
        metrics = admin.get("/v1/metrics").json()
        assert f"record: the outbox is full ({limit} entries): writes are refused with 503" in metrics["problems"]
        assert metrics["record"]["outbox_limit"] == limit
        with service.deployment.db.write() as conn:
            conn.execute(sa.text("DELETE FROM record_outbox WHERE last_error = 'filler'"))
        assert admin.post("/v1/parties", json={"id": "c", "name": "Charlie", "roster": []}).status_code == 201
        assert anyone.get("/v1/health").json()["status"] == "ok"
        assert admin.get("/v1/metrics").json()["problems"] == []


def test_metrics_answer_while_the_outbox_cannot_be_read(tmp_path: Path, database_url: str) -> None:
    """The outbox table gone (a botched migration, an operator's mistake): health and metrics still
    answer, saying so, with the record's counts null (the metrics are needed most then)."""
    with (
        running_service(tmp_path / "data", database_url, record_poll_s=0.05) as service,
        service.client(None) as anyone,
        service.client("admin") as admin,
    ):
        with service.deployment.db.write() as conn:
            conn.execute(sa.text("ALTER TABLE record_outbox RENAME TO record_outbox_away"))
        try:
            health = anyone.get("/v1/health").json()
            answer = admin.get("/v1/metrics")
            assert answer.status_code == 200, answer.text
            metrics = answer.json()
            assert metrics["record"] is None
            assert health["status"] == "degraded" and len(health["problems"]) == 1, health
            assert metrics["problems"] == health["problems"], (metrics["problems"], health)
            assert health["problems"][0].startswith(("record: the outbox cannot be read", "store: cannot be reached"))
        finally:
            with service.deployment.db.write() as conn:
                conn.execute(sa.text("ALTER TABLE record_outbox_away RENAME TO record_outbox"))
