"""Durability: idempotency keys of requests with their answers, and the durable track history.

Revision ID: 0009_request_keys
Revises: 0007_incident_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_request_keys"
down_revision = "0007_incident_alerts"
branch_labels = None
depends_on = None

_REPORT_COLUMNS = ("lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")


def upgrade() -> None:
    op.create_table(
        "request_keys",
        sa.Column("scope", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(140), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("created_s", sa.Double, nullable=False),
        sa.Column("boot", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("answer", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_request_keys_created_s", "request_keys", ["created_s"])
    op.create_table(
        "track_history",
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        *(sa.Column(name, sa.Double, nullable=False) for name in _REPORT_COLUMNS),
    )
    op.create_index("ix_track_history_time_s", "track_history", ["time_s"])


def downgrade() -> None:
    op.drop_table("track_history")
    op.drop_table("request_keys")
