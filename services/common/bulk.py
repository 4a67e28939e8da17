"""A unit's writes to many tables, sent at once.

Under load every `await` of a flush waits behind the HTTP work queued in the event loop, so a batch's
time (and with 32 clients, the service's throughput) follows the number of round trips it makes, not
the rows. `Writes` collects inserts and single-row updates; the transaction's store sends them (on
PostgreSQL as one statement, on SQLite one by one; see services/common/store.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Tx
from services.common.store import InsertRows, UpdateRow, plain_columns, quoted_columns


@dataclass
class Writes:
    parts: list[InsertRows | UpdateRow] = field(default_factory=list)
    _joins: dict[tuple[Any, ...], InsertRows] = field(default_factory=dict, repr=False)

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
        datetimes, str, bytes, int). Rows for a table and shape already in the writes join that part (so a
        group commit of many units is still one insert per table)."""
        if not rows:
            return
        columns = tuple(rows[0])
        quoted_columns(table, columns)
        plain_columns(table, columns)
        self._part(table, columns, on_conflict, update).rows.extend(rows)

    def update(self, table: Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        """UPDATE table SET values WHERE key columns equal key values."""
        quoted_columns(table, (*key, *values))
        self.parts.append(UpdateRow(table, key, values))

    def extend(self, other: Writes) -> None:
        """Add another unit's writes (group commit: many units, one statement); its inserts were checked."""
        for part in other.parts:
            if isinstance(part, InsertRows):
                self._part(part.table, tuple(part.rows[0]), part.on_conflict, part.update).rows.extend(part.rows)
            else:
                self.parts.append(part)

    def _part(
        self, table: Table, columns: tuple[str, ...], on_conflict: tuple[str, ...] | None, update: tuple[str, ...]
    ) -> InsertRows:
        """The insert for this table and shape, made at its first rows (so parts keep their first order)."""
        shape = (table, columns, on_conflict, update)
        part = self._joins.get(shape)
        if part is None:
            part = self._joins[shape] = InsertRows(table, [], on_conflict, update)
            self.parts.append(part)
        return part

    async def execute(self, where: AsyncSession | Tx) -> None:
        if not self.parts:
            return
        tx = Tx.of(where)
        for part in self.parts:
            if isinstance(part, InsertRows) and part.on_conflict is not None:
                part.rows = _deduplicated(part.rows, part.on_conflict, part.update)
        await tx.store.execute(tx, self.parts)
        self.parts.clear()
        self._joins.clear()


def _deduplicated(
    rows: list[dict[str, Any]], on_conflict: tuple[str, ...], update: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One row per conflict key (an INSERT may not touch a row twice): the first, or with `update` the last."""
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in on_conflict)
        if update or k not in by_key:
            by_key[k] = row
    return list(by_key.values())


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
