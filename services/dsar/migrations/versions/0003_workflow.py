"""dsar: identity verification, extension, refusal, language, fragments, the holder registry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsar_requests") as t:
        t.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="nl"))
        t.add_column(sa.Column("holders", sa.Text, nullable=False, server_default="[]"))
        t.add_column(sa.Column("verify_hash", sa.String(64), nullable=True))
        t.add_column(sa.Column("reminder_hash", sa.String(64), nullable=True))
        t.add_column(sa.Column("verify_expires_at", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("extension_reason", sa.Text, nullable=True))
        t.add_column(sa.Column("refusal_reason", sa.Text, nullable=True))
        t.add_column(sa.Column("linked_requests", sa.Integer, nullable=False, server_default="0"))
        t.create_index("ix_dsar_requests_verify_hash", ["verify_hash"])
        t.create_index("ix_dsar_requests_reminder_hash", ["reminder_hash"])
        t.create_index("ix_dsar_requests_state_deadline", ["state", "deadline"])
    with op.batch_alter_table("dsar_holder_answers") as t:
        t.add_column(sa.Column("key_id", sa.String(40), nullable=True))
        t.add_column(sa.Column("fragment", sa.Text, nullable=True))
        t.add_column(sa.Column("answered_by", sa.String(200), nullable=True))
    holders = op.create_table(
        "dsar_holders",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        holders,
        [
            {
                "name": "consent",
                "kind": "kafka",
                "description": "consent service (consent.events.v1)",
                "active": True,
                "created_at": now,
            },
            {
                "name": "breach",
                "kind": "kafka",
                "description": "breach service (breach.events.v1)",
                "active": True,
                "created_at": now,
            },
        ],
    )


def downgrade() -> None:
    op.drop_table("dsar_holders")
    with op.batch_alter_table("dsar_holder_answers") as t:
        for c in ("answered_by", "fragment", "key_id"):
            t.drop_column(c)
    with op.batch_alter_table("dsar_requests") as t:
        for c in (
            "linked_requests",
            "refusal_reason",
            "extension_reason",
            "reminded_at",
            "verify_expires_at",
            "reminder_hash",
            "verify_hash",
            "holders",
            "language",
        ):
            t.drop_column(c)
