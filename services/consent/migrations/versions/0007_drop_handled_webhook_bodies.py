"""consent: the raw bodies of ActiveCampaign deliveries already handled are dropped, as new ones are.

A stored body is sealed with a purpose key, not a person's, so an erasure cannot shred it; once handled,
what it said is in the ledger sealed for the person. Only deliveries still to be (re)tried keep theirs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE activecampaign_deliveries SET body = :empty WHERE status NOT IN ('received', 'failed')"
        ).bindparams(sa.bindparam("empty", b"", type_=sa.LargeBinary))
    )


def downgrade() -> None:
    """Nothing to restore: the bodies are gone on purpose."""
