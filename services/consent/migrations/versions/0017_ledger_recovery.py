"""consent: the witnesses' cosignatures, their standing, and the restores found on start
(services/common/ledger/tables.py).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from services.common.ledger import tables

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables.create(op)


def downgrade() -> None:
    tables.drop(op)
