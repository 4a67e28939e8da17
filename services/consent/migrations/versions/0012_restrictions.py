"""consent: restrictions of processing (GDPR 18): what they replaced, and when lifting was told and is due.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restrictions",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("previous", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lift_told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lift_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("lifted_by", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("restrictions")
