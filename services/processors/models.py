"""Tables of the processors service: one task per processor per request or consent change (rows, not
memory: a restart loses and doubles nothing), and each connector's standing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from services.common.models import ts_column, utcnow


class ProcessorTask(SQLModel, table=True):
    """What one processor must do for one person: from a data-subject request or a consent change."""

    __tablename__ = "processor_tasks"
    id: str = Field(primary_key=True, max_length=40)
    dedupe: str = Field(max_length=200, unique=True, description="request or event id and processor: once only")
    request_id: str | None = Field(default=None, max_length=64, index=True)
    kind: str = Field(max_length=20, description="the request's kind (access, erasure, ...) or sync")
    action: str = Field(max_length=20, description="what the connector is asked: access, erasure, unsubscribe, ...")
    processor: str = Field(max_length=60, description="the connector's key")
    subject: str = Field(max_length=64, index=True)
    key_id: str | None = Field(default=None, max_length=40)
    sealed: str | None = Field(
        default=None, sa_column=Column(Text), description="the person's address (and corrections), sealed for them"
    )
    state: str = Field(max_length=30, description="waiting, running, done, nothing_held, exempt, failed, ...")
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    claimed_until: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    deadline: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(Text), description="in words, no personal data")
    calls: str = Field(default="[]", sa_column=Column(Text, nullable=False), description="[method, path, status]")
    answer: str | None = Field(default=None, sa_column=Column(Text), description="access: what it holds, sealed")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    settled_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    due_at: datetime | None = Field(
        default=None, sa_column=ts_column(nullable=True), description="submitted: when the processor will have done it"
    )

    __table_args__ = (Index("ix_processor_tasks_due", "state", "next_attempt_at"),)


class ConnectorStatus(SQLModel, table=True):
    """How a connector stands: connected, needs_authorisation, failing, rate_limited or not_configured."""

    __tablename__ = "connector_status"
    key: str = Field(primary_key=True, max_length=60)
    state: str = Field(max_length=30)
    last_success_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Identifier(SQLModel, table=True):
    """An identifier a processor names a person by instead of their address (`kind`: ga_client_id, which
    consent carries sealed when a browser that consented to analytics presents it), sealed for the person:
    once per value (`digest`, a keyed hash); goes with the person at an erasure."""

    __tablename__ = "identifiers"
    subject: str = Field(primary_key=True, max_length=64)
    digest: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=40)
    key_id: str = Field(max_length=40)
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SeenPurpose(SQLModel, table=True):
    """A purpose consent saw a person with (a grant or a withdrawal): an instructed processor working on it is
    asked about them. Goes with the person at an erasure."""

    __tablename__ = "seen_purposes"
    subject: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(primary_key=True, max_length=60)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class OAuthGrant(SQLModel, table=True):
    """A connector's OAuth2 tokens (sealed with the key-encryption key). Each refresh returns a new refresh
    token and kills the old one: the row is locked while one worker refreshes, and the new pair is stored in
    the same transaction, so that two refreshes at once never burn the grant."""

    __tablename__ = "oauth_grants"
    key: str = Field(primary_key=True, max_length=60)
    access_token: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    refresh_token: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    version: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class RateWindow(SQLModel, table=True):
    """A connector's recent send times (JSON list of epoch seconds), shared by every worker: the processor's
    limit is per account, so every process takes its turn on this row (limits.py)."""

    __tablename__ = "rate_windows"
    key: str = Field(primary_key=True, max_length=60)
    sent: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
