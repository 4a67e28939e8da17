"""breach's metrics, read from its own tables at each scrape: open breaches, the hours left to the nearest
AP deadline of a breach whose initial notification is not submitted (GDPR 33(1)), and how many are past it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.breach.models import ApNotification, Breach
from services.common.models import table_of
from services.common.runtime import Runtime


def register(rt: Runtime) -> None:
    m = rt.metrics
    open_breaches = m.gauge("breach_open", "Breaches in the register that are not closed")
    nearest = m.gauge(
        "breach_nearest_ap_deadline_hours",
        "Hours left to the nearest AP deadline of a breach not yet notified (negative: past; none: absent)",
    )
    overdue = m.gauge(
        "breach_overdue_notifications", "Breaches past their AP deadline without a submitted notification"
    )

    async def scrape(s: AsyncSession) -> None:
        b, n = table_of(Breach).c, table_of(ApNotification).c
        now = datetime.now(UTC)
        notified = select(n.breach_id).where(n.phase == "initial", n.submitted_at.is_not(None))
        rows = (await s.execute(select(b.ap_deadline, b.risk).where(b.state != "closed", b.id.not_in(notified)))).all()
        total = (await s.execute(select(b.id).where(b.state != "closed"))).all()
        m.child(open_breaches).set(len(total))
        waiting = []
        for deadline, risk in rows:
            required = (json.loads(risk) if risk else {}).get("required", {}).get("ap_notification", True)
            if required:  # "unlikely to result in a risk" needs no notification (33(1)), only the register
                deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
                waiting.append((deadline - now).total_seconds() / 3600)
        m.child(overdue).set(sum(1 for h in waiting if h < 0))
        m.clear(nearest)
        if waiting:
            m.child(nearest).set(round(min(waiting), 2))

    m.on_scrape(scrape)
