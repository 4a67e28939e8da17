"""Tables every service has: credentials, outbox, inbox, ledger, subject keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, LargeBinary, Table, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy Table behind a SQLModel table class."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone: it is restored here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def ts_column(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable, index=index)


class ApiToken(SQLModel, table=True):
    """A bearer token for staff and systems; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=200, description="Space-separated scopes: admin dpo system")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    revoked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class SiteKey(SQLModel, table=True):
    """A public key a website or widget sends with each call, bound to its allowed origins."""

    __tablename__ = "site_keys"
    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    origins: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of origins")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    revoked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class OutboxDead(SQLModel, table=True):
    """An outbox row the broker refused for good (an invalid or unknown topic, a record too large, ...),
    moved aside by the relay with the reason, so that the rows behind it flow on. Its id is its place in
    the outbox: the rows of the same key wait behind it (their order kept) until it is requeued."""

    __tablename__ = "outbox_dead"
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    topic: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=200, index=True)
    headers: str = Field(sa_column=Column(Text, nullable=False))
    value: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=ts_column())
    dead_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    reason: str = Field(sa_column=Column(Text, nullable=False))


class OutboxMessage(SQLModel, table=True):
    """A Kafka record written in the use-case's transaction, published later by the relay."""

    __tablename__ = "outbox"
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    topic: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=200)
    headers: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of [name, value]")
    value: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    published_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))

    # the relay scans only unpublished rows: a partial index (as the first migration made it)
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )


class RelayLease(SQLModel, table=True):
    """Which relay may publish the outbox now; two relays never publish at once."""

    __tablename__ = "relay_lease"
    name: str = Field(primary_key=True, max_length=50)
    owner: str = Field(max_length=100)
    expires_at: datetime = Field(sa_column=ts_column())


class InboxEvent(SQLModel, table=True):
    """An event a consumer has applied; written in the same transaction as its effect."""

    __tablename__ = "inbox"
    consumer: str = Field(primary_key=True, max_length=100)
    source: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=100)
    processed_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class LedgerEntry(SQLModel, table=True):
    """A leaf of the Merkle log: the canonical bytes exactly as hashed."""

    __tablename__ = "ledger_entries"
    seq: int = Field(
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    )
    event_id: str = Field(max_length=100, unique=True)
    event_type: str = Field(max_length=200)
    subject: str | None = Field(default=None, max_length=100, index=True)
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class LedgerNode(SQLModel, table=True):
    """Hash of the perfect subtree of 2**level leaves starting at leaf index * 2**level."""

    __tablename__ = "ledger_nodes"
    level: int = Field(primary_key=True)
    index: int = Field(
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    )
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerHead(SQLModel, table=True):
    """The one row that serializes appends: current size and the right edge of the tree."""

    __tablename__ = "ledger_head"
    id: int = Field(primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    frontier: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of hex hashes")


class LedgerCheckpoint(SQLModel, table=True):
    """A signed tree head (C2SP tlog-checkpoint)."""

    __tablename__ = "ledger_checkpoints"
    size: int = Field(
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    )
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SubjectKey(SQLModel, table=True):
    """A subject's data key, wrapped with the key-encryption key. Deleting it shreds the subject."""

    __tablename__ = "subject_keys"
    subject: str = Field(primary_key=True, max_length=100)
    key_id: str = Field(max_length=40, unique=True)
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
