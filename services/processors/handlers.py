"""Kafka in: data-subject requests (a task per processor for each), and consent's withdrawals and grants
confirmed by mail (a task per processor with a list of that purpose)."""

from __future__ import annotations

from typing import Any

from services.common.contracts import ConsentGranted, ConsentWithdrawn, DataSubjectRequestStarted
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

    return {DataSubjectRequestStarted: on_request, ConsentGranted: on_change, ConsentWithdrawn: on_change}


CONSUMERS = [ConsumerSpec(group="processors.in", topics=[DSAR_EVENTS.name, CONSENT_EVENTS.name], handlers=_handlers)]
