"""consent's metrics: captures by purpose and state, withdrawals and GPC refusals per purpose, and the
retention job's erasures. Counted once the transaction that recorded them has committed."""

from __future__ import annotations

from services.common.metrics import Metrics
from services.consent.domain import State


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

    def decided(self, purpose: str, state: str, reason: str | None) -> None:
        if not self.m.enabled:
            return
        if state == State.WITHDRAWN:
            self.m.inc(self.withdrawals, purpose)
        else:
            self.m.inc(self.captures, purpose, state)
            if state == State.DENIED and reason == "gpc":
                self.m.inc(self.gpc_refusals, purpose)
