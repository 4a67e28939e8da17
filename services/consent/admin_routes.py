"""Staff routes of the consent service (bearer tokens with scopes)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.auth import Principal, Scope, Scoped
from services.common.contract import refusals
from services.common.moments import Tally
from services.common.pages import page, templates
from services.consent import (
    notices,
    objections,
    processing,
    register,
    restrictions,
    retention,
    service,
    stats,
    subjects,
)
from services.consent.schemas import (
    CaptureIn,
    CaptureOut,
    EmailIn,
    LiftIn,
    NoticeTextIn,
    ProcessorUpdate,
    WeighIn,
)
from services.consent.web import Ctx, evidence, jsonable

router = APIRouter(prefix="/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(Scoped(Scope.ADMIN))]
Dpo = Annotated[Principal, Depends(Scoped(Scope.DPO, Scope.ADMIN))]


@router.post("/consents", status_code=201)
async def staff_capture(body: CaptureIn, request: Request, ctx: Ctx, principal: Admin) -> CaptureOut:
    """Consent that reached staff by phone, WhatsApp, email, social media or a third party (Art. 3.4)."""
    return await service.record_capture(ctx, body, evidence(request, body.page), actor=principal.name)


@router.post("/notices", status_code=201)
async def put_notice_on_file(body: NoticeTextIn, ctx: Ctx, _: Admin) -> dict[str, str]:
    """GDPR 7(1): put a text the company shows outside the banner on file (a form's own words, a phone
    script). Choices made on it name the returned SHA-256; a public capture naming a hash that is not on
    file is refused. The same text twice gives the same hash and stores nothing new."""
    content = {"text": body.text, "labels": dict(sorted(body.labels.items()))}
    sha = await notices.archive_text(ctx, version=body.version, lang=body.lang, content=content)
    return {"sha256": sha, "url": ctx.url(f"/v1/notices/{sha}")}


@router.post("/subjects/history")
async def subject_history(body: EmailIn, ctx: Ctx, _: Dpo) -> dict[str, Any]:
    """A person's full consent history with evidence (the email is in the body, not in URLs or logs)."""
    return jsonable(await subjects.history(ctx, ctx.rt.recorder.pseudonym(str(body.email))))


@router.post("/subjects/restriction/lift", responses=refusals(404))
async def lift_restriction(body: LiftIn, ctx: Ctx, principal: Dpo) -> dict[str, Any]:
    """GDPR 18(3): lift a person's restriction of processing. The person is mailed first, with the date and the
    reason; it takes effect RESTRICTION_LIFT_NOTICE_DAYS later (the retention job lifts it then)."""
    lift_at = await restrictions.announce_lift(ctx, str(body.email), body.why, principal.name, body.language)
    return {"lift_at": lift_at, "person_told": True}


@router.post("/subjects/objection/weigh")
async def weigh_objection(body: WeighIn, ctx: Ctx, principal: Dpo) -> dict[str, Any]:
    """GDPR 21(1): weigh a person's objection to a purpose on legitimate interest. Upheld, that processing stops
    for them (published); not upheld, compelling grounds override it. The person is mailed the outcome and
    the grounds, with the AP and the courts; the ledger keeps the decision."""
    changed = await objections.weigh(
        ctx,
        str(body.email),
        body.purpose,
        upheld=body.upheld,
        grounds=body.grounds,
        by=principal.name,
        lang=body.language,
    )
    return {"upheld": body.upheld, "changed": changed, "person_told": True}


@router.get("/stats/consents")
async def consent_stats(
    ctx: Ctx, _: Dpo, days: Annotated[int, Query(ge=1, le=366, description="Days back, today included")] = 30
) -> dict[str, Any]:
    """Consent granted, withdrawn, refused and refused by GPC per purpose per day (UTC), for the console."""
    return await stats.daily(ctx, days)


@router.get("/processors")
async def processors(ctx: Ctx, _: Dpo) -> list[dict[str, Any]]:
    return [r.model_dump() for r in await processing.processors(ctx)]


@router.put("/processors/{processor_id}", responses=refusals(404))
async def update_processor(
    processor_id: Annotated[str, Path(max_length=80)], body: ProcessorUpdate, ctx: Ctx, _: Dpo
) -> dict[str, Any]:
    """Record the processing agreement's status (statement Art. 8)."""
    return (await processing.set_agreement(ctx, processor_id, body.agreement)).model_dump()


@router.post("/retention/run")
async def run_retention(ctx: Ctx, _: Admin) -> dict[str, Tally]:
    """Run the retention job now (it also runs on its own schedule)."""
    return await retention.run(ctx)


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PAGES = templates(FilePath(__file__).parent)


@router.get(
    "/processing-activities",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/html": {}}}, 404: {"description": "No version then"}},
)
async def processing_activities(
    request: Request,
    ctx: Ctx,
    _: Dpo,
    at: Annotated[date | None, Query(description="The register as it stood at the end of this day")] = None,
    format: Annotated[Literal["json", "html"] | None, Query(description="Default: by the Accept header")] = None,
) -> JSONResponse | HTMLResponse:
    """GDPR 30: the record of processing activities, one record per purpose, with its version and the
    ledger entry that proves it; `?at=2026-12-01` gives the version in force then (printable as HTML)."""
    if at is None:
        current = await processing.current(ctx)
        assert current is not None
        row = current
    else:
        end_of_day = datetime.combine(at, time.max, tzinfo=AMSTERDAM)
        found = await processing.at(ctx, end_of_day)
        if found is None:
            raise HTTPException(404, f"no version of the register was recorded by the end of {at.isoformat()}")
        row = found
    served = processing.served(row, ctx)
    wants_html = format == "html" or (format is None and "text/html" in request.headers.get("accept", ""))
    if not wants_html:
        return JSONResponse(served)
    local = row.recorded_at.astimezone(AMSTERDAM)
    recorded = f"{local.day} {register.MONTHS_NL[local.month - 1]} {local.year}, {local:%H:%M}"
    context_ = {
        "reg": served,
        "recorded": recorded,
        "agreement_words": register.AGREEMENT_NL,
        "basis_words": register.BASIS_NL,
        "data_words": register.DATA_NL,
        "controller": served["controller"]["name"],
    }
    return page(PAGES, request, "register.html", context_, personal=False)
