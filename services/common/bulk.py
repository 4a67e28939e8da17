"""A group commit's writes to many tables in one round trip.

Under load every `await` of a flush waits behind the HTTP work queued in the event loop, so a batch's
time (and with 32 clients, the service's throughput) follows the number of round trips it makes, not
the rows. `Writes` collects inserts and single-row updates; on PostgreSQL it sends them as one
statement of data-modifying CTEs over `unnest` arrays (rows inserted in the order given, so outbox ids
follow it); on SQLite it runs them one by one through SQLAlchemy."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, Table, Text, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

from services.common.db import Tx, ignoring_duplicates, quoted_columns, upsert


@dataclass
class _Insert:
    table: Table
    rows: list[dict[str, Any]]
    on_conflict: tuple[str, ...] | None
    update: tuple[str, ...]


@dataclass
class _Update:
    table: Table
    key: dict[str, Any]
    values: dict[str, Any]


@dataclass
class Writes:
    parts: list[_Insert | _Update] = field(default_factory=list)

    def insert(
        self,
        table: Table,
        rows: list[dict[str, Any]],
        *,
        on_conflict: tuple[str, ...] | None = None,
        update: tuple[str, ...] = (),
    ) -> None:
        """Insert many rows (all with the same keys). `on_conflict` names the key columns: with `update` the
        named columns take the new values, without it duplicates are skipped. Rows repeating a conflict key
        keep the first (skip) or the last (update). Values must be what asyncpg takes as they are (aware
        datetimes, str, bytes, int)."""
        if not rows:
            return
        quoted_columns(table, tuple(rows[0]))
        if on_conflict is not None:
            by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
            for row in rows:
                k = tuple(row[c] for c in on_conflict)
                if update or k not in by_key:
                    by_key[k] = row
            rows = list(by_key.values())
        self.parts.append(_Insert(table, rows, on_conflict, update))

    def update(self, table: Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        """UPDATE table SET values WHERE key columns equal key values."""
        quoted_columns(table, (*key, *values))
        self.parts.append(_Update(table, key, values))

    async def execute(self, where: AsyncSession | Tx) -> None:
        if not self.parts:
            return
        tx = Tx.of(where)
        if not tx.on_postgres:
            session = tx.session
            assert session is not None
            for part in self.parts:
                if isinstance(part, _Insert):
                    if part.on_conflict is None:
                        stmt = insert(part.table)
                    elif part.update:
                        stmt = upsert(session, part.table, keys=list(part.on_conflict), update=list(part.update))
                    else:
                        stmt = ignoring_duplicates(session, part.table)
                    await session.execute(stmt, part.rows)
                else:
                    match = [part.table.c[k] == v for k, v in part.key.items()]
                    await session.execute(update(part.table).where(*match).values(**part.values))
            self.parts.clear()
            return
        shape = tuple(
            (p.table, tuple(p.rows[0]), p.on_conflict, p.update, True)
            if isinstance(p, _Insert)
            else (p.table, tuple(p.key) + tuple(p.values), tuple(p.key), (), False)
            for p in self.parts
        )
        args: list[Any] = []
        for part in self.parts:
            if isinstance(part, _Insert):
                args.extend([row[c] for row in part.rows] for c in part.rows[0])
            else:
                args.extend([*part.key.values(), *part.values.values()])
        conn = await tx.driver()
        await conn.execute(_statement(shape), *args)
        self.parts.clear()


async def bulk_insert(
    session: AsyncSession | Tx,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    on_conflict: tuple[str, ...] | None = None,
    update: tuple[str, ...] = (),
) -> None:
    """One `Writes.insert`, sent at once."""
    writes = Writes()
    writes.insert(table, rows, on_conflict=on_conflict, update=update)
    await writes.execute(session)


@functools.lru_cache(maxsize=128)
def _statement(shape: tuple[tuple[Table, tuple[str, ...], tuple[str, ...] | None, tuple[str, ...], bool], ...]) -> str:
    ctes = []
    n = 0
    for i, (table, columns, keys, updated, is_insert) in enumerate(shape):
        quoted = ", ".join(f'"{c}"' for c in columns)
        if is_insert:
            arrays = ", ".join(f"${n + j + 1}::{_array_type(table, c)}[]" for j, c in enumerate(columns))
            n += len(columns)
            sql = (
                f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM unnest({arrays}) '  # noqa: S608 - columns checked
                f"WITH ORDINALITY AS u({quoted}, ord__) ORDER BY ord__"
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


def _array_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, Integer):
        return "bigint"
    if isinstance(kind, LargeBinary):
        return "bytea"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, String | Text):
        return "text"
    raise TypeError(f"{table.name}.{column}: no array type for {kind!r}")
