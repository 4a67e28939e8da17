"""Public routes of the dsar service: make a request, confirm it, read the export; and the privacy centre's
own two (its signed assertion is the credential)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.common import pages, words
from services.common.auth import Open, Public, Site
from services.common.contract import refusals
from services.common.errors import ServiceError
from services.common.links import LinkError, open_centre_assertion
from services.dsar import centre, export, service
from services.dsar.schemas import CentreRequestIn, CentreRequestOut, RequestIn

router = APIRouter(tags=["requests"])
SiteKey = Annotated[Site, Depends(Public())]
GONE = refusals(404, 410)  # a link we never made (404), or one used or expired (410)
LINK = Open("the single-use or signed token in the path is the credential")
CENTRE = Open("the privacy centre's short-lived assertion, signed with the shared CENTRE_KEY, is the credential")
TOKEN = Annotated[str, Path(min_length=10, max_length=2000)]
LANG = Annotated[str, Query(pattern="^(nl|en)$")]
ASSERTION = Annotated[str, Header(alias="x-privacy-centre", max_length=2000, description="The centre's assertion")]
TEMPLATES = pages.templates(FilePath(__file__).parent)
ACCEPTED = {
    "status": "received",
    "message": "If the address is right, a mail asks you to confirm the request. / "
    "Als het adres klopt, vraagt een mail je het verzoek te bevestigen.",
}


def context(request: Request) -> service.DsarContext:
    return service.DsarContext.of(request.app.state.runtime)


Ctx = Annotated[service.DsarContext, Depends(context)]  # injected into every route (FastAPI's `SessionDep` style)


@router.post("/v1/requests", status_code=202)
async def make_request(body: RequestIn, ctx: Ctx, _site: SiteKey) -> dict[str, str]:
    """Access, erasure, rectification, restriction or objection. The answer never tells whether the
    address is known; the request id is only ever mailed."""
    await service.intake(
        ctx,
        kind=body.kind,
        email=str(body.email),
        text=body.text,
        channel="website",
        language=body.language,
        corrections=body.corrections,
    )
    return ACCEPTED


@router.get("/v1/verify/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def verify_page(token: TOKEN, request: Request, lang: LANG = "nl") -> HTMLResponse:
    """A button, never an action: mail scanners open links."""
    return pages.page(TEMPLATES, request, "verify.html", {"lang": lang, "done": False}, personal=True)


@router.post("/v1/verify/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def verify(token: TOKEN, request: Request, ctx: Ctx, lang: LANG = "nl") -> HTMLResponse:
    """The emailed single-use link: a page saying so when unknown or used (404) or expired (410)."""
    done = await service.verify(ctx, token, datetime.now(UTC))
    lang = words.language(done.language if "lang" not in request.query_params else lang)
    context_ = {"lang": lang, "done": True, "kind": done.kind, "deadline": done.deadline}
    return pages.page(TEMPLATES, request, "verify.html", context_, personal=True)


@router.get(
    "/v1/exports/{token}",
    dependencies=[Depends(LINK)],
    response_class=HTMLResponse,
    responses={200: {"content": {"application/json": {}}}, **GONE},
)
async def read_export(
    token: TOKEN,
    request: Request,
    ctx: Ctx,
    format: Annotated[str, Query(pattern="^(html|json|csv)$")] = "html",
    lang: LANG = "nl",
) -> Any:
    """The export behind the expiring link mailed to the verified person. Access (GDPR 15): a page written for
    the person, or (`format=json`) the complete machine-readable document (`schemas/access-export.schema.json`).
    Portability (GDPR 20): what the person provided, as JSON or CSV, with a page that offers both."""
    try:
        claims = ctx.links.open(token, "export")
    except LinkError as exc:
        raise HTTPException(410 if "expired" in str(exc) else 404, f"export link: {exc}") from exc
    data = await export.compile_export(ctx, claims["r"])
    no_store = {"cache-control": "no-store"}
    if data["request"]["kind"] == "portability":
        rows = export.portable(data)
        if format == "csv":
            disposition = {"content-disposition": 'attachment; filename="my-data.csv"'}
            return Response(export.as_csv(rows), media_type="text/csv; charset=utf-8", headers=no_store | disposition)
        if format == "json":
            body = {"request": data["request"], "controller": data["controller"], "provided": rows}
            return JSONResponse(jsonable_encoder(body), headers=no_store)
        context_ = {"lang": words.language(lang), "rows": rows, "request": data["request"], "request_url": request.url}
        return pages.page(TEMPLATES, request, "portable.html", context_, personal=True)
    if format == "csv":
        raise HTTPException(404, "CSV is offered for a portability request; an access export is JSON or a page")
    if format == "json":
        return JSONResponse(jsonable_encoder(data), headers=no_store)
    return pages.page(TEMPLATES, request, "export.html", export.readable(data, lang), personal=True)


def _centre_email(ctx: service.DsarContext, assertion: str) -> str:
    try:
        return open_centre_assertion(ctx.settings.secret_bytes("centre_key"), assertion)
    except LinkError as exc:
        raise ServiceError(401, f"privacy centre assertion refused: {exc}") from exc


@router.get("/v1/centre/requests", dependencies=[Depends(CENTRE)], responses=refusals(401))
async def centre_requests(ctx: Ctx, assertion: ASSERTION) -> list[CentreRequestOut]:
    """The requests of the person the privacy centre vouches for, newest first."""
    email = _centre_email(ctx, assertion)
    return [CentreRequestOut(**r) for r in await centre.requests_of(ctx, email)]


@router.post("/v1/centre/requests", status_code=202, dependencies=[Depends(CENTRE)], responses=refusals(401))
async def centre_make_request(body: CentreRequestIn, ctx: Ctx, assertion: ASSERTION) -> dict[str, str]:
    """A request made in the privacy centre: the sign-in counts as the identity check (recorded as such);
    `linked` when a request of the same kind is already open."""
    email = _centre_email(ctx, assertion)
    status = await centre.make_request(
        ctx,
        email,
        kind=body.kind,
        text=body.text,
        language=body.language,
        corrections=body.corrections,
    )
    return {"status": status}
