"""consent: evidence sealed again under a person's new key when one of their purposes was shredded.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rekeyed_evidence",
        sa.Column("record_id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rekeyed_evidence_subject", "rekeyed_evidence", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_rekeyed_evidence_subject", "rekeyed_evidence")
    op.drop_table("rekeyed_evidence")
