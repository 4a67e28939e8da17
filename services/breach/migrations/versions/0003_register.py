"""breach: the register, AP notifications, affected-people queries, recipients, public communications.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False, index: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def upgrade() -> None:
    op.create_table(
        "breaches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        _ts("awareness_at"),
        _ts("started_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.Column("ongoing", sa.Boolean, nullable=False),
        _ts("ap_deadline", index=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("risk", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "ap_notifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("breach_id", sa.String(40), sa.ForeignKey("breaches.id"), nullable=False, index=True),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        _ts("prepared_at"),
        _ts("submitted_at", nullable=True),
        sa.Column("ap_reference", sa.String(100), nullable=True),
        sa.Column("late_reason", sa.Text, nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=True),
    )
    op.create_table(
        "breach_affected_queries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("breach_id", sa.String(40), sa.ForeignKey("breaches.id"), nullable=False, index=True),
        _ts("requested_at"),
        sa.Column("progress", sa.Text, nullable=False),
    )
    op.create_table(
        "breach_recipients",
        sa.Column("breach_id", sa.String(40), sa.ForeignKey("breaches.id"), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("mail_id", sa.String(40), nullable=True, index=True),
    )
    op.create_table(
        "breach_public_communications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("breach_id", sa.String(40), sa.ForeignKey("breaches.id"), nullable=False, index=True),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        _ts("published_at"),
        sa.Column("recorded_by", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "breach_public_communications",
        "breach_recipients",
        "breach_affected_queries",
        "ap_notifications",
        "breaches",
    ):
        op.drop_table(table)
