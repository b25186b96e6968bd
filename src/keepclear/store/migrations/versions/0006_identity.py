"""Identity: API keys (hashes only).

Revision ID: 0006_identity
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_identity"
down_revision = "0001_foundation"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_s", sa.Double, nullable=False),
        sa.Column("revoked_s", sa.Double, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
