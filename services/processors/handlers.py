"""Kafka in: data-subject requests (a task per processor for each), consent's withdrawals and grants
confirmed by mail (a task per processor with a list of that purpose), and the Google Analytics client ids
consent recorded (kept sealed, for an erasure to name)."""

from __future__ import annotations

from typing import Any

from services.common.contracts import (
    AnalyticsIdRecorded,
    ConsentGranted,
    ConsentWithdrawn,
    DataSubjectRequestStarted,
)
from services.common.events import CONSENT_EVENTS, DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.processors import service
from services.processors.context import ProcessorsContext


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        await service.open_request(ProcessorsContext.of(rt), session, request)

    async def on_change(session: Any, event: CloudEvent, change: ConsentGranted | ConsentWithdrawn) -> None:
        await service.saw(session, change)
        await service.open_sync(ProcessorsContext.of(rt), session, event.id, change)

    async def on_identifier(session: Any, _event: CloudEvent, recorded: AnalyticsIdRecorded) -> None:
        await service.keep_identifier(ProcessorsContext.of(rt), session, recorded)

    return {
        DataSubjectRequestStarted: on_request,
        ConsentGranted: on_change,
        ConsentWithdrawn: on_change,
        AnalyticsIdRecorded: on_identifier,
    }


# replay: after a restore, dsar's requests and consent's changes since the backup are read again; a task the
# ledger shows settled is re-made settled first (recovery.py), so it is not sent again, and the rest are sent
CONSUMERS = [
    ConsumerSpec(group="processors.in", topics=[DSAR_EVENTS.name, CONSENT_EVENTS.name], handlers=_handlers, replay=True)
]
