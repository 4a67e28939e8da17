"""The PostgreSQL store: pooled SQLAlchemy sessions for the use-cases, asyncpg itself for the hot paths, and a
unit's writes as one statement of data-modifying CTEs (see services/common/store.py for the interface)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import Boolean, Integer, Table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.store import InsertRows, Store, Tx, UpdateRow, plain_columns, quoted_columns

_RAW_POOL_SIZE = 4
T = TypeVar("T")


class PostgresStore(Store):
    """Production: pooled SQLAlchemy sessions for the use-cases, asyncpg itself for the hot paths."""

    name = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self._pool_size = pool_size
        super().__init__(url)
        self._raw_pool: Any = None  # made at first use
        self._raw_pool_lock = asyncio.Lock()

    def _engine_options(self) -> dict[str, Any]:
        return {"pool_size": self._pool_size, "max_overflow": self._pool_size, "pool_pre_ping": True}

    @contextlib.asynccontextmanager
    async def unit(self, db: Any) -> AsyncIterator[Tx]:
        """An asyncpg connection of the store's own small pool, inside BEGIN. A SQLAlchemy session costs
        ~450 µs of CPU for a transaction of one statement (checkout, pre-ping, BEGIN, COMMIT, reset) and
        ~110 µs per further statement, asyncpg ~90 µs and ~25 µs."""
        pool = await self._pool()
        conn, transaction = await self._begin(pool)
        try:
            tx = Tx(self, conn=conn)
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(Exception):  # a dead connection cannot roll back; it is dropped
                    await transaction.rollback()
                raise
            await transaction.commit()
        finally:
            await pool.release(conn)
        db.committed(tx)

    async def _begin(self, pool: Any) -> tuple[Any, Any]:
        """A pooled connection inside BEGIN (see `_live`)."""

        async def begin(conn: Any) -> Any:
            transaction = conn.transaction()
            await transaction.start()
            return transaction

        return await _live(pool, begin)

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
    async def startup_lock(self) -> AsyncIterator[None]:
        """Several workers or replicas starting at once take turns (an advisory lock), not racing Alembic."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(hashtext('privacy-startup'))"))
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(hashtext('privacy-startup'))"))
                await conn.commit()

    async def listen(self, wake: Callable[[], None]) -> Callable[[], Any] | None:
        """The outbox's insert trigger NOTIFYs `outbox` (every service's first migration)."""
        import asyncpg

        conn = await asyncpg.connect(raw_dsn(self.url))
        await conn.add_listener("outbox", lambda *_: wake())
        close: Callable[[], Any] = conn.close
        return close

    async def dispose(self) -> None:
        if self._raw_pool is not None:
            try:  # waits for connections still out; a shutdown must not hang on one that never returns
                async with asyncio.timeout(10):
                    await self._raw_pool.close()
            except TimeoutError:
                self._raw_pool.terminate()
            self._raw_pool = None
        await super().dispose()

    def insert(self, table: Any) -> Any:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)

    async def rows_in(
        self, tx: Tx, table: Any, columns: tuple[str, ...], key: str, values: Collection[Any]
    ) -> list[Any]:
        conn = await tx.driver()
        return list(await conn.fetch(_rows_in_sql(table, columns, key), list(values)))

    async def row_for_update(self, tx: Tx, table: Any, columns: tuple[str, ...], key: str, value: Any) -> Any:
        conn = await tx.driver()
        return await conn.fetchrow(_for_update_sql(table, columns, key), value)

    async def driver(self, tx: Tx) -> Any:
        assert tx.session is not None
        return await driver_connection(tx.session)

    async def execute(self, tx: Tx, parts: Sequence[InsertRows | UpdateRow]) -> None:
        """One statement for the whole unit: a round trip is what a batch's time follows under load."""
        shape = tuple(
            (p.table, tuple(p.rows[0]), p.on_conflict, p.update, True)
            if isinstance(p, InsertRows)
            else (p.table, tuple(p.key) + tuple(p.values), tuple(p.key), (), False)
            for p in parts
        )
        args: list[Any] = []
        for part in parts:
            if isinstance(part, InsertRows):
                args.append(orjson.dumps(part.rows, default=_bytea).decode())
            else:
                args.extend([*part.key.values(), *part.values.values()])
        conn = await tx.driver()
        await conn.execute(_statement(shape), *args)

    async def unpublished(self, db: Any, outbox: Table, limit: int) -> list[Any]:
        return list(await self._alone(lambda conn: conn.fetch(_UNPUBLISHED_SQL, limit)))

    async def mark_published(self, db: Any, outbox: Table, ids: list[int], at: datetime) -> None:
        await self._alone(lambda conn: conn.execute(_MARK_SQL, at, ids))

    async def _alone(self, statement: Callable[[Any], Awaitable[Any]]) -> Any:
        """One statement that commits by itself, on a pooled connection outside any transaction: BEGIN and
        COMMIT were two of a relay round's six round trips to the server, ~330 µs of CPU each on this
        machine (benchmarks/outbox_relay.py). The statement must be safe to repeat (see `_live`)."""
        pool = await self._pool()
        conn, result = await _live(pool, statement)
        await pool.release(conn)
        return result


