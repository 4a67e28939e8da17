"""consent: the answer each ActiveCampaign delivery got, so that a replay of it gets the same one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activecampaign_deliveries") as batch:
        batch.add_column(sa.Column("answer_status", sa.Integer, nullable=True))
        batch.add_column(sa.Column("answer", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activecampaign_deliveries") as batch:
        batch.drop_column("answer")
        batch.drop_column("answer_status")
