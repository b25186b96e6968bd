"""Apply the packaged Alembic migrations to a database."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from keepclear.store.database import Database
from keepclear.store.schema_revisions import MIGRATIONS_DIR, stored_revisions


def alembic_config(db: Database) -> Config:
    """An Alembic configuration pointing at the packaged migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["database"] = db
    return config


def migrate(db: Database) -> None:
    """Bring the schema to the newest version of every capability (idempotent); ``SchemaNewerError``,
    nothing changed, when a newer keepclear migrated it already (``store.schema_revisions``)."""
    if db.sqlite_path is not None:
        db.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    with db.read() as conn:
        stored = stored_revisions(conn)
    db.refuse_newer(stored)
    command.upgrade(alembic_config(db), "heads")
