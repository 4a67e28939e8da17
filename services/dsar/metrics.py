"""dsar's metrics, read from its own tables at each scrape: open requests by kind and state, overdue
requests, and the days left on the nearest legal deadline (GDPR 12(3))."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models import table_of
from services.common.runtime import Runtime
from services.dsar import domain
from services.dsar.models import DsarRequest


def register(rt: Runtime) -> None:
    m = rt.metrics
    open_requests = m.gauge("dsar_open_requests", "Open data-subject requests", "kind", "state")
    overdue = m.gauge("dsar_overdue_requests", "Open requests past their legal deadline")
    nearest = m.gauge(
        "dsar_nearest_deadline_days", "Days left on the nearest deadline of an open request (none open: absent)"
    )
    seen: set[tuple[str, str]] = set()

    async def scrape(s: AsyncSession) -> None:
        r = table_of(DsarRequest).c
        now = datetime.now(UTC)
        states = [x.value for x in domain.OPEN]
        counts = (
            await s.execute(select(r.kind, r.state, func.count()).where(r.state.in_(states)).group_by(r.kind, r.state))
        ).all()
        current = {(kind, state): n for kind, state, n in counts}
        for key in seen | current.keys():  # a state that emptied shows 0, not its last value
            m.child(open_requests, *key).set(current.get(key, 0))
        seen.update(current)
        late, first = (
            await s.execute(
                select(func.count().filter(r.deadline < now), func.min(r.deadline)).where(r.state.in_(states))
            )
        ).one()
        m.child(overdue).set(late)
        m.clear(nearest)
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            m.child(nearest).set(round((first - now).total_seconds() / 86400, 2))

    m.on_scrape(scrape)