async def _live(pool: Any, first: Callable[[Any], Awaitable[T]]) -> tuple[Any, T]:
    """A pooled connection on which `first` succeeded, and what it returned. A connection the server dropped
    (restart, failover, a proxy's idle cut) fails at its first statement, before anything ran: it is
    discarded and `first` runs on another. This is SQLAlchemy's pre-ping, paid only when it fails."""
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
        try:
            return conn, await first(conn)
        except dropped:
            # asyncpg may already have handed a lost connection back to the pool when it noticed
            with contextlib.suppress(asyncpg.exceptions.InterfaceError):
                conn.terminate()
            await pool.release(conn)
            if attempt == _RAW_POOL_SIZE:
                raise
        except BaseException:  # cancelled or refused: the connection goes back, never leaks
            await pool.release(conn)
            raise
    raise AssertionError("unreachable")


def raw_dsn(url: str) -> str:
    """The SQLAlchemy URL as a DSN for asyncpg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under a PostgreSQL session, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    conn = raw.driver_connection
    assert conn is not None
    if not conn.is_in_transaction():  # SQLAlchemy's adapter begins lazily, at its first statement
        await connection.execute(text("SELECT 1"))
    return conn


async def _nothing_to_reset(_conn: Any) -> None:
    return None


@functools.lru_cache(maxsize=64)
def _rows_in_sql(table: Any, columns: tuple[str, ...], key: str) -> str:
    column_type = table.c[key].type
    kind = "bigint" if isinstance(column_type, Integer) else "boolean" if isinstance(column_type, Boolean) else "text"
    return f'SELECT {quoted_columns(table, columns)} FROM "{table.name}" WHERE "{key}" = ANY($1::{kind}[])'  # noqa: S608


@functools.lru_cache(maxsize=64)
def _for_update_sql(table: Any, columns: tuple[str, ...], key: str) -> str:
    return f'SELECT {quoted_columns(table, columns)} FROM "{table.name}" WHERE "{key}" = $1 FOR UPDATE'  # noqa: S608


# the rows waiting behind a dead row of their key (outbox_dead, almost always empty) are left where they are
_UNPUBLISHED_SQL = (
    "SELECT id, topic, key, value, headers FROM outbox o WHERE published_at IS NULL"
    " AND (key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox_dead d WHERE d.key = o.key)) ORDER BY id LIMIT $1"
)
_MARK_SQL = "UPDATE outbox SET published_at = $1 WHERE id = ANY($2::bigint[])"


@functools.lru_cache(maxsize=128)
def _statement(shape: tuple[tuple[Table, tuple[str, ...], tuple[str, ...] | None, tuple[str, ...], bool], ...]) -> str:
    """Data-modifying CTEs, each insert's rows one JSON array read as the table's rows by
    `json_populate_recordset` (asyncpg's binary arrays cost ~3x the client CPU: it checks every element
    against three ABCs); rows are inserted in the order given (outbox ids follow it). The columns take
    JSON's text through their own input functions: timestamps as ISO 8601, bytea as `\\x` hex."""
    ctes = []
    n = 0
    for i, (table, columns, keys, updated, is_insert) in enumerate(shape):
        quoted = ", ".join(f'"{c}"' for c in columns)
        if is_insert:
            plain_columns(table, columns)
            n += 1
            sql = (
                f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} '  # noqa: S608 - columns checked
                f'FROM json_populate_recordset(NULL::"{table.name}", ${n}::text::json) WITH ORDINALITY AS u '
                "ORDER BY u.ordinality"
            )
            if keys is not None:
                target = ", ".join(f'"{c}"' for c in keys)
                if updated:
                    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in updated)
                    sql += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
                else:
                    sql += f" ON CONFLICT ({target}) DO NOTHING"
        else:
            assert keys is not None
            where = " AND ".join(f'"{c}" = ${n + j + 1}' for j, c in enumerate(keys))
            sets = ", ".join(f'"{c}" = ${n + len(keys) + j + 1}' for j, c in enumerate(columns[len(keys) :]))
            n += len(columns)
            sql = f'UPDATE "{table.name}" SET {sets} WHERE {where}'  # noqa: S608 - columns checked
        ctes.append(f"w{i} AS ({sql})")
    return "WITH " + ", ".join(ctes) + " SELECT 1"


def _bytea(value: Any) -> str:
    """orjson's fallback: bytes as bytea's hex input form."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    raise TypeError(f"{type(value).__name__} cannot be written")
