"""Kafka in: data-subject requests (a task per processor for each)."""

from __future__ import annotations

from typing import Any

from services.common.contracts import DataSubjectRequestStarted
from services.common.events import DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.processors import service
from services.processors.context import ProcessorsContext


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        await service.open_request(ProcessorsContext.of(rt), session, request)

    return {DataSubjectRequestStarted: on_request}


CONSUMERS = [ConsumerSpec(group="processors.requests", topics=[DSAR_EVENTS.name], handlers=_handlers)]
