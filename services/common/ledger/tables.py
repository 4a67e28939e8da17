"""What a ledger keeps besides its entries: the witnesses' cosignatures, each witness's standing, and every
restore the service found on start with its outcome. `create` is the migration every service runs for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Integer, Text
from sqlmodel import Field, SQLModel

from services.common.models import ts_column, utcnow


class LedgerCosignature(SQLModel, table=True):
    """A witness's cosignature line (C2SP tlog-cosignature) on the checkpoint of `size`."""

    __tablename__ = "ledger_cosignatures"
    size: int = Field(
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    )
    witness: str = Field(primary_key=True, max_length=200)
    line: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class LedgerWitness(SQLModel, table=True):
    """How a configured witness stands: the largest size it cosigned, and what it last answered."""

    __tablename__ = "ledger_witnesses"
    name: str = Field(primary_key=True, max_length=200)
    url: str = Field(max_length=500)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    state: str = Field(max_length=20, description="cosigning, behind (not cosigned yet), refused, unreachable")
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    checked_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class LedgerRecovery(SQLModel, table=True):
    """What a start found about the database against Kafka and the witnesses, and what was done."""

    __tablename__ = "ledger_recoveries"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    outcome: str = Field(max_length=20, description="restored, recovered, broken, acknowledged")
    restored_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    published_size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    recovered: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    reapplied: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    epoch: int = Field(default=1)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


def create(op: Any) -> None:
    """The migration of these tables (each service's own revision calls it)."""
    ts = sa.DateTime(timezone=True)
    big = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "ledger_cosignatures",
        sa.Column("size", big, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_table(
        "ledger_witnesses",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("checked_at", ts, nullable=False),
    )
    op.create_table(
        "ledger_recoveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", ts, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("restored_size", sa.BigInteger, nullable=False),
        sa.Column("published_size", sa.BigInteger, nullable=False),
        sa.Column("recovered", sa.BigInteger, nullable=False),
        sa.Column("reapplied", sa.BigInteger, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def drop(op: Any) -> None:
    for table in ("ledger_recoveries", "ledger_witnesses", "ledger_cosignatures"):
        op.drop_table(table)
