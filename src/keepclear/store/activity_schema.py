"""Tables of strategic deconfliction, declared on the shared ``metadata`` (migration 0003_strategic).

``activities`` holds the head of each activity (status, current version); ``activity_versions``
every version ever stored; ``activity_acks`` each addressee's answer and deadline per version;
``activity_conflicts`` what each check found; ``activity_escalations`` each escalation step;
``activity_log`` one row per change, whose growing ``seq`` caches of live activities catch up on.
Also the two query pieces the modules over these tables share: the rows of an activity's current
version, and rows grouped by activity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.store.schema import metadata

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("created_s", sa.Double, nullable=False),
    sa.Column("updated_s", sa.Double, nullable=False),
    # How many conflicts others' current versions recorded against this activity (migration 0024):
    # ``overlapped_by_total`` read in one row, however many others recorded.
    sa.Column("overlapped_by_total", sa.Integer, nullable=False, server_default="0"),
)

activity_versions = sa.Table(
    "activity_versions",
    metadata,
    sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("start_s", sa.Double, nullable=False),
    sa.Column("end_s", sa.Double, nullable=False),
    sa.Column("created_s", sa.Double, nullable=False),
    sa.Column("notified_s", sa.Double, nullable=True),
    sa.Column("required_notice_s", sa.Double, nullable=True),
    sa.Column("given_notice_s", sa.Double, nullable=True),
    # How many conflicts this version's check found (migration 0024): ``conflicts_total`` read in one row.
    sa.Column("conflicts_total", sa.Integer, nullable=False, server_default="0"),
)

activity_acks = sa.Table(
    "activity_acks",
    metadata,
    sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("answered_s", sa.Double, nullable=True),
    sa.Column("due_s", sa.Double, nullable=True, index=True),
    sa.Column("deadline_s", sa.Double, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("exhausted", sa.Boolean, nullable=False),
)

activity_conflicts = sa.Table(
    "activity_conflicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target_id", sa.String(64), nullable=False),
    sa.Column("target_party_id", sa.String(64), nullable=True, index=True),
    sa.Column("target_version", sa.Integer, nullable=True),
    sa.Column("geometry", sa.Text, nullable=False),
    sa.Column("start_s", sa.Double, nullable=False),
    sa.Column("end_s", sa.Double, nullable=False),
    sa.Column("lower_ft", sa.Double, nullable=False),
    sa.Column("upper_ft", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("required_notice_s", sa.Double, nullable=True),
    sa.Column("given_notice_s", sa.Double, nullable=True),
    sa.Column("detected_s", sa.Double, nullable=False),
    # Whether the version that recorded it is no longer its activity's current one (an amendment
    # moved it away; migration 0024).
    sa.Column("superseded", sa.Boolean, nullable=False, server_default=sa.false()),
    # By target, its party, whether superseded, then as recorded (migration 0024): an activity's
    # overlaps (of others' current versions), most recently found first, are one range of it, a page
    # or a view's first few read without passing over the rest, nor over those amended away.
    sa.Index("ix_activity_conflicts_current_overlaps", "target_id", "target_party_id", "superseded", "id"),
    # By activity, version, then as recorded (migration 0023): what one version's check found, as
    # found, is one range of it, a page or a view's first few read without passing over the rest.
    sa.Index("ix_activity_conflicts_of_version", "activity_id", "version", "id"),
)

activity_escalations = sa.Table(
    "activity_escalations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("contact_name", sa.String(200), nullable=True),
    sa.Column("contact_role", sa.String(200), nullable=True),
    sa.Column("time_s", sa.Double, nullable=False),
)

activity_log = sa.Table(
    "activity_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


T = TypeVar("T")


def of_current_version(table: sa.Table) -> sa.ColumnElement[bool]:
    """Join condition: the rows of ``table`` (``activity_id``, ``version``) of their activity's current version."""
    return sa.and_(activities.c.id == table.c.activity_id, activities.c.current_version == table.c.version)


def grouped(
    conn: Connection, activity_ids: Sequence[str], query: sa.Select[Any], item: Callable[[Any], T]
) -> dict[str, list[T]]:
    """The rows of ``query`` (already narrowed to ``activity_ids``) as ``item(row)``, grouped by
    ``activity_id`` in the query's order, every id present; one statement, none without ids."""
    out: dict[str, list[T]] = {i: [] for i in activity_ids}
    if activity_ids:
        for r in conn.execute(query):
            out[r.activity_id].append(item(r))
    return out
