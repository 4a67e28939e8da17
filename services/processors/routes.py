"""Staff routes of the processors service (bearer tokens, scopes dpo and admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.encoders import jsonable_encoder

from services.common.auth import Principal, Scope, Scoped
from services.common.contract import refusals
from services.processors import views
from services.processors.context import ProcessorsContext

router = APIRouter(prefix="/admin", tags=["processors"])
Staff = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]


def context(request: Request) -> ProcessorsContext:
    return ProcessorsContext.of(request.app.state.runtime)


Ctx = Annotated[ProcessorsContext, Depends(context)]


@router.get("/connectors")
async def connectors(ctx: Ctx, _: Staff) -> list[dict[str, Any]]:
    """Every processor of statement Art. 8 with a connector: automated, submitted, instructed or exempt;
    connected, needs authorisation, failing, rate-limited or not configured; open tasks; last success."""
    found: list[dict[str, Any]] = jsonable_encoder(await views.connectors(ctx))
    return found


@router.get("/requests/{request_id}", responses=refusals(404))
async def request_tasks(request_id: Annotated[str, Path(max_length=64)], ctx: Ctx, _: Staff) -> dict[str, Any]:
    """Each processor's part of a data-subject request: asked when, its outcome, what was sent (templates)."""
    tasks = await views.request_tasks(ctx, request_id)
    if not tasks:
        raise HTTPException(404, "no processor was asked anything for this request")
    return {"request_id": request_id, "tasks": jsonable_encoder(tasks)}
