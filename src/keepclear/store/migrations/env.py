"""Alembic environment: runs inside the writer transaction of the Database it is given."""

from __future__ import annotations

from alembic import context

from keepclear.store.database import Database
from keepclear.store.schema import metadata

db: Database = context.config.attributes["database"]

with db.write() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=db.is_sqlite)
    context.run_migrations()
