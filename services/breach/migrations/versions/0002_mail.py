"""breach: mail outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from services.common.schema import create_mail_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_mail_table()


def downgrade() -> None:
    op.drop_table("mail_outbox")
