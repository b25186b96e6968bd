"""A rolling upgrade: a newer keepclear migrates the schema while this build's processes run, and
this build meets a schema a newer one migrated.

What a newer build's migrations add, its own writers keep up to date (a counter, a stamp), so a
process of this build writes nothing once it sees such a schema: its writes are answered 503 with
Retry-After, nothing stored, its health says why, its reads and the live picture go on. The CLI of
this build (``init`` included) refuses such a deployment in one line, changing nothing, where Alembic
failed with an internal error. The newer build is played by a revision this build does not ship,
added to ``alembic_version`` as a newer build's migration would."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from apisupport import Service, counter, running_service
from test_input_hardening import assert_problem

from keepclear.store import Database
from serving import cli_result, keepclear_cli

NEWER = "9999_from_a_newer_keepclear"


def _stamp_newer(database_url: str) -> None:
    """What a newer build's ``migrate`` leaves: one more revision, unknown to this build."""
    db = Database(database_url)
    try:
        with db.write() as conn:
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": NEWER})
    finally:
        db.dispose()


def _revisions(database_url: str) -> set[str]:
    db = Database(database_url)
    try:
        with db.read() as conn:
            return {str(r[0]) for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    finally:
        db.dispose()


def _post(client: httpx.Client, thread_id: str, n: int) -> httpx.Response:
    return client.post(
        f"/v1/hotline/threads/{thread_id}/messages",
        json={"idempotency_key": f"newer-schema-{n}", "body": f"message {n}"},
    )


def _until(check: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)
    return bool(check())  # type: ignore[operator]


def test_a_running_process_writes_nothing_once_a_newer_keepclear_migrated_the_schema(
    tmp_path: Path, database_url: str
) -> None:
    with running_service(tmp_path / "data", database_url) as service:
        _writes_stop_reads_go_on(service, database_url)


def _writes_stop_reads_go_on(service: Service, database_url: str) -> None:
    with service.client("a-liaison") as a, service.client("b-liaison") as b, service.client("admin") as admin:
        [thread] = [t for t in a.get("/v1/hotline/threads").json() if t["standing"]]
        assert _post(a, thread["id"], 1).status_code == 201
        assert counter(service, "schema_outdated") == 0
        assert a.get("/v1/health").json()["status"] == "ok"

        _stamp_newer(database_url)
        # The service's chores look at the schema each round (tick_s, 0.2 s here).
        assert _until(lambda: counter(service, "schema_outdated") == 1), "the process never saw the newer schema"

        refused = _post(a, thread["id"], 2)
        body = assert_problem(refused, 503, "older keepclear than the deployment's schema", "nothing was stored")
        assert refused.headers["Retry-After"] == "1"
        assert database_url not in body["detail"] and "9999" not in body["detail"]  # nothing of the store to a client
        # Nothing of it stored; reads go on.
        listed = b.get(f"/v1/hotline/threads/{thread['id']}/messages")
        assert listed.status_code == 200, listed.text
        bodies = [m["body"] for m in listed.json()]
        assert "message 1" in bodies and "message 2" not in bodies, bodies
        assert b.get("/v1/activities").status_code == 200
        health = a.get("/v1/health").json()
        assert health["status"] == "degraded"
        assert any("newer keepclear migrated the schema" in p for p in health["problems"]), health
        assert admin.get("/v1/metrics").status_code == 200


def test_the_cli_refuses_a_deployment_a_newer_keepclear_migrated_and_changes_nothing(
    tmp_path: Path, database_url: str
) -> None:
    base = keepclear_cli(tmp_path / "data", database_url)
    assert cli_result(base, "init").returncode == 0
    _stamp_newer(database_url)
    before = _revisions(database_url)
    for args in (("init",), ("zones", "list")):
        done = cli_result(base, *args)
        assert done.returncode == 1, (args, done.returncode, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: "), line
        assert "brought up to date by a newer keepclear" in line and NEWER in line, line
        assert "internal error" not in line
    assert _revisions(database_url) == before
