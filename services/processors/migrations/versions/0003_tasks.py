"""processors: a task per processor per request or consent change, and each connector's standing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "processor_tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("dedupe", sa.String(200), nullable=False, unique=True),
        sa.Column("request_id", sa.String(64), nullable=True, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("processor", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("sealed", sa.Text, nullable=True),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at", nullable=True),
        _ts("claimed_until", nullable=True),
        _ts("deadline", nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("calls", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("settled_at", nullable=True),
    )
    op.create_index("ix_processor_tasks_due", "processor_tasks", ["state", "next_attempt_at"])
    op.create_table(
        "connector_status",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("state", sa.String(30), nullable=False),
        _ts("last_success_at", nullable=True),
        _ts("last_failure_at", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        _ts("updated_at"),
    )


def downgrade() -> None:
    op.drop_table("connector_status")
    op.drop_index("ix_processor_tasks_due", "processor_tasks")
    op.drop_table("processor_tasks")
