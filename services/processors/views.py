"""What the console and the admin API are shown of connectors and tasks (reads; no personal data)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from services.processors.context import ProcessorsContext
from services.processors.domain import SETTLED
from services.processors.models import ConnectorStatus, ProcessorTask

OPEN = [s for s in ("waiting", "needs_authorisation")]


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
        configured = bool(ctx.settings.base_url(key))
        out.append(
            {
                "key": key,
                "name": c.name,
                "mode": c.mode.value,
                "purposes": list(ctx.purposes.purposes_of(c.name)),
                "state": (row.state if row else "connected") if configured else "not_configured",
                "rate": f"{c.rate.requests} per {c.rate.per_seconds:g} s",
                "open_tasks": open_tasks.get(key, 0),
                "last_success_at": row.last_success_at if row else None,
                "last_failure_at": row.last_failure_at if row else None,
                "last_error": row.last_error if row else None,
                "reason": c.reason or None,
            }
        )
    return out


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
            "calls": json.loads(t.calls),
        }
        for t in sorted(tasks, key=lambda t: t.processor)
    ]
