"""Tables of the dsar service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from services.common.models import ts_column, utcnow


class DsarRequest(SQLModel, table=True):
    __tablename__ = "dsar_requests"
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=20)
    subject: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=40)
    state: str = Field(max_length=20)
    received_at: datetime = Field(sa_column=ts_column())
    verified_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    deadline: datetime = Field(sa_column=ts_column())
    completed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    key_id: str | None = Field(default=None, max_length=40)
    details: str | None = Field(default=None, sa_column=Column(Text), description="Encrypted email and free text")


class HolderAnswer(SQLModel, table=True):
    __tablename__ = "dsar_holder_answers"
    request_id: str = Field(primary_key=True, foreign_key="dsar_requests.id", max_length=64)
    holder: str = Field(primary_key=True, max_length=100)
    outcome: str = Field(max_length=20)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
