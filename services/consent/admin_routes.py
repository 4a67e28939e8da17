"""Staff routes of the consent service (bearer tokens with scopes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from sqlmodel import select

from services.common.auth import Principal, Scope, Scoped
from services.consent import retention, subjects
from services.consent.models import ProcessorEntry
from services.consent.routes import _capture, context, jsonable
from services.consent.schemas import CaptureIn, CaptureOut, EmailIn, ProcessorUpdate

router = APIRouter(prefix="/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(Scoped(Scope.ADMIN))]
Dpo = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]


@router.post("/consents", status_code=201)
async def staff_capture(body: CaptureIn, request: Request, principal: Admin) -> CaptureOut:
    """Consent that reached staff by phone, WhatsApp, email, social media or a third party (Art. 3.4)."""
    return await _capture(request, body, principal.name)


@router.post("/subjects/history")
async def subject_history(body: EmailIn, request: Request, _: Dpo) -> dict[str, Any]:
    """A person's full consent history with evidence (the email is in the body, not in URLs or logs)."""
    ctx = context(request)
    return jsonable(await subjects.history(ctx, ctx.rt.recorder.pseudonym(str(body.email))))


@router.get("/processors")
async def processors(request: Request, _: Dpo) -> list[dict[str, Any]]:
    async with context(request).rt.db.read() as s:
        rows = (await s.execute(select(ProcessorEntry))).scalars().all()
    return [r.model_dump() for r in rows]


@router.put("/processors/{processor_id}")
async def update_processor(
    processor_id: Annotated[str, Path(max_length=80)], body: ProcessorUpdate, request: Request, _: Dpo
) -> dict[str, Any]:
    """Record the processing agreement's status (statement Art. 8)."""
    async with context(request).rt.db.transaction() as s:
        row = await s.get(ProcessorEntry, processor_id)
        if row is None:
            raise HTTPException(404, "no such processor")
        row.agreement, row.updated_at = body.agreement, datetime.now(UTC)
        s.add(row)
    return row.model_dump()


@router.post("/retention/run")
async def run_retention(request: Request, _: Admin) -> dict[str, int]:
    """Run the retention job now (it also runs on its own schedule)."""
    return await retention.run(context(request))
