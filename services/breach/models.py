"""Tables of the breach service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from services.common.models import ts_column, utcnow


class Breach(SQLModel, table=True):
    __tablename__ = "breaches"
    id: str = Field(primary_key=True, max_length=40)
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    awareness_at: datetime = Field(sa_column=ts_column())
    started_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    ongoing: bool = False
    ap_deadline: datetime = Field(sa_column=ts_column(index=True))
    details: str = Field(sa_column=Column(Text, nullable=False), description="JSON: nature, categories, numbers, ...")
    state: str = Field(max_length=20, description="registered, assessed, notified, closed")
    risk: str | None = Field(default=None, sa_column=Column(Text), description="JSON: factors, suggestion, outcome")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ApNotification(SQLModel, table=True):
    __tablename__ = "ap_notifications"
    id: str = Field(primary_key=True, max_length=40)
    breach_id: str = Field(foreign_key="breaches.id", max_length=40, index=True)
    phase: str = Field(max_length=20)
    content: str = Field(sa_column=Column(Text, nullable=False))
    prepared_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    submitted_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    ap_reference: str | None = Field(default=None, max_length=100)
    late_reason: str | None = Field(default=None, sa_column=Column(Text))
    recorded_by: str | None = Field(default=None, max_length=200)


class AffectedQuery(SQLModel, table=True):
    __tablename__ = "breach_affected_queries"
    id: str = Field(primary_key=True, max_length=40)
    breach_id: str = Field(foreign_key="breaches.id", max_length=40, index=True)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    progress: str = Field(
        default="{}", sa_column=Column(Text, nullable=False), description="JSON: holder -> {chunks, received: [...]}"
    )


class Recipient(SQLModel, table=True):
    """A person to tell (GDPR 34), with contact details encrypted for them."""

    __tablename__ = "breach_recipients"
    breach_id: str = Field(primary_key=True, foreign_key="breaches.id", max_length=40)
    subject: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=100)
    key_id: str = Field(max_length=40)
    contact: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="found", max_length=20, description="found, queued, sent, bounced, dropped")
    mail_id: str | None = Field(default=None, max_length=40, index=True)


class PublicCommunication(SQLModel, table=True):
    """GDPR 34(3)(c): a public communication instead of telling each person."""

    __tablename__ = "breach_public_communications"
    id: str = Field(primary_key=True, max_length=40)
    breach_id: str = Field(foreign_key="breaches.id", max_length=40, index=True)
    channel: str = Field(max_length=100)
    url: str | None = Field(default=None, max_length=2000)
    text: str = Field(sa_column=Column(Text, nullable=False))
    published_at: datetime = Field(sa_column=ts_column())
    recorded_by: str | None = Field(default=None, max_length=200)
