"""processors: the purposes consent saw each person with (an instructed processor is asked about them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
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
        "seen_purposes",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(60), primary_key=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("seen_purposes")
