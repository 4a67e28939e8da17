"""Group commit: many requests' writes in one transaction, one ledger lock, one bulk statement.

A request hands its item to `GroupCommit.submit` and awaits the result. A batch takes whatever has
queued (up to `max_batch`) and runs the service's `flush(tx, items)` in one transaction (`Database.unit`:
on PostgreSQL a plain asyncpg connection, the batch's fixed cost being most of its CPU); every
request is answered after the commit. Up to `in_flight` batches run at once: while one holds the
ledger lock and commits, the next reads what it needs and prepares its rows, so the database's round
trips overlap instead of adding up. Items that share a `key` (a subject) are never in two running
batches at once, so a batch's reads are not made stale by another batch of this process. If a batch
fails, its items are retried one by one, so one bad item fails alone. Nothing is acknowledged before
it is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from services.common.db import Database, Tx

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Flush = Callable[[Tx, Sequence[Any]], Awaitable[Sequence[Any]]]
Entry = tuple[Any, "asyncio.Future[Any]"]


class GroupCommit(Generic[Item]):
    def __init__(
        self,
        db: Database,
        flush: Flush,
        *,
        max_batch: int = 256,
        in_flight: int = 2,
        key: Callable[[Item], Hashable] | None = None,
    ) -> None:
        self.db = db
        self.flush = flush
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.key = key
        self._queue: deque[Entry] = deque()
        self._busy: set[Hashable] = set()  # the keys of the running batches (never in two of them)
        self._running: dict[asyncio.Task[None], list[Entry]] = {}
        self._closed = False
        self.batches = 0
        self.items = 0

    async def submit(self, item: Item) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._dispatch()
        return await future

    async def close(self) -> None:
        self._closed = True
        running = dict(self._running)
        for task in running:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*running, return_exceptions=True)
        for batch in running.values():  # their requests are told so, even if the task never ran
            for _, future in batch:
                future.cancel()
        while self._queue:
            self._queue.popleft()[1].cancel()

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.in_flight and not self._closed:
            batch, keys = self._take()
            if not batch:
                return
            self._busy |= keys  # held from now, before the task first runs, so the next _take sees them
            task = asyncio.create_task(self._run(batch, keys), name="group-commit")
            self._running[task] = batch

    def _take(self) -> tuple[list[Entry], set[Hashable]]:
        """Up to max_batch queued items, in order, skipping those whose key a running batch holds;
        returns them and their keys."""
        if self.key is None:
            count = min(self.max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(count)], set()
        taken: list[Entry] = []
        keys: set[Hashable] = set()
        left: deque[Entry] = deque()
        while self._queue and len(taken) < self.max_batch:
            entry = self._queue.popleft()
            key = self.key(entry[0])
            if key in self._busy:
                left.append(entry)
            else:
                taken.append(entry)
                keys.add(key)
        left.extend(self._queue)
        self._queue = left
        return taken, keys

    async def _run(self, batch: list[Entry], keys: set[Hashable]) -> None:
        try:
            await self._commit(batch)
        finally:
            self._busy -= keys
            task = asyncio.current_task()
            if task is not None:
                self._running.pop(task, None)
            self._dispatch()

    async def _commit(self, batch: list[Entry]) -> None:
        items = [item for item, _ in batch]
        tracing = self.db.tracing
        traced: Any = contextlib.nullcontext()
        if tracing is not None:  # one transaction for many requests: its own trace, linked to each of theirs
            links = [p for p in (getattr(i, "traceparent", None) for i in items[:32]) if p] if tracing.recording else []
            traced = tracing.span("group commit", root=True, links=links, attributes={"privacy.batch.size": len(items)})
        try:
            with traced:
                async with self.db.unit() as tx:
                    results = await self.flush(tx, items)
        except Exception as exc:  # noqa: BLE001 - isolate the failing item
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            log.warning("group commit of %d items failed (%r); retrying them one by one", len(batch), exc)
            for one in batch:
                await self._commit([one])
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
