"""Public routes of the dsar service: make a request, confirm it, read the export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.auth import Open, Public, Site
from services.common.links import LinkError
from services.dsar import export, service
from services.dsar.schemas import RequestIn

router = APIRouter(tags=["requests"])
SiteKey = Annotated[Site, Depends(Public())]
LINK = Open("the single-use or signed token in the path is the credential")
TOKEN = Annotated[str, Path(min_length=10, max_length=2000)]
ACCEPTED = {
    "status": "received",
    "message": "If the address is right, a mail asks you to confirm the request. / "
    "Als het adres klopt, vraagt een mail je het verzoek te bevestigen.",
}


def context(request: Request) -> service.DsarContext:
    return service.DsarContext.of(request.app.state.runtime)


@router.post("/v1/requests", status_code=202)
async def make_request(body: RequestIn, request: Request, _site: SiteKey) -> dict[str, str]:
    """Access, erasure, rectification, restriction or objection. The answer never tells whether the
    address is known; the request id is only ever mailed."""
    await service.intake(
        context(request),
        kind=body.kind,
        email=str(body.email),
        text=body.text,
        channel="website",
        language=body.language,
        corrections=body.corrections,
    )
    return ACCEPTED


@router.get("/v1/verify/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)])
async def verify_page(token: TOKEN, request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><meta charset="utf-8"><title>Bevestigen</title><h1>Verzoek bevestigen / Confirm</h1>'
        f'<form method="post" action="{request.url.path}"><button type="submit">Bevestigen / Confirm</button></form>'
    )


@router.post("/v1/verify/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)])
async def verify(token: TOKEN, request: Request) -> HTMLResponse:
    """The emailed single-use link: 404 when unknown or used, 410 when expired."""
    await service.verify(context(request), token, datetime.now(UTC))
    return HTMLResponse(
        '<!doctype html><meta charset="utf-8"><h1>Bevestigd / Confirmed</h1>'
        "<p>We gaan ermee aan de slag; binnen een maand hoor je van ons.</p>"
    )


@router.get("/v1/exports/{token}", dependencies=[Depends(LINK)], response_model=None)
async def read_export(
    token: TOKEN,
    request: Request,
    format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
    lang: Annotated[str, Query(pattern="^(nl|en)$")] = "nl",
) -> Any:
    """The access export behind the expiring link mailed to the verified person."""
    ctx = context(request)
    try:
        claims = ctx.links.open(token, "export")
    except LinkError as exc:
        raise HTTPException(410 if "expired" in str(exc) else 404, f"export link: {exc}") from exc
    data = await export.compile_export(ctx, claims["r"])
    if format == "json":
        return JSONResponse(jsonable_encoder(data))
    return HTMLResponse(export.render_html(data, lang))
