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
    """Every connector's due tasks, each connector on its own (a slow or rate-limited processor holds up
    no other): claimed in batches its rate limit can send within the claim, run, and claimed again until
    none is due. Returns how many were run."""
    ran = await asyncio.gather(*(_drain(ctx, key, now) for key in sorted(ctx.connectors)))
    return sum(ran)


def batch_of(ctx: ProcessorsContext, key: str) -> int:
    """How many tasks of a connector one claim takes: what its documented rate can send within half the claim,
    at up to four calls a task (so that a claim never runs out while its tasks wait for the rate limit)."""
    c = ctx.connectors[key]
    return max(1, min(BATCH, int(c.rate.per_second * ctx.settings.task_claim_seconds / 8)))


async def _drain(ctx: ProcessorsContext, key: str, now: datetime | None) -> int:
    """Keep a connector's tasks flowing: more are claimed while half of the last claim is still running, so
    the processor's rate is used without a pause between batches. With `now` (a test's moment): one round."""
    size = batch_of(ctx, key)
    if now is not None:
        claimed = await _claim(ctx, key, now, size)
        await asyncio.gather(*(_run(ctx, task) for task in claimed))
        return len(claimed)
    ran = 0
    running: set[asyncio.Task[None]] = set()
    while True:
        if len(running) <= size // 2:
            claimed = await _claim(ctx, key, datetime.now(UTC), size - len(running))
            running |= {asyncio.create_task(_run(ctx, task)) for task in claimed}
            ran += len(claimed)
            if not running:
                return ran
        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for finished in done:
            finished.result()  # a task's failure is the round's (logged by the worker loop)


async def _claim(ctx: ProcessorsContext, key: str, now: datetime, limit: int) -> list[ProcessorTask]:
    until = now + timedelta(seconds=ctx.settings.task_claim_seconds)
    t = ProcessorTask
    async with ctx.rt.db.transaction() as s:
        due = (
            (
                await s.execute(
                    select(t)
                    .where(col(t.processor) == key)
                    .where(col(t.state).in_([s.value for s in DUE]))
                    .where(col(t.next_attempt_at) <= now)
                    .where(or_(col(t.claimed_until).is_(None), col(t.claimed_until) < now))
                    .order_by(col(t.next_attempt_at))
                    .limit(limit)
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
    values = {**values, "options": c.options | ctx.settings.options(c.key, c.options)}
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
