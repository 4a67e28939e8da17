"""What the console and the admin API are shown of connectors and tasks (reads; no personal data)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from services.processors.connectors import Mode
from services.processors.context import ProcessorsContext
from services.processors.domain import DUE, SETTLED
from services.processors.models import ConnectorStatus, ProcessorTask

OPEN = [s.value for s in DUE]


async def connectors(ctx: ProcessorsContext) -> list[dict[str, Any]]:
    """Every connector: its mode, whether it is configured, how it stands, its open tasks and last success."""
    async with ctx.rt.db.read() as s:
        standing = {row.key: row for row in (await s.execute(select(ConnectorStatus))).scalars()}
        open_tasks = dict(
            (
                await s.execute(
                    select(col(ProcessorTask.processor), func.count())
                    .where(col(ProcessorTask.state).in_(OPEN))
                    .group_by(col(ProcessorTask.processor))
                )
            ).all()
        )
    out = []
    for key, c in sorted(ctx.connectors.items()):
        row = standing.get(key)
        if c.mode is Mode.EXEMPT:
            state = "exempt"  # nothing to reach: its legal reason is its answer
        elif c.mode is Mode.INSTRUCTED:
            state = "by_mail" if ctx.settings.contact(key) else "no_contact"
        elif not ctx.settings.base_url(key):
            state = "not_configured"
        else:
            state = row.state if row else "connected"
        out.append(
            {
                "key": key,
                "name": c.name,
                "mode": c.mode.value,
                "purposes": list(ctx.purposes.purposes_of(c.name)),
                "state": state,
                "rate": f"{c.rate.requests} per {c.rate.per_seconds:g} s",
                "open_tasks": open_tasks.get(key, 0),
                "last_success_at": row.last_success_at if row else None,
                "last_failure_at": row.last_failure_at if row else None,
                "last_error": row.last_error if row else None,
                "reason": c.reason or None,
            }
        )
    return out


async def connector(ctx: ProcessorsContext, key: str) -> dict[str, Any] | None:
    """One connector as its page shows it: its standing, and every open task (oldest deadline first)."""
    found = next((c for c in await connectors(ctx) if c["key"] == key), None)
    if found is None:
        return None
    async with ctx.rt.db.read() as s:
        tasks = (
            (
                await s.execute(
                    select(ProcessorTask)
                    .where(col(ProcessorTask.processor) == key)
                    .where(col(ProcessorTask.state).in_(OPEN))
                    .order_by(col(ProcessorTask.deadline), col(ProcessorTask.created_at))
                    .limit(500)
                )
            )
            .scalars()
            .all()
        )
        last = (
            await s.execute(select(func.max(ProcessorTask.settled_at)).where(col(ProcessorTask.processor) == key))
        ).scalar()
    found["last_settled_at"] = last
    found["about"] = ctx.connectors[key].reason or None
    found["tasks"] = [
        {
            "id": t.id,
            "request_id": t.request_id,
            "kind": t.kind,
            "action": t.action,
            "state": t.state,
            "attempts": t.attempts,
            "next_attempt_at": t.next_attempt_at,
            "deadline": t.deadline,
            "asked_at": t.created_at,
            "outcome": t.outcome,
        }
        for t in tasks
    ]
    return found


async def request_tasks(ctx: ProcessorsContext, request_id: str) -> list[dict[str, Any]]:
    """Each processor's task of a data-subject request, as it stands (its outcome in words)."""
    async with ctx.rt.db.read() as s:
        tasks = (
            (await s.execute(select(ProcessorTask).where(col(ProcessorTask.request_id) == request_id))).scalars().all()
        )
    return [
        {
            "id": t.id,
            "processor": ctx.connectors[t.processor].name if t.processor in ctx.connectors else t.processor,
            "action": t.action,
            "state": t.state,
            "settled": t.state in SETTLED,
            "outcome": t.outcome,
            "attempts": t.attempts,
            "next_attempt_at": t.next_attempt_at,
            "deadline": t.deadline,
            "asked_at": t.created_at,
            "settled_at": t.settled_at,
            "due_at": t.due_at,
            "calls": json.loads(t.calls),
        }
        for t in sorted(tasks, key=lambda t: t.processor)
    ]
