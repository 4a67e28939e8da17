"""The unit of work: what one use-case writes, flushed by the transaction's store.

A use-case fills a `Unit` with its rows, its ledger entries and its outbox events, then `flush` sends it in
the caller's transaction: the ledger's head is locked once, every entry gets its seq (and a row that names
the entry gets it too), and all rows, entries and events go out as one write (one statement on PostgreSQL).
Group commit is `flush` of many units at once, from many requests, in one transaction; a use-case alone is
`flush` of one. It is the same code either way, which tests/integration/test_unit_of_work.py checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import Writes
from services.common.db import Tx
from services.common.events import CloudEvent
from services.common.ledger.store import Ledger, LedgerRecord
from services.common.outbox import enqueue_many


@dataclass
class Unit:
    writes: Writes = field(default_factory=Writes)
    entries: list[LedgerRecord] = field(default_factory=list)
    events: list[tuple[str, CloudEvent]] = field(default_factory=list)
    counted: list[Callable[[], None]] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)  # the entries' seqs, once flushed
    _seq_into: list[tuple[dict[str, Any], str] | None] = field(default_factory=list)

    def insert(
        self,
        table: Any,
        rows: list[dict[str, Any]],
        *,
        on_conflict: tuple[str, ...] | None = None,
        update: tuple[str, ...] = (),
    ) -> None:
        self.writes.insert(table, rows, on_conflict=on_conflict, update=update)

    def append(
        self, record: LedgerRecord, *, seq_into: dict[str, Any] | None = None, column: str = "ledger_seq"
    ) -> None:
        """A ledger entry; `seq_into`, a row of this unit, takes the entry's seq in `column` at the flush."""
        self.entries.append(record)
        self._seq_into.append((seq_into, column) if seq_into is not None else None)

    def publish(self, topic: str, event: CloudEvent) -> None:
        self.events.append((topic, event))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run once the unit is committed (metrics count only what was committed)."""
        self.counted.append(callback)


async def flush(where: AsyncSession | Tx, ledger: Ledger, units: Sequence[Unit]) -> None:
    """Write the units in the caller's transaction, in order: their rows, their ledger entries (one lock of
    the head for all of them), their outbox events."""
    tx = Tx.of(where)
    writes = Writes()
    for unit in units:
        writes.extend(unit.writes)
    entries = [entry for unit in units for entry in unit.entries]
    seqs = await ledger.append(tx, entries, writes) if entries else []
    position = 0
    for unit in units:
        unit.seqs = seqs[position : position + len(unit.entries)]
        position += len(unit.entries)
        for target, seq in zip(unit._seq_into, unit.seqs, strict=True):
            if target is not None:
                row, column = target
                row[column] = seq
        for callback in unit.counted:
            tx.after_commit(callback)
    events = [event for unit in units for event in unit.events]
    await enqueue_many(tx, events, writes)
    await writes.execute(tx)
