"""Helpers of the record and incident tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from keepclear.store import Database


@contextmanager
def statements_seen(engine: sa.Engine) -> Iterator[list[tuple[str, object]]]:
    """The SQL statements, with their parameters, ``engine`` executes within the block (a plan or a
    count of reads is checked on them)."""
    seen: list[tuple[str, object]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def query_plan(db: Database, statement: str, parameters: object, table: str) -> str:
    """The plan ``db`` chooses for ``statement`` with ``parameters``, its lines joined by " | "
    (PostgreSQL after ``ANALYZE`` of ``table``: without fresh statistics it may plan otherwise)."""
    with db.write() as conn:
        if db.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
            return " | ".join(str(row[-1]) for row in rows)
        conn.exec_driver_sql(f"ANALYZE {table}")
        return " | ".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))  # type: ignore[arg-type]
