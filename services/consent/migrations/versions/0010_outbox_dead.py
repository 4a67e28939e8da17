"""consent: outbox rows the broker refuses for good, moved aside with the reason (the rows behind them flow on;
the rows of the same key wait behind them until they are requeued).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_dead",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=True, index=True),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_dead")
