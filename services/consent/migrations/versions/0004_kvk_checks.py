"""consent: KvK checks (statement Art. 4), their outcome and, until done, the encrypted input.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kvk_checks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("receipt_id", sa.String(60), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("mismatches", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("reference", sa.String(300), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("sealed", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("kvk_checks")
