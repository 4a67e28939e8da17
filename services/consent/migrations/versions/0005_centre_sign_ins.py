"""consent: privacy-centre sign-in links (hash, the person's address encrypted, single use).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "centre_sign_ins",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("centre_sign_ins")
