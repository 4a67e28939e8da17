"""consent: the common tables (credentials, outbox, inbox, ledger, subject keys).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from services.common.schema import create_common_tables, drop_common_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_common_tables()


def downgrade() -> None:
    drop_common_tables()
