"""Zones: a version every change to the zone table moves on (triggers), so a process's strategic
index asks one number per check instead of reading the whole table.

Revision ID: 0014_zones_version
Revises: 0012_zone_names

The triggers count every insert, update and delete on ``zones``, whoever makes it (keepclear, a
migration, an operator at the SQL prompt). A later migration that rebuilds ``zones`` on SQLite
(``batch_alter_table``) must create them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_zones_version"
down_revision = "0012_zone_names"
branch_labels = None
depends_on = None

_SQLITE_TRIGGER = (
    "CREATE TRIGGER zones_version_{name} AFTER {event} ON zones"
    " BEGIN UPDATE zones_version SET version = version + 1 WHERE id = 1; END"
)


def upgrade() -> None:
    op.create_table(
        "zones_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO zones_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "sqlite":
        for name, event in (("insert", "INSERT"), ("update", "UPDATE"), ("delete", "DELETE")):
            op.execute(_SQLITE_TRIGGER.format(name=name, event=event))
        return
    op.execute(
        "CREATE FUNCTION zones_version_bump() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN UPDATE zones_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER zones_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON zones"
        " FOR EACH STATEMENT EXECUTE FUNCTION zones_version_bump()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER zones_version_{name}")
    else:
        op.execute("DROP TRIGGER zones_version_bump ON zones")
        op.execute("DROP FUNCTION zones_version_bump()")
    op.drop_table("zones_version")
