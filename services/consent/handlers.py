"""Kafka in: the consent service answers data-subject requests (access fragment, erasure)."""

from __future__ import annotations

from typing import Any

from services.common.contracts import (
    AffectedSubjectsRequested,
    DataSubjectRequestStarted,
    HolderAnswered,
    Outcome,
    RequestKind,
    open_fragment,
    seal_fragment,
)
from services.common.events import BREACH_EVENTS, CONSENT_EVENTS, DSAR_EVENTS, CloudEvent
from services.common.runtime import ConsumerSpec, Runtime
from services.consent import access, affected, objections, rectification, restrictions, subjects
from services.consent.context import ConsentContext
from services.consent.decisions import Evidence

HOLDER = "consent"
RESTRICTED = "restriction (GDPR 18)"  # words.REASONS says it in words


def _handlers(rt: Runtime) -> dict[Any, Any]:
    ctx = ConsentContext.of(rt)

    async def on_request(session: Any, _event: CloudEvent, request: DataSubjectRequestStarted) -> None:
        fragment = None
        known = await subjects.knows(session, request.subject)
        reason: str | None = None
        if request.kind == RequestKind.ERASURE:
            kept: list[str] = []
            why = f"erasure request {request.request_id}"
            key_id = await subjects.erase_in(ctx, session, request.subject, why, kept=kept)
            answer = Outcome.ERASED if key_id else Outcome.NOTHING_HELD
            reason = "; ".join(kept) or None  # erased, except what the law obliges us to keep, and until when
        elif not known:
            answer = Outcome.NOTHING_HELD
        elif request.kind == RequestKind.RECTIFICATION:
            corrections = open_fragment(rt.sealing, request.request_id, request.details) if request.details else {}
            applied = await rectification.apply(ctx, session, request.subject, request.request_id, corrections)
            answer = Outcome.RECTIFIED
            reason = f"applied: {', '.join(applied)}" if applied else "none of these fields is held here"
        elif request.kind == RequestKind.RESTRICTION:
            now = Evidence(None, None, None, False, None)
            await restrictions.restrict(ctx, session, request.subject, RESTRICTED, now, channel="dsar")
            answer, reason = Outcome.RESTRICTED, "kept, not used, no retention period running, until lifted"
        elif request.kind == RequestKind.OBJECTION:
            answer, reason = await objections.apply(ctx, session, request.subject)
        elif request.kind == RequestKind.PORTABILITY:
            data = await access.portable(ctx, request.subject)
            answer = Outcome.PROVIDED if data["provided"] else Outcome.NOTHING_HELD
            fragment = seal_fragment(rt.sealing, request.request_id, data)
        else:
            data = await access.fragment(ctx, request.subject)
            answer = Outcome.PROVIDED if data["records"] else Outcome.NOTHING_HELD
            fragment = seal_fragment(rt.sealing, request.request_id, data)
        await rt.recorder.record(
            session,
            HolderAnswered(
                request_id=request.request_id,
                holder=HOLDER,
                kind=request.kind,
                subject=request.subject,
                outcome=answer,
                reason=reason,
                fragment=fragment,
            ),
            subject=request.subject,
            topic=CONSENT_EVENTS.name,
            digest_only=("fragment",),
        )

    async def on_breach_query(session: Any, _event: CloudEvent, query: AffectedSubjectsRequested) -> None:
        await affected.answer(ctx, session, query)

    return {DataSubjectRequestStarted: on_request, AffectedSubjectsRequested: on_breach_query}


CONSUMERS = [ConsumerSpec(group="consent.dsar", topics=[DSAR_EVENTS.name, BREACH_EVENTS.name], handlers=_handlers)]
