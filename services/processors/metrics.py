"""The processors service's metrics, read from its own tables at each scrape: each connector's standing
(1 for the state it is in), its open tasks, and the open tasks past their legal deadline."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models import table_of
from services.common.runtime import Runtime
from services.processors.domain import DUE
from services.processors.models import ConnectorStatus, ProcessorTask

STATES = ("connected", "needs_authorisation", "failing", "rate_limited")


def register(rt: Runtime) -> None:
    m = rt.metrics
    standing = m.gauge("processors_connector_state", "1 for the state each connector is in", "connector", "state")
    open_tasks = m.gauge("processors_open_tasks", "Tasks not yet settled, by connector", "connector")
    late = m.gauge("processors_tasks_past_deadline", "Open tasks past the request's legal deadline", "connector")

    async def scrape(s: AsyncSession) -> None:
        t, c = table_of(ProcessorTask).c, table_of(ConnectorStatus).c
        now = datetime.now(UTC)
        states = [x.value for x in DUE]
        counts: dict[str, int] = dict(
            (await s.execute(select(t.processor, func.count()).where(t.state.in_(states)).group_by(t.processor))).all()
        )
        overdue: dict[str, int] = dict(
            (
                await s.execute(
                    select(t.processor, func.count())
                    .where(t.state.in_(states), t.deadline.is_not(None), t.deadline < now)
                    .group_by(t.processor)
                )
            ).all()
        )
        for gauge in (standing, open_tasks, late):
            m.clear(gauge)
        for key, state in (await s.execute(select(c.key, c.state))).all():
            for name in STATES:
                m.child(standing, key, name).set(1 if state == name else 0)
        for key, n in counts.items():
            m.child(open_tasks, key).set(n)
        for key, n in overdue.items():
            m.child(late, key).set(n)

    m.on_scrape(scrape)
