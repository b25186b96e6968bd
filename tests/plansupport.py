"""The plan a store chooses for a statement: a read checked to be one range of an index, on SQLite
and PostgreSQL alike (shared by the record, incident and API tests)."""

from __future__ import annotations

from keepclear.store import Database


def query_plan(db: Database, statement: str, parameters: object, table: str) -> str:
    """The plan ``db`` chooses for ``statement`` with ``parameters``, its lines joined by " | "
    (PostgreSQL after ``ANALYZE`` of ``table``: without fresh statistics it may plan otherwise)."""
    with db.write() as conn:
        if db.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
            return " | ".join(str(row[-1]) for row in rows)
        conn.exec_driver_sql(f"ANALYZE {table}")
        return " | ".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))  # type: ignore[arg-type]
