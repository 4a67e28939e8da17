"""HTTP routes of the dsar service (thin: validation in schemas, work in service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from services.common.auth import Principal, Scope, Scoped
from services.common.contracts import RequestKind
from services.dsar import service
from services.dsar.models import DsarRequest, HolderAnswer
from services.dsar.schemas import HolderAnswerOut, RequestOut, StaffRequestIn

router = APIRouter(prefix="/admin", tags=["dpo"])
StaffOnly = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]
SUPPORTED_KINDS = {RequestKind.ERASURE}


def _out(request: DsarRequest, answers: list[HolderAnswer], holders: list[str]) -> RequestOut:
    answered = {a.holder for a in answers}
    return RequestOut(
        id=request.id,
        kind=request.kind,
        state=request.state,
        channel=request.channel,
        received_at=request.received_at,
        verified_at=request.verified_at,
        deadline=request.deadline,
        completed_at=request.completed_at,
        waiting_for=[h for h in holders if h not in answered],
        answers=[
            HolderAnswerOut(holder=a.holder, outcome=a.outcome, reason=a.reason, answered_at=a.answered_at)
            for a in answers
        ],
    )


@router.post("/requests", status_code=201)
async def create_staff_request(body: StaffRequestIn, request: Request, principal: StaffOnly) -> RequestOut:
    """Record a request that arrived by letter, email or phone (identity verified by staff)."""
    if body.kind not in SUPPORTED_KINDS:
        raise HTTPException(422, f"kind {body.kind.value} is not handled yet; supported: erasure")
    rt = request.app.state.runtime
    created = await service.open_staff_request(
        rt,
        kind=body.kind,
        email=str(body.email),
        channel=body.channel.value,
        text=body.text,
        received_at=body.received_at,
        staff=principal.name,
    )
    return _out(created, [], rt.settings.holders)


@router.get("/requests/{request_id}")
async def read_request(request_id: Annotated[str, Path(max_length=64)], request: Request, _: StaffOnly) -> RequestOut:
    rt = request.app.state.runtime
    found = await service.get_request(rt, request_id)
    if found is None:
        raise HTTPException(404, "no such request")
    return _out(*found, rt.settings.holders)
