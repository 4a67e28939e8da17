"""Database engine, transactions and migrations (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.common.pgstore import PostgresStore
from services.common.store import STORE, SqliteStore, Store, Tx

__all__ = ["Database", "Tx", "insert_ignoring_duplicates"]


class Database:
    """One service's database, whatever the backend (its `store` knows that). `transaction()` is a use-case's
    unit of work; `unit()` the hot paths' (group commit, outbox relay)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.store: Store = store_for(url, pool_size=pool_size)
        self.engine: AsyncEngine = self.store.engine
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, info={STORE: self.store})
        # Called after a committed unit that asked for it (`Tx.wake`): the outbox and mail relays.
        self.commit_hooks: list[Callable[[], None]] = []
        self.tracing: Any = None  # services.common.telemetry.Tracing, set by the runtime

    @contextlib.asynccontextmanager
    async def transaction(self, *, span: str | None = "transaction") -> AsyncIterator[AsyncSession]:
        """A session inside BEGIN ... COMMIT; rolled back when the block raises. A use-case's transaction
        is a trace span (`span`; None for the background loops' own bookkeeping)."""
        traced = self.tracing.span(span) if (span and self.tracing) else contextlib.nullcontext()
        with traced:
            async with self.store.serialized(), self.sessions() as session, session.begin():
                tx = Tx.of(session)
                yield session
        self.committed(tx)

    def unit(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        """A transaction for the hot paths: on PostgreSQL an asyncpg connection of the store's own pool, on
        SQLite `transaction()`."""
        return self.store.unit(self)

    def committed(self, tx: Tx) -> None:
        """After a commit: what the unit counted (metrics: only what was committed), then the relays."""
        for counted in tx.on_commit:
            counted()
        if tx.woken:
            for hook in self.commit_hooks:
                hook()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    def startup_lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while a process migrates and seeds: several workers or replicas starting at once take
        turns instead of racing Alembic."""
        return self.store.startup_lock()

    async def migrate(self, migrations_dir: Path) -> None:
        """Apply the service's Alembic migrations up to head."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, migrations_dir)

    async def dispose(self) -> None:
        await self.store.dispose()


def store_for(url: str, *, pool_size: int = 10) -> Store:
    """The store of a database URL (the only place that tells the backends apart)."""
    if url.startswith("postgresql"):
        return PostgresStore(url, pool_size=pool_size)
    if url.startswith("sqlite"):
        return SqliteStore(url)
    raise ValueError(f"unsupported database URL {make_url(url).render_as_string(hide_password=True)!r}")


def alembic_config(migrations_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return cfg


def _upgrade(conn: Connection, migrations_dir: Path) -> None:
    cfg = alembic_config(migrations_dir)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def insert_ignoring_duplicates(session: AsyncSession, table: Any, values: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in the session's dialect; returns the statement to execute."""
    return Tx.of(session).store.ignoring_duplicates(table).values(values)
