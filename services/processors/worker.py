"""The tasks' worker: claims what is due (a claim runs out, so a task whose worker died is taken again),
runs each through its connector's engine (every connector's calls at once, each within its own rate
limit), and settles it. A connector without a base URL leaves its tasks waiting, said so."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select

from services.common.crypto import ShreddedError
from services.processors import instructions, service
from services.processors.context import ProcessorsContext
from services.processors.domain import DUE, TaskState
from services.processors.engine import Result, Status
from services.processors.hooks import HOOKS
from services.processors.models import ProcessorTask

log = logging.getLogger(__name__)
BATCH = 200


async def run_due(ctx: ProcessorsContext, now: datetime | None = None) -> int:
    """Claim and run every due task (up to BATCH); returns how many were run."""
    now = now or datetime.now(UTC)
    claimed = await _claim(ctx, now)
    by_connector: dict[str, list[ProcessorTask]] = {}
    for task in claimed:
        by_connector.setdefault(task.processor, []).append(task)
    await asyncio.gather(*(_run_all(ctx, tasks) for tasks in by_connector.values()))
    return len(claimed)


async def _claim(ctx: ProcessorsContext, now: datetime) -> list[ProcessorTask]:
    until = now + timedelta(seconds=ctx.settings.task_claim_seconds)
    t = ProcessorTask
    async with ctx.rt.db.transaction() as s:
        due = (
            (
                await s.execute(
                    select(t)
                    .where(col(t.state).in_([s.value for s in DUE]))
                    .where(col(t.next_attempt_at) <= now)
                    .where(or_(col(t.claimed_until).is_(None), col(t.claimed_until) < now))
                    .order_by(col(t.next_attempt_at))
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
        mine = []
        for task in due:  # claimed only where no other worker claimed it first
            won = await s.execute(
                update(t)
                .where(col(t.id) == task.id)
                .where(or_(col(t.claimed_until).is_(None), col(t.claimed_until) < now))
                .values(claimed_until=until)
            )
            if won.rowcount:  # type: ignore[attr-defined]
                mine.append(task)
        for task in mine:
            s.expunge(task)
    return mine


async def _run_all(ctx: ProcessorsContext, tasks: list[ProcessorTask]) -> None:
    await asyncio.gather(*(_run(ctx, task) for task in tasks))


async def _run(ctx: ProcessorsContext, task: ProcessorTask) -> None:
    c = ctx.connectors[task.processor]
    if task.state == TaskState.INSTRUCTED.value:  # no API: the instruction, or its next reminder, by mail
        await instructions.send(ctx, task)
        return
    engine = ctx.engine(task.processor)
    if engine is None:
        why = f"not configured (PROCESSORS_{c.key.upper()}_BASE_URL)"
        retry = datetime.now(UTC).timestamp() + 60
        await service.settle(ctx, task.id, Result(Status.RETRY, retry_at=retry, why=why))
        return
    try:
        values = await _values(ctx, task)
    except ShreddedError:  # erased meanwhile (an erasure request of the same person settled first)
        await service.settle(ctx, task.id, Result(Status.NOTHING_HELD, why="the person was erased meanwhile"))
        return
    if c.hook:
        values = HOOKS[c.hook](values)
    try:
        result = await engine.run(task.action, values)
    except Exception as exc:  # a definition that does not fit the answer: the task waits, visibly
        log.exception("processors: %s %s failed", c.key, task.action)
        result = Result(Status.RETRY, retry_at=datetime.now(UTC).timestamp() + 300, why=exc.__class__.__name__)
    await service.settle(ctx, task.id, result)


async def _values(ctx: ProcessorsContext, task: ProcessorTask) -> dict[str, Any]:
    held = json.loads(task.sealed or "{}")
    async with ctx.rt.db.read() as s:
        person = await ctx.rt.vault.decrypt(s, task.subject, task.key_id or "", held["sealed"])
    return {**person, "lists": held.get("lists", [])}


async def worker(ctx: ProcessorsContext) -> None:
    while True:
        try:
            await run_due(ctx)
        except Exception:
            log.exception("processors: a round of tasks failed")
        ctx.due.clear()
        with contextlib.suppress(TimeoutError):  # "within seconds": woken when tasks are made in this process
            await asyncio.wait_for(ctx.due.wait(), ctx.settings.work_interval_seconds)
