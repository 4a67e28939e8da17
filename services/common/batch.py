"""Group commit: many requests' writes in one transaction, one ledger lock, a few bulk statements.

A request hands its item to `GroupCommit.submit` and awaits the result. One writer task takes whatever
has queued (up to `max_batch`), runs the service's `flush(session, items)` in one transaction and
resolves every request after the commit. If a batch fails, its items are retried one by one, so one
bad item fails alone. Nothing is acknowledged before it is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Flush = Callable[[AsyncSession, Sequence[Any]], Awaitable[Sequence[Any]]]


class GroupCommit(Generic[Item]):
    def __init__(self, db: Database, flush: Flush, *, max_batch: int = 256) -> None:
        self.db = db
        self.flush = flush
        self.max_batch = max_batch
        self._queue: list[tuple[Item, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, item: Item) -> Any:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[Any]]]) -> None:
        try:
            async with self.db.transaction() as session:
                results = await self.flush(session, [item for item, _ in batch])
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
