"""Persistence: SQLAlchemy Core over SQLite (default) or PostgreSQL, one writer path."""

from keepclear.store.database import Database, DeploymentNotInitialised
from keepclear.store.migrate import migrate

__all__ = ["Database", "DeploymentNotInitialised", "migrate"]
