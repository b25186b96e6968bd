"""Migration 0004 creates exactly the tables the hotline store module declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keepclear.store import Database
from keepclear.store import hotline as hotline_store
from keepclear.store.schema import metadata


def test_migration_matches_the_declared_hotline_tables(database: Database) -> None:
    assert hotline_store.hotline_messages.name in metadata.tables
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    hotline_diff = [d for d in diff if "hotline_" in repr(d)]
    assert hotline_diff == []
