"""Database engine, transactions and migrations (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Integer, event, select, text
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
        self._raw_pool: Any = None  # asyncpg pool for hot paths (see `unit`), made at first use
        self._raw_pool_lock = asyncio.Lock()
        self.tracing: Any = None  # services.common.telemetry.Tracing, set by the runtime

    @contextlib.asynccontextmanager
    async def transaction(self, *, span: str | None = "transaction") -> AsyncIterator[AsyncSession]:
        """A session inside BEGIN ... COMMIT; rolled back when the block raises. A use-case's transaction
        is a trace span (`span`; None for the background loops' own bookkeeping)."""
        lock = self._write_lock or contextlib.nullcontext()
        traced = self.tracing.span(span) if (span and self.tracing) else contextlib.nullcontext()
        with traced:
            async with lock, self.sessions() as session, session.begin():
                yield session
        for counted in session.info.pop("after_commit", ()):  # e.g. metrics: only what was committed
            counted()
        if session.info.get("wake"):
            for hook in self.commit_hooks:
                hook()

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Tx]:
        """A transaction for the hot paths (group commit, outbox relay). On PostgreSQL it is an asyncpg
        connection of its own small pool: a SQLAlchemy session costs ~450 µs of CPU for a transaction of
        one statement (checkout, pre-ping, BEGIN, COMMIT, reset) and ~110 µs per further statement,
        asyncpg ~90 µs and ~25 µs. On SQLite it is `transaction()`."""
        if not self.is_postgres:
            async with self.transaction() as session:
                yield Tx(session=session)
            return
        pool = await self._pool()
        conn, transaction = await self._begin(pool)
        try:
            tx = Tx(conn=conn)
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(Exception):  # a dead connection cannot roll back; it is dropped
                    await transaction.rollback()
                raise
            await transaction.commit()
        finally:
            await pool.release(conn)
        if tx.wake:
            for hook in self.commit_hooks:
                hook()

    async def _begin(self, pool: Any) -> tuple[Any, Any]:
        """A pooled connection inside BEGIN. A connection the server dropped (restart, failover, a proxy's
        idle cut) fails at BEGIN, before anything of the unit ran: it is discarded and another taken. This
        is SQLAlchemy's pre-ping, paid only when it fails."""
        import asyncpg

        dropped = (
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.InternalClientError,
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,
            OSError,
        )
        for attempt in range(_RAW_POOL_SIZE + 1):
            conn = await pool.acquire()
            transaction = conn.transaction()
            try:
                await transaction.start()
                return conn, transaction
            except dropped:
                # asyncpg may already have handed a lost connection back to the pool when it noticed
                with contextlib.suppress(asyncpg.exceptions.InterfaceError):
                    conn.terminate()
                await pool.release(conn)
                if attempt == _RAW_POOL_SIZE:
                    raise
            except BaseException:  # cancelled while beginning: the connection goes back, never leaks
                await pool.release(conn)
                raise
        raise AssertionError("unreachable")

    async def _pool(self) -> Any:
        async with self._raw_pool_lock:
            if self._raw_pool is None:
                import asyncpg

                self._raw_pool = await asyncpg.create_pool(
                    raw_dsn(self.url),
                    min_size=1,
                    max_size=_RAW_POOL_SIZE,
                    # Units always end in COMMIT or ROLLBACK and set no session state; asyncpg still rolls
                    # back a connection returned inside a transaction. Skips RESET ALL etc. per release.
                    reset=_nothing_to_reset,
                )
        return self._raw_pool

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
        if self._raw_pool is not None:
            try:  # waits for connections still out; a shutdown must not hang on one that never returns
                async with asyncio.timeout(10):
                    await self._raw_pool.close()
            except TimeoutError:
                self._raw_pool.terminate()
            self._raw_pool = None
        await self.engine.dispose()


_RAW_POOL_SIZE = 4


async def _nothing_to_reset(_conn: Any) -> None:
    return None


def raw_dsn(url: str) -> str:
    """The SQLAlchemy URL as a DSN for asyncpg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Tx:
    """The transaction a hot path works in: a SQLAlchemy session (either backend), or on PostgreSQL an
    asyncpg connection. Offers the few statements those paths need, as plain SQL on asyncpg."""

    def __init__(self, session: AsyncSession | None = None, conn: Any = None) -> None:
        self.session = session
        self.conn = conn
        self.wake = False  # outbox rows or mail queued: wake the relays after commit

    @staticmethod
    def of(where: AsyncSession | Tx) -> Tx:
        return where if isinstance(where, Tx) else Tx(session=where)

    @property
    def on_postgres(self) -> bool:
        return self.conn is not None or (self.session is not None and _on_postgres(self.session))

    def queued_outbox(self) -> None:
        self.wake = True
        if self.session is not None:
            self.session.info["wake"] = True

    async def driver(self) -> Any:
        """The asyncpg connection (PostgreSQL only)."""
        if self.conn is None:
            assert self.session is not None
            self.conn = await driver_connection(self.session)
        return self.conn

    async def rows_in(self, table: Any, columns: tuple[str, ...], key: str, values: Collection[Any]) -> list[Any]:
        """SELECT columns FROM table WHERE key IN values."""
        quoted_columns(table, (*columns, key))
        if self.on_postgres:
            conn = await self.driver()
            return list(await conn.fetch(_rows_in_sql(table, columns, key), list(values)))
        assert self.session is not None
        query = select(*(table.c[c] for c in columns)).where(table.c[key].in_(list(values)))
        return list(await self.session.execute(query))

    async def row_for_update(self, table: Any, columns: tuple[str, ...], key: str, value: Any) -> Any:
        """SELECT columns FROM table WHERE key = value FOR UPDATE: exactly one row."""
        quoted_columns(table, (*columns, key))
        if self.on_postgres:
            conn = await self.driver()
            row = await conn.fetchrow(_for_update_sql(table, columns, key), value)
        else:
            assert self.session is not None
            query = select(*(table.c[c] for c in columns)).where(table.c[key] == value).with_for_update()
            row = (await self.session.execute(query)).first()
        if row is None:
            raise LookupError(f"{table.name}: no row with {key} = {value!r}")
        return row


@functools.lru_cache(maxsize=256)
def quoted_columns(table: Any, columns: tuple[str, ...]) -> str:
    """The columns quoted for SQL text, after checking that the table has them (once per shape)."""
    unknown = set(columns) - set(table.c.keys())
    if unknown:  # names come from code, never from a request; checked so the SQL text stays safe
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")
    return ", ".join(f'"{c}"' for c in columns)


@functools.lru_cache(maxsize=64)
def _rows_in_sql(table: Any, columns: tuple[str, ...], key: str) -> str:
    kind = "bigint" if isinstance(table.c[key].type, Integer) else "text"
    return f'SELECT {quoted_columns(table, columns)} FROM "{table.name}" WHERE "{key}" = ANY($1::{kind}[])'  # noqa: S608


@functools.lru_cache(maxsize=64)
def _for_update_sql(table: Any, columns: tuple[str, ...], key: str) -> str:
    return f'SELECT {quoted_columns(table, columns)} FROM "{table.name}" WHERE "{key}" = $1 FOR UPDATE'  # noqa: S608


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
