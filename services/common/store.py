"""One store per backend, behind one interface: how a unit of work reaches the database.

`Database` (db.py) is backend-free: it asks its store for the engine, the hot-path transaction (`unit`),
the few statements the shared mechanisms need (rows in a set, a row for update, a unit's writes, the
outbox's queue) and the dialect's INSERT. `SqliteStore` runs everything through SQLAlchemy and serializes
a process's writers (SQLite has one); `PostgresStore` (pgstore.py) runs the hot paths on asyncpg connections
of its own small pool, and a unit's writes as one statement of data-modifying CTEs. `Tx` is the transaction
a unit of work is written in, whichever the store."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.types import TypeDecorator


@dataclass
class InsertRows:
    """Rows for one table, all with the same keys; `on_conflict` names the key columns (`update`: the columns
    that take the new values; none: duplicates are skipped)."""

    table: Table
    rows: list[dict[str, Any]]
    on_conflict: tuple[str, ...] | None
    update: tuple[str, ...]


@dataclass
class UpdateRow:
    """UPDATE table SET values WHERE the key columns equal the key values."""

    table: Table
    key: dict[str, Any]
    values: dict[str, Any]


class Store:
    """What differs between the backends. Every method that takes a `tx` works in that transaction."""

    name = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, **self._engine_options())

    def _engine_options(self) -> dict[str, Any]:
        return {}

    # --- transactions ------------------------------------------------------------------------------------

    def serialized(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Held around a write transaction of this process."""
        return contextlib.nullcontext()

    def unit(self, db: Any) -> contextlib.AbstractAsyncContextManager[Tx]:
        """The hot paths' transaction (group commit, outbox relay)."""
        raise NotImplementedError

    def startup_lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while a process migrates and seeds."""
        return _nothing_held()

    async def listen(self, wake: Callable[[], None]) -> Callable[[], Any] | None:
        """Wake on other processes' commits (PostgreSQL's NOTIFY); returns what closes the listener."""
        return None

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def driver(self, tx: Tx) -> Any:
        """The DBAPI driver's connection under a session's transaction, for the store's own statements."""
        raise NotImplementedError(f"the {self.name} store works through SQLAlchemy sessions")

    # --- statements ----------------------------------------------------------------------------------

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT (with ON CONFLICT)."""
        raise NotImplementedError

    def upsert(self, table: Any, *, keys: list[str], update: list[str]) -> Any:
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET update-columns = the new values. Execute it with a list
        of rows (one cached statement, executemany), not `.values(rows)`, which compiles per batch size."""
        stmt = self.insert(table)
        return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update})

    def ignoring_duplicates(self, table: Any) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING, to execute with a list of rows."""
        return self.insert(table).on_conflict_do_nothing()

    async def rows_in(
        self, tx: Tx, table: Any, columns: tuple[str, ...], key: str, values: Collection[Any]
    ) -> list[Any]:
        session = _session(tx)
        query = select(*(table.c[c] for c in columns)).where(table.c[key].in_(list(values)))
        return list(await session.execute(query))

    async def row_for_update(self, tx: Tx, table: Any, columns: tuple[str, ...], key: str, value: Any) -> Any:
        query = select(*(table.c[c] for c in columns)).where(table.c[key] == value).with_for_update()
        return (await _session(tx).execute(query)).first()

    async def execute(self, tx: Tx, parts: Sequence[InsertRows | UpdateRow]) -> None:
        """A unit's inserts and updates, in order."""
        session = _session(tx)
        for part in parts:
            if isinstance(part, InsertRows):
                if part.on_conflict is None:
                    stmt = insert(part.table)
                elif part.update:
                    stmt = self.upsert(part.table, keys=list(part.on_conflict), update=list(part.update))
                else:
                    stmt = self.ignoring_duplicates(part.table)
                await session.execute(stmt, part.rows)
            else:
                match = [part.table.c[k] == v for k, v in part.key.items()]
                await session.execute(update(part.table).where(*match).values(**part.values))

    # --- the outbox relay: statements that each stand alone (no other work shares their transaction) --------

    async def unpublished(self, db: Any, outbox: Table, limit: int) -> list[Any]:
        """The outbox's oldest unpublished rows: (id, topic, key, value, headers); not the rows that wait
        behind a dead row of their key (outbox_dead: their order is kept until it is requeued)."""
        from services.common.models import OutboxDead, table_of  # models import this module

        dead = table_of(OutboxDead)
        waiting = select(dead.c.key).where(dead.c.key.is_not(None))
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
            .where(outbox.c.published_at.is_(None))
            .where(or_(outbox.c.key.is_(None), outbox.c.key.not_in(waiting)))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self.unit(db) as tx:
            return list(await _session(tx).execute(query))

    async def mark_published(self, db: Any, outbox: Table, ids: list[int], at: datetime) -> None:
        async with self.unit(db) as tx:
            await _session(tx).execute(update(outbox).where(outbox.c.id.in_(ids)).values(published_at=at))


