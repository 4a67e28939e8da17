"""Kafka in: holders' answers to our requests."""

from __future__ import annotations

from typing import Any

from services.common.contracts import HolderAnswered
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.dsar import service


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_answer(session: Any, _event: CloudEvent, answer: HolderAnswered) -> None:
        await service.record_answer(rt, session, answer)

    return {HolderAnswered: on_answer}


CONSUMERS = [ConsumerSpec(group="dsar.answers", topics=[CONSENT_EVENTS.name, BREACH_EVENTS.name], handlers=_handlers)]
