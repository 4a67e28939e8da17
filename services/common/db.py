"""Database engine, transactions and migrations (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import any_, bindparam, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class Database:
    """One service's database. `transaction()` is the unit of work of a use-case."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")
        kwargs: dict[str, Any] = {}
        if self.is_postgres:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        else:
            path = make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(connect_args={"timeout": 30})
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if not self.is_postgres:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer: serialize this process's write transactions instead of
        # letting them fail with "database is locked".
        self._write_lock = asyncio.Lock() if not self.is_postgres else None
        # Called after a committed transaction that queued outbox rows or mail (wakes the relays).
        self.commit_hooks: list[Callable[[], None]] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside BEGIN ... COMMIT; rolled back when the block raises."""
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, self.sessions() as session, session.begin():
            yield session
        if session.info.get("wake"):
            for hook in self.commit_hooks:
                hook()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    @contextlib.asynccontextmanager
    async def startup_lock(self) -> AsyncIterator[None]:
        """Held while a process migrates and seeds: several workers or replicas starting at once take
        turns (a PostgreSQL advisory lock) instead of racing Alembic."""
        if not self.is_postgres:
            yield
            return
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(hashtext('privacy-startup'))"))
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(hashtext('privacy-startup'))"))
                await conn.commit()

    async def migrate(self, migrations_dir: Path) -> None:
        """Apply the service's Alembic migrations up to head."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, migrations_dir)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(migrations_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return cfg


def _upgrade(conn: Connection, migrations_dir: Path) -> None:
    cfg = alembic_config(migrations_dir)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under a PostgreSQL session, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    conn = raw.driver_connection
    assert conn is not None
    if not conn.is_in_transaction():  # SQLAlchemy's adapter begins lazily, at its first statement
        await connection.execute(text("SELECT 1"))
    return conn


def among(session: AsyncSession, column: Any, values: Collection[Any]) -> Any:
    """`column IN values`. On PostgreSQL as `= ANY(array)`: one bound parameter, so the statement is
    compiled once for every list length (an IN list of n values renders n parameters each time)."""
    if _on_postgres(session):
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def _on_postgres(session: AsyncSession) -> bool:
    return bool(session.get_bind().dialect.name == "postgresql")


def _dialect_insert(session: AsyncSession, table: Any) -> Any:
    if _on_postgres(session):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def upsert(session: AsyncSession, table: Any, *, keys: list[str], update: list[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET update-columns = the new values, for either dialect.
    Execute it with a list of rows (one cached statement, executemany), not `.values(rows)`, which
    compiles anew for every batch size."""
    stmt = _dialect_insert(session, table)
    return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update})


def ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for either dialect, to execute with a list of rows."""
    return _dialect_insert(session, table).on_conflict_do_nothing()


def insert_ignoring_duplicates(session: AsyncSession, table: Any, values: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for either dialect; returns the statement to execute."""
    return _dialect_insert(session, table).values(values).on_conflict_do_nothing()
