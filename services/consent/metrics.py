"""consent's metrics: captures by purpose and state, withdrawals and GPC refusals per purpose, and the
retention job's erasures, lookups, webhook deliveries (and, at each scrape, those given up on). Counted once
the transaction that recorded them has committed."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.metrics import Metrics
from services.consent.domain import State
from services.consent.models import PushDelivery


class ConsentMetrics:
    def __init__(self, m: Metrics) -> None:
        self.m = m
        self.captures = m.counter(
            "consent_captures", "Consent decisions recorded, by purpose and state", "purpose", "state"
        )
        self.withdrawals = m.counter("consent_withdrawals", "Consents withdrawn, by purpose", "purpose")
        self.gpc_refusals = m.counter(
            "consent_gpc_refusals", "Refusals because the browser sent Global Privacy Control, by purpose", "purpose"
        )
        self.retention_erasures = m.counter(
            "consent_retention_erasures", "People crypto-shredded because every retention period was over"
        )
        self.lookups = m.counter("consent_lookups", "Addresses and browser ids other systems looked up", "system")
        self.pushes = m.counter(
            "consent_webhook_deliveries", "Webhook delivery attempts, by endpoint and outcome", "endpoint", "outcome"
        )
        dead = m.gauge("consent_webhook_dead_deliveries", "Webhook deliveries given up on, by endpoint", "endpoint")
        seen: set[str] = set()

        async def scrape(s: AsyncSession) -> None:
            rows = (
                await s.execute(
                    select(PushDelivery.endpoint, func.count())
                    .where(col(PushDelivery.dead_at).is_not(None))
                    .group_by(col(PushDelivery.endpoint))
                )
            ).all()
            current = {endpoint: int(n) for endpoint, n in rows}
            for endpoint in seen | current.keys():  # one that was sent again shows 0, not its last value
                m.child(dead, endpoint).set(current.get(endpoint, 0))
            seen.update(current)

        m.on_scrape(scrape)

    def looked_up(self, system: str, count: int) -> None:
        self.m.inc(self.lookups, system, amount=count)

    def pushed(self, endpoint: str, outcome: str) -> None:
        self.m.inc(self.pushes, endpoint, outcome)

    def decided(self, purpose: str, state: str, reason: str | None) -> None:
        if not self.m.enabled:
            return
        if state == State.WITHDRAWN:
            self.m.inc(self.withdrawals, purpose)
        else:
            self.m.inc(self.captures, purpose, state)
            if state == State.DENIED and reason == "gpc":
                self.m.inc(self.gpc_refusals, purpose)
