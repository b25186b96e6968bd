"""The PostgreSQL pool: a pooled connection the server dropped is replaced without the caller noticing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from keepclear.store import database
from keepclear.store.database import Database


def _backend_pids(db: Database) -> set[int]:
    with db.read() as conn:
        return {int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())}


def test_an_idle_connection_the_server_dropped_is_replaced(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(postgres_url)
    try:
        before = _backend_pids(db)
        # The server ends that session (a restart, an idle timeout, a firewall would do the same).
        admin = sa.create_engine(postgres_url)
        with admin.begin() as conn:
            for pid in before:
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        admin.dispose()
        monkeypatch.setattr(database, "POSTGRES_IDLE_CHECK_S", 0.0)  # the pooled connection counts as idle
        with db.write() as conn:
            assert conn.exec_driver_sql("SELECT 41 + 1").scalar_one() == 42
        assert _backend_pids(db).isdisjoint(before)
    finally:
        db.dispose()
