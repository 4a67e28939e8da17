"""Routes for other systems (issue 35): the lookup ("may I mail this person?", a `lookup` token) and the
privacy officer's registration of webhook endpoints. Thin: the work is in lookup.py and pushes.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from services.common.auth import Principal, Scope, Scoped
from services.common.contract import refusals
from services.consent import lookup, pushes
from services.consent.schemas import LookupIn, LookupOut, WebhookIn, WebhookOut
from services.consent.web import Ctx

router = APIRouter()
System = Annotated[Principal, Depends(Scoped(Scope.LOOKUP))]
Dpo = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]
NAME = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$", description="The system's name, e.g. crm")]


@router.post("/v1/lookup", tags=["other systems"], responses=refusals(429))
async def look_up(body: LookupIn, ctx: Ctx, principal: System) -> LookupOut:
    """Per address (or browser id), in the order sent: its pseudonym, the key of its record on
    `consent.state.v1`, and whether a given consent allows mail, tracking and calls now. Someone who refused,
    withdrew, never answered or is unknown reads the same. At most 1,000 a call; LOOKUP_ADDRESSES_PER_MINUTE
    a token (429 with Retry-After past it). Each call is recorded as processing (who, how many, when)."""
    return await lookup.look_up(ctx, principal.name, body)


@router.put("/admin/webhooks/{name}", tags=["admin"], responses=refusals(422))
async def register_webhook(name: NAME, body: WebhookIn, ctx: Ctx, principal: Dpo) -> WebhookOut:
    """Register or change where a system is told of consent changes (Standard Webhooks). The signing secret
    is answered once, when the endpoint is made or with `rotate_secret`."""
    return await pushes.register(ctx, name, body, principal.name)


@router.get("/admin/webhooks", tags=["admin"])
async def webhooks(ctx: Ctx, _: Dpo) -> list[dict[str, Any]]:
    """Every endpoint (no secret) with its deliveries waiting, delivered and dead-lettered."""
    return await pushes.endpoints(ctx)


@router.get("/admin/webhooks/deliveries/dead", tags=["admin"])
async def dead_deliveries(ctx: Ctx, _: Dpo, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Deliveries given up on after WEBHOOK_RETRY_HOURS, newest first (the person only as a pseudonym)."""
    return await pushes.dead(ctx, limit)


@router.post("/admin/webhooks/deliveries/{delivery_id}/retry", tags=["admin"], responses=refusals(404))
async def retry_delivery(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)], ctx: Ctx, _: Dpo) -> dict[str, str]:
    """Send a dead-lettered delivery again, with its webhook-id (a receiver that had it drops the repeat)."""
    await pushes.retry(ctx, delivery_id)
    return {"status": "queued"}
