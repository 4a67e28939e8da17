"""processors: the common tables every service has beside the first ones (the mail outbox, the outbox rows
the broker refuses for good).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# Frozen: this revision holds its own DDL and never changes; a later schema is a later revision.
def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(100), nullable=False, index=True),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        _ts("created_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_mail_outbox_status", "mail_outbox", ["status", "created_at"])
    op.create_table(
        "outbox_dead",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=True, index=True),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=True),
        _ts("created_at"),
        _ts("dead_at"),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_dead")
    op.drop_index("ix_mail_outbox_status", "mail_outbox")
    op.drop_table("mail_outbox")