class SqliteStore(Store):
    """The embedded default: one file, one writer at a time (this process's writers take turns)."""

    name = "sqlite"

    def __init__(self, url: str) -> None:
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(url)
        event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # SQLite allows one writer: serialize this process's write transactions instead of letting them
        # fail with "database is locked".
        self._write_lock = asyncio.Lock()

    def _engine_options(self) -> dict[str, Any]:
        return {"connect_args": {"timeout": 30}}

    def serialized(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._write_lock

    @contextlib.asynccontextmanager
    async def unit(self, db: Any) -> AsyncIterator[Tx]:
        async with db.transaction() as session:
            yield Tx.of(session)

    def insert(self, table: Any) -> Any:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)


@contextlib.asynccontextmanager
async def _nothing_held() -> AsyncIterator[None]:
    yield


def _session(tx: Tx) -> AsyncSession:
    if tx.session is None:
        raise RuntimeError("this store works through a SQLAlchemy session")
    return tx.session


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@functools.lru_cache(maxsize=256)
def quoted_columns(table: Any, columns: tuple[str, ...]) -> str:
    """The columns quoted for SQL text, after checking that the table has them (once per shape)."""
    unknown = set(columns) - set(table.c.keys())
    if unknown:  # names come from code, never from a request; checked so the SQL text stays safe
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")
    return ", ".join(f'"{c}"' for c in columns)


@functools.lru_cache(maxsize=256)
def plain_columns(table: Any, columns: tuple[str, ...]) -> None:
    """A unit's rows hold plain values: text, integers, booleans, times, bytes. PostgreSQL reads them as one
    JSON document, through each column's own input; a JSON column would keep the string given for it as a
    JSON string, not as the document it holds, so it is refused on both backends alike."""
    for column in columns:
        kind = table.c[column].type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl_instance
        if not isinstance(kind, Integer | LargeBinary | DateTime | Boolean | String | Text):
            raise TypeError(f"{table.name}.{column}: a unit writes plain values, not {kind!r}")


STORE = "store"  # the key of a session's store in its `info`


class Tx:
    """A unit of work's transaction: a SQLAlchemy session (either backend), or on PostgreSQL's hot paths an
    asyncpg connection. It carries what happens after the commit: `after_commit` callbacks and `wake`."""

    def __init__(self, store: Store, session: AsyncSession | None = None, conn: Any = None) -> None:
        self.store = store
        self.session = session
        self.conn = conn
        self.woken = False
        self.on_commit: list[Callable[[], None]] = []

    @staticmethod
    def of(where: AsyncSession | Tx) -> Tx:
        """The transaction a session is in (one per session, made at its first use)."""
        if isinstance(where, Tx):
            return where
        tx = where.info.get(Tx)
        if tx is None:
            store = where.info.get(STORE)
            if store is None:
                raise RuntimeError("a session of Database.sessions is needed (it knows its store)")
            tx = where.info[Tx] = Tx(store, session=where)
        assert isinstance(tx, Tx)
        return tx

    def wake(self) -> None:
        """Outbox rows or mail were queued: wake this process's relays once the unit is committed (other
        processes' relays hear PostgreSQL's NOTIFY from the outbox trigger)."""
        self.woken = True

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.on_commit.append(callback)

    async def driver(self) -> Any:
        """The driver's own connection under the transaction (PostgreSQL's store: asyncpg)."""
        if self.conn is None:
            self.conn = await self.store.driver(self)
        return self.conn

    async def rows_in(self, table: Any, columns: tuple[str, ...], key: str, values: Collection[Any]) -> list[Any]:
        """SELECT columns FROM table WHERE key IN values."""
        quoted_columns(table, (*columns, key))
        return await self.store.rows_in(self, table, columns, key, values)

    async def row_for_update(self, table: Any, columns: tuple[str, ...], key: str, value: Any) -> Any:
        """SELECT columns FROM table WHERE key = value FOR UPDATE: exactly one row."""
        quoted_columns(table, (*columns, key))
        row = await self.store.row_for_update(self, table, columns, key, value)
        if row is None:
            raise LookupError(f"{table.name}: no row with {key} = {value!r}")
        return row
