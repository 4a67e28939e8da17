"""consent: subjects, records, current state, opt-in tokens, processors, webhook deliveries, mail outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.consent.domain import load_catalogue

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def upgrade() -> None:
    _mail_table()
    op.create_table(
        "consent_subjects",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("person", sa.String(64), nullable=True, index=True),
        _ts("created_at"),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("third_party", sa.String(200), nullable=False, server_default=""),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("legal_basis", sa.String(30), nullable=False),
        sa.Column("channel", sa.String(30), nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("notice_version", sa.String(100), nullable=False),
        sa.Column("notice_hash", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        _ts("created_at", index=True),
    )
    op.create_table(
        "consent_state",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(60), primary_key=True),
        sa.Column("third_party", sa.String(200), primary_key=True, server_default=""),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("record_id", sa.String(40), nullable=False),
        _ts("changed_at"),
        _ts("expires_at", nullable=True, index=True),
    )
    op.create_table(
        "optin_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("record_ids", sa.Text, nullable=False),
        sa.Column("mail_id", sa.String(40), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
    )
    processors = op.create_table(
        "processors",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("agreement", sa.String(20), nullable=False),
        _ts("updated_at"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        processors,
        [
            {
                "id": re.sub(r"[^a-z0-9]+", "-", p.name.lower()).strip("-"),
                "name": p.name,
                "service": p.service,
                "agreement": p.agreement,
                "updated_at": now,
            }
            for p in load_catalogue().processors
        ],
    )
    op.create_table(
        "activecampaign_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("event_type", sa.String(60), nullable=True),
        sa.Column("subject", sa.String(64), nullable=True, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        _ts("received_at"),
        _ts("processed_at", nullable=True),
    )


def downgrade() -> None:
    for table in (
        "activecampaign_deliveries",
        "processors",
        "optin_tokens",
        "consent_state",
        "consent_records",
        "consent_subjects",
        "mail_outbox",
    ):
        op.drop_table(table)


# Frozen: this revision holds its own DDL and never changes; a later schema is a later revision.
def _mail_table() -> None:
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
