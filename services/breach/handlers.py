"""Kafka in: the breach service answers data-subject requests. It keeps no personal data of its own
beyond what an erasure shreds, so anything but erasure is answered `nothing_held`."""

from __future__ import annotations

from typing import Any

from services.common.contracts import DataSubjectRequestStarted, HolderAnswered, Outcome, RequestKind
from services.common.erasure import answer_erasure
from services.common.events import BREACH_EVENTS, DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        if request.kind == RequestKind.ERASURE:
            await answer_erasure(rt, session, request, holder="breach", topic=BREACH_EVENTS.name)
            return
        await rt.recorder.record(
            session,
            HolderAnswered(
                request_id=request.request_id,
                holder="breach",
                kind=request.kind,
                subject=request.subject,
                outcome=Outcome.NOTHING_HELD,
            ),
            subject=request.subject,
            topic=BREACH_EVENTS.name,
        )

    return {DataSubjectRequestStarted: on_request}


CONSUMERS = [ConsumerSpec(group="breach.dsar", topics=[DSAR_EVENTS.name], handlers=_handlers)]
