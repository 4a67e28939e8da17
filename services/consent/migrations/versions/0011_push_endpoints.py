"""consent: other systems told of consent changes (Standard Webhooks): the endpoints, and the deliveries
written with each change (an outbox for webhooks).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "push_endpoints",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("purposes", sa.Text, nullable=False),
        sa.Column("include_email", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("previous_secret", sa.LargeBinary, nullable=True),
        _ts("previous_until", nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "push_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("sealed_email", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        _ts("created_at"),
        _ts("delivered_at", nullable=True),
        _ts("dead_at", nullable=True),
    )
    op.create_index(
        "ix_push_deliveries_waiting",
        "push_deliveries",
        ["endpoint", "id"],
        sqlite_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("push_deliveries")
    op.drop_table("push_endpoints")
