"""Which keepclear a deployment's schema was last brought up to date by, as far as this one can tell.

The schema is the packaged Alembic migrations: a branch per capability, ``alembic_version`` holding
each branch's head. A build knows the revisions it ships. A stored revision it does not know was
written by a newer keepclear (its migrations add what its writers keep up to date: a counter, a
stamp, an index its reads rely on), so this build must neither migrate the deployment (Alembic
cannot go on from a revision it does not have) nor write to it (what it writes would leave the newer
schema's derived rows wrong): it stops at the door (``SchemaNewerError``), and a process already
running when the newer build migrated stops writing once it looks (``Database.look_at_schema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.errors import KeepclearError


class SchemaNewerError(KeepclearError):
    """The deployment's schema has revisions this keepclear does not know: a newer one migrated it."""


#: The packaged migrations (Alembic's script location).
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True, slots=True)
class Shipped:
    """The schema this keepclear ships: every revision of its migrations, and the heads it needs."""

    revisions: frozenset[str]
    heads: frozenset[str]


def shipped() -> Shipped:
    """What this keepclear's migrations ship, read from them once."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    return Shipped(frozenset(script.revision for script in scripts.walk_revisions()), frozenset(scripts.get_heads()))


def stored_revisions(conn: Connection) -> frozenset[str] | None:
    """The revisions ``alembic_version`` holds, or None when there is no such table (never migrated)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return frozenset(str(row[0]) for row in conn.execute(sa.text("SELECT version_num FROM alembic_version")))


def newer_problem(where: str, stored: frozenset[str], known: frozenset[str]) -> str | None:
    """Why this keepclear must not migrate or write the deployment at ``where`` (None: it may)."""
    unknown = sorted(stored - known)
    if not unknown:
        return None
    return (
        f"the deployment at {where} was brought up to date by a newer keepclear (schema revisions"
        f" {', '.join(unknown)} are unknown to this one): run that build or a newer one; this one would"
        " write what that schema keeps wrong, so it writes nothing"
    )
