"""Kafka in: data-subject requests (breach keeps only the contact details of people it must tell) and the
holders' answers about who is affected by a breach."""

from __future__ import annotations

from typing import Any

from services.breach import people
from services.common.contracts import (
    AffectedSubjectsFound,
    DataSubjectRequestStarted,
    HolderAnswered,
    Outcome,
    RequestKind,
    seal_fragment,
)
from services.common.erasure import answer_erasure
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, DSAR_ANSWERS, DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime


def _handlers(rt: Runtime) -> dict[Any, Any]:
    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        if request.kind == RequestKind.ERASURE:
            await answer_erasure(rt, session, request, holder="breach", topic=BREACH_EVENTS.name)
            return
        fragment = None
        if request.kind == RequestKind.ACCESS:
            told = await people.told_about(session, request.subject)
            if told:  # GDPR 15: the breaches we told this person about (their contact details stay sealed)
                fragment = seal_fragment(rt.sealing, request.request_id, {"notifications": told})
        await rt.recorder.record(
            session,
            HolderAnswered(
                request_id=request.request_id,
                holder="breach",
                kind=request.kind,
                subject=request.subject,
                outcome=Outcome.PROVIDED if fragment else Outcome.NOTHING_HELD,
                fragment=fragment,
            ),
            subject=request.subject,
            topic=BREACH_EVENTS.name,
            digest_only=("fragment",) if fragment else (),
        )

    async def on_found(session: Any, _event: CloudEvent, found: AffectedSubjectsFound) -> None:
        await people.on_found(rt, session, found)

    return {DataSubjectRequestStarted: on_request, AffectedSubjectsFound: on_found}


# External holders answer on dsar.answers.v1 (HolderAnswered for requests, AffectedSubjectsFound for breaches).
CONSUMERS = [
    ConsumerSpec(
        group="breach.dsar", topics=[DSAR_EVENTS.name, CONSENT_EVENTS.name, DSAR_ANSWERS.name], handlers=_handlers
    )
]
