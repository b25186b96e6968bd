"""Helpers of the record and incident tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


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
