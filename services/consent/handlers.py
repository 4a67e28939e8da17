"""Kafka in: the consent service answers data-subject requests (access fragment, erasure)."""

from __future__ import annotations

from typing import Any

from services.common.contracts import DataSubjectRequestStarted, HolderAnswered, Outcome, RequestKind, seal_fragment
from services.common.events import CONSENT_EVENTS, DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.consent import service
from services.consent.context import ConsentContext

HOLDER = "consent"


def _handlers(rt: Runtime) -> dict[Any, Any]:
    ctx = ConsentContext.of(rt)

    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        answer = None
        if request.kind == RequestKind.ERASURE:
            key_id = await service.erase_in(ctx, session, request.subject, f"erasure request {request.request_id}")
            answer = Outcome.ERASED if key_id else Outcome.NOTHING_HELD
            fragment = None
        elif request.kind == RequestKind.ACCESS:
            data = await service.history(ctx, request.subject)
            answer = Outcome.PROVIDED if data["records"] else Outcome.NOTHING_HELD
            fragment = seal_fragment(
                rt.settings.secret_bytes("pseudonym_key"),
                request.request_id,
                {
                    **data,
                    "purposes": {
                        p.id: {
                            "legal_basis": p.legal_basis.value,
                            "retention_days": p.retention_days,
                            "description_nl": p.description_nl,
                            "description_en": p.description_en,
                        }
                        for p in ctx.catalogue.purposes.values()
                    },
                    "recipients": [{"name": p.name, "service": p.service} for p in ctx.catalogue.processors],
                    "source": "the person, through the channels listed per record (statement Art. 3)",
                },
            )
        if answer is not None:
            await rt.recorder.record(
                session,
                HolderAnswered(
                    request_id=request.request_id,
                    holder=HOLDER,
                    kind=request.kind,
                    subject=request.subject,
                    outcome=answer,
                    fragment=fragment,
                ),
                subject=request.subject,
                topic=CONSENT_EVENTS.name,
                digest_only=("fragment",),
            )

    return {DataSubjectRequestStarted: on_request}


CONSUMERS = [ConsumerSpec(group="consent.dsar", topics=[DSAR_EVENTS.name], handlers=_handlers)]
