"""Kafka in: the consent service answers data-subject requests."""

from __future__ import annotations

from typing import Any

from services.common.contracts import DataSubjectRequestStarted, RequestKind
from services.common.erasure import answer_erasure
from services.common.events import CONSENT_EVENTS, DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        if request.kind == RequestKind.ERASURE:
            await answer_erasure(rt, session, request, holder="consent", topic=CONSENT_EVENTS.name)

    return {DataSubjectRequestStarted: on_request}


CONSUMERS = [ConsumerSpec(group="consent.dsar", topics=[DSAR_EVENTS.name], handlers=_handlers)]
