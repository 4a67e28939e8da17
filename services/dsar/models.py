"""Tables of the dsar service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from services.common.models import ts_column, utcnow


class DsarRequest(SQLModel, table=True):
    __tablename__ = "dsar_requests"
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=20)
    subject: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=40)
    state: str = Field(max_length=20)
    language: str = Field(default="nl", max_length=2)
    received_at: datetime = Field(sa_column=ts_column())
    verified_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    deadline: datetime = Field(sa_column=ts_column())
    completed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    key_id: str | None = Field(default=None, max_length=40)
    details: str | None = Field(default=None, sa_column=Column(Text), description="Encrypted email and free text")
    holders: str = Field(default="[]", sa_column=Column(Text, nullable=False), description="JSON: who must answer")
    verify_hash: str | None = Field(default=None, max_length=64, index=True)
    reminder_hash: str | None = Field(default=None, max_length=64, index=True)
    verify_expires_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    reminded_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    extension_reason: str | None = Field(default=None, sa_column=Column(Text))
    refusal_reason: str | None = Field(default=None, sa_column=Column(Text))
    linked_requests: int = Field(default=0, description="Later requests of the same kind linked to this one")

    __table_args__ = (Index("ix_dsar_requests_state_deadline", "state", "deadline"),)  # the queue, by deadline


class HolderAnswer(SQLModel, table=True):
    __tablename__ = "dsar_holder_answers"
    request_id: str = Field(primary_key=True, foreign_key="dsar_requests.id", max_length=64)
    holder: str = Field(primary_key=True, max_length=100)
    outcome: str = Field(max_length=20)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    key_id: str | None = Field(default=None, max_length=40)
    fragment: str | None = Field(default=None, sa_column=Column(Text), description="Encrypted for the subject")
    answered_by: str | None = Field(default=None, max_length=200)


class Holder(SQLModel, table=True):
    """The system registry: every holder that must answer requests (statement Art. 8 processors too)."""

    __tablename__ = "dsar_holders"
    name: str = Field(primary_key=True, max_length=100)
    kind: str = Field(max_length=20, description="kafka (answers with events) or manual (staff close a task)")
    description: str = Field(default="", max_length=500)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
