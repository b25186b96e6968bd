"""Record: the signed ledger (entries, head, keys, checkpoints) and incidents.

Revision ID: 0005_record
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_record"
down_revision = "0001_foundation"
branch_labels = ("record",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger, nullable=False),
        sa.Column("checkpoint_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("party_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("audience", sa.Text, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    op.create_index("ix_ledger_entries_party_id", "ledger_entries", ["party_id"])
    op.create_index("ix_ledger_entries_kind", "ledger_entries", ["kind"])
    op.create_index("ix_ledger_entries_time_us", "ledger_entries", ["time_us"])
    op.create_table(
        "ledger_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("custodial", sa.Boolean, nullable=False),
        sa.Column("from_seq", sa.BigInteger, nullable=False),
        sa.Column("until_seq", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_ledger_keys_owner", "ledger_keys", ["owner"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("opened_s", sa.Double, nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=True),
        sa.Column("parties", sa.Text, nullable=False),
        sa.Column("unit_ids", sa.Text, nullable=False),
        sa.Column("alert_ids", sa.Text, nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=True),
        sa.Column("zone_kind", sa.String(32), nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=True),
        sa.Column("evidence_frozen_s", sa.Double, nullable=True),
    )
    op.create_index("ix_incidents_time_s", "incidents", ["time_s"])
    op.create_table(
        "incident_accounts",
        sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("amends", sa.Integer, nullable=True),
    )
    op.create_table(
        "incident_timeline",
        sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("time_s", sa.Double, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "incident_evidence",
        sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "incident_evidence",
        "incident_timeline",
        "incident_accounts",
        "incidents",
        "ledger_checkpoints",
        "ledger_keys",
        "ledger_entries",
        "ledger_head",
    ):
        op.drop_table(table)
