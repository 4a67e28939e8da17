"""DPO routes of the dsar service (scope dpo or admin): the queue, decisions, manual tasks, registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from services.common.auth import Principal, Scope, Scoped
from services.common.contract import refusals
from services.common.moments import Tally
from services.dsar import decisions, domain, reports, service
from services.dsar.models import DsarRequest, HolderAnswer
from services.dsar.routes import Ctx
from services.dsar.schemas import (
    DecideIn,
    ExtendIn,
    HolderAnswerOut,
    HolderIn,
    RefuseIn,
    RequestOut,
    StaffRequestIn,
    TaskCloseIn,
)

router = APIRouter(prefix="/admin", tags=["dpo"])
Dpo = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]
RequestId = Annotated[str, Path(max_length=64)]


def out(request: DsarRequest, answers: list[HolderAnswer], late_after: int) -> RequestOut:
    now = datetime.now(UTC)
    holders = json.loads(request.holders)
    answered = {a.holder for a in answers}
    waiting = [h for h in holders if h not in answered]
    late_since = (request.verified_at or now) + timedelta(days=late_after)
    open_ = request.state in domain.OPEN
    late = [h for h in waiting if open_ and (now > late_since or now > request.deadline)]
    return RequestOut(
        id=request.id,
        kind=request.kind,
        state=request.state,
        channel=request.channel,
        received_at=request.received_at,
        verified_at=request.verified_at,
        deadline=request.deadline,
        days_left=domain.days_left(request.deadline, now),
        overdue=open_ and now > request.deadline,
        completed_at=request.completed_at,
        holders=holders,
        waiting_for=waiting,
        late=late,
        answers=[
            HolderAnswerOut(
                holder=a.holder,
                outcome=a.outcome,
                reason=a.reason,
                answered_at=a.answered_at,
                answered_by=a.answered_by,
            )
            for a in answers
        ],
        extension_reason=request.extension_reason,
        refusal_reason=request.refusal_reason,
        linked_requests=request.linked_requests,
    )


@router.post("/requests", status_code=201)
async def create_staff_request(body: StaffRequestIn, ctx: Ctx, principal: Dpo) -> RequestOut | dict[str, str]:
    """A request that arrived by letter, email or phone; with identity_verified it fans out at once."""
    created = await service.intake(
        ctx,
        kind=body.kind,
        email=str(body.email),
        text=body.text,
        channel=body.channel.value,
        language=body.language,
        corrections=body.corrections,
        received_at=body.received_at,
        verified_by=principal.name if body.identity_verified else None,
    )
    if created is None:
        return {"status": "linked", "message": "an open request of this kind exists for this person; linked to it"}
    return out(created, [], ctx.settings.holder_answer_days)


@router.get("/requests")
async def request_queue(
    ctx: Ctx,
    _: Dpo,
    kind: Annotated[str | None, Query(pattern="^(access|erasure|rectification|restriction|objection)$")] = None,
    state: Annotated[str | None, Query(max_length=30)] = None,
    overdue: bool | None = None,
) -> list[RequestOut]:
    """Open requests by deadline (or filter by kind, state, overdue), with days left and late holders."""
    found = await service.queue(ctx, kind=kind, state=state, overdue=overdue)
    return [out(r, a, ctx.settings.holder_answer_days) for r, a in found]


@router.get("/requests/{request_id}", responses=refusals(404))
async def read_request(request_id: RequestId, ctx: Ctx, _: Dpo) -> RequestOut:
    found = await service.get_request(ctx, request_id)
    if found is None:
        raise HTTPException(404, "no such request")
    return out(*found, ctx.settings.holder_answer_days)


@router.post("/requests/{request_id}/extend", responses=refusals(404, 409))
async def extend(request_id: RequestId, body: ExtendIn, ctx: Ctx, principal: Dpo) -> RequestOut:
    """GDPR 12(3): up to two more months, decided within the first month; the person is told why."""
    await decisions.extend(ctx, request_id, months=body.months, reason=body.reason, staff=principal.name)
    return await read_request(request_id, ctx, principal)


@router.post("/requests/{request_id}/refuse", responses=refusals(404, 409))
async def refuse(request_id: RequestId, body: RefuseIn, ctx: Ctx, principal: Dpo) -> RequestOut:
    """GDPR 12(4): refused with reasons; the person is told, with the right to complain to the AP."""
    await decisions.refuse(ctx, request_id, reason=body.reason, staff=principal.name)
    return await read_request(request_id, ctx, principal)


@router.post("/requests/{request_id}/decide", responses=refusals(404, 409))
async def decide(request_id: RequestId, body: DecideIn, ctx: Ctx, principal: Dpo) -> RequestOut:
    """Start a request that waits for its identity check (a minor report): the officer's decision and note are
    the method, in the ledger. Refusing it is `/refuse`."""
    await reports.decide_report(ctx, request_id, staff=principal.name, note=body.note)
    return await read_request(request_id, ctx, principal)


@router.post("/requests/{request_id}/answers", responses=refusals(404, 409))
async def close_task(request_id: RequestId, body: TaskCloseIn, ctx: Ctx, principal: Dpo) -> RequestOut:
    """Close a manual holder's task (e.g. a processor confirmed erasure by mail)."""
    await decisions.close_task(
        ctx, request_id, holder=body.holder, outcome=body.outcome, reason=body.reason, staff=principal.name
    )
    return await read_request(request_id, ctx, principal)


@router.get("/holders")
async def holders(ctx: Ctx, _: Dpo) -> list[dict[str, Any]]:
    return [h.model_dump() for h in await decisions.holders(ctx)]


@router.put("/holders/{name}")
async def put_holder(name: Annotated[str, Path(max_length=100)], body: HolderIn, ctx: Ctx, _: Dpo) -> dict[str, Any]:
    """Register (or change) a system that must answer requests: a Kafka consumer, or a manual task."""
    if body.name != name:
        raise HTTPException(422, "the name in the path and the body differ")
    row = await decisions.register_holder(ctx, name, kind=body.kind, description=body.description, active=body.active)
    return row.model_dump()


@router.post("/jobs/run")
async def run_jobs(ctx: Ctx, _: Dpo) -> dict[str, Tally]:
    """Send due reminders and expire unverified requests now (also runs on a schedule)."""
    return await decisions.run_jobs(ctx)
