"""breach: the witnesses' cosignatures, their standing, and the restores found on start
(services/common/ledger/tables.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from services.common.ledger import tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables.create(op)


def downgrade() -> None:
    tables.drop(op)
