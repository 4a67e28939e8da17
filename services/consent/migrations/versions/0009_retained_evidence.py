"""consent: evidence kept for a legal obligation when its person is erased (GDPR 17(3)(b)), sealed under a
key of its own until the retention period ends.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retained_evidence",
        sa.Column("record_id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retained_evidence")
