"""Public HTTP routes of the consent service: websites and widgets (site key), people (signed links),
ActiveCampaign (secret path). Thin: the work is in service.py, webhooks.py."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from services.common import words
from services.common.auth import Open, Public, Site
from services.common.contract import refusals
from services.common.errors import body_schema, json_body
from services.common.lean import LeanRoute
from services.common.links import LinkError
from services.common.problems import problem
from services.consent import analytics_ids, centre, restrictions, service, subjects, webhooks
from services.consent.context import ConsentContext
from services.consent.domain import Channel
from services.consent.schemas import (
    AnalyticsIdIn,
    CaptureIn,
    CaptureOut,
    CookiesIn,
    MinorReportIn,
    PurposeChoice,
    WithdrawIn,
    WithdrawOut,
)
from services.consent.web import Ctx, Seen, context, evidence, jsonable, show

router = APIRouter(tags=["consent"])
PUBLIC = Public()
SiteKey = Annotated[Site, Depends(PUBLIC)]
LINK = Open("the signed or single-use token in the path is the credential")
GONE = refusals(404, 410)  # a link we never made (404), or one used or expired (410)
TOKEN = Annotated[str, Path(min_length=10, max_length=2000)]


async def capture(request: Request) -> Response:
    """Record consent given or refused, per purpose, with the evidence the server sees (time, IP, user
    agent, page, Sec-GPC). Returns a consent receipt that points at its ledger entries."""
    # the hot route: body parsed and answer serialized by pydantic-core directly (see json_body), no
    # dependency solving (see LeanRoute)
    ctx = context(request)  # no dependency solving on this route
    body = await json_body(request, CaptureIn)
    out = await service.record_capture(ctx, body, evidence(request, body.page), actor=None)
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")


router.add_api_route(
    "/v1/consents",
    capture,
    methods=["POST"],
    status_code=201,
    response_model=CaptureOut,
    dependencies=[Depends(PUBLIC)],
    openapi_extra=body_schema(CaptureIn),
    route_class_override=LeanRoute,
)


@router.post("/v1/cookies", status_code=201)
async def cookies(body: CookiesIn, request: Request, ctx: Ctx, _site: SiteKey) -> CaptureOut:
    """The cookie banner (statement Art. 16): functional cookies need no consent and are not recorded as one;
    GPC (`Sec-GPC: 1` or `gpc`) refuses tracking with reason gpc, unless the person switched it on themselves
    (`tracking_over_gpc`)."""
    capture_in = CaptureIn(
        browser_id=body.browser_id,
        channel=Channel.COOKIE_BANNER,
        notice=body.notice,
        page=body.page,
        purposes=[  # functional cookies need no consent (statement Art. 16): nothing to record for them
            PurposeChoice(purpose="analytics_cookies", granted=body.analytics),
            PurposeChoice(purpose="tracking_cookies", granted=body.tracking, over_gpc=body.tracking_over_gpc),
        ],
    )
    return await service.record_capture(ctx, capture_in, evidence(request, body.page, gpc=body.gpc), actor=None)


@router.post("/v1/analytics-ids", status_code=202)
async def analytics_id(body: AnalyticsIdIn, ctx: Ctx, _site: SiteKey) -> dict[str, str]:
    """The Google Analytics client id of this browser (its `_ga` cookie), sent by consent.js while analytics is
    granted: kept sealed for the browser so that an erasure can name it to Google Analytics, which erases by
    nothing else. Kept only if this browser consented to analytics; the answer is the same either way."""
    await analytics_ids.record(ctx, body.browser_id, body.client_id)
    return {"status": "received"}


@router.post("/v1/withdrawals")
async def withdraw(body: WithdrawIn, ctx: Ctx, seen: Seen, _site: SiteKey) -> WithdrawOut:
    """Withdraw per purpose or everything (GDPR 7(3)). For the browser id the caller presents: at once, published
    at once. For an address: the person confirms with one click in a mail (anyone holds a site key; nobody
    withdraws another person's consent with it). Every mail we send keeps its own one-click unsubscribe."""
    done = await service.withdraw(ctx, body, seen)
    return WithdrawOut(
        withdrawn=[d.ref.purpose for d in done],
        ledger=[d.ref for d in done],
        confirmation_mailed=body.email is not None,
    )


@router.post("/v1/minor-reports", status_code=202)
async def report_minor(body: MinorReportIn, ctx: Ctx, seen: Seen, _site: SiteKey) -> dict[str, str]:
    """Statement Art. 3.5: data of a child under 16 left without a parent's consent. Processing is restricted
    at once (no mail, no tracking); the erasure across every holder follows when the address's owner confirms
    by mail or a privacy officer decides (dsar). The same answer for any address."""
    report_id = await restrictions.report_minor(ctx, body, seen)
    return {"status": "received", "report_id": report_id}


@router.get("/v1/purposes", dependencies=[Depends(Open("what we ask consent for is public"))])
async def purposes(ctx: Ctx) -> dict[str, Any]:
    return {
        "controller": ctx.catalogue.controller,
        "purposes": [
            {
                "id": p.id,
                "legal_basis": p.legal_basis.value,
                "retention_days": p.retention_days,
                "categories": list(p.categories),
                "article": p.article,
                "requires_consent": p.requires_consent,
                "double_opt_in": p.double_opt_in,
                "allows": list(p.allows),
                "description_nl": p.description_nl,
                "description_en": p.description_en,
            }
            for p in ctx.catalogue.purposes.values()
        ],
    }


def _names(ctx: ConsentContext, purpose_ids: list[str], lang: str) -> list[str]:
    found = (ctx.catalogue.purpose(p) for p in purpose_ids)
    return [p.described(lang) for p in found if p is not None]


@router.get("/v1/confirm/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def confirm_page(token: TOKEN, request: Request) -> HTMLResponse:
    """A button, never an action: mail scanners follow links."""
    return show(request, "confirm.html", {"done": False})


@router.post("/v1/confirm/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def confirm(token: TOKEN, request: Request, ctx: Ctx, seen: Seen) -> HTMLResponse:
    """The double opt-in click (or a parent's): records click time and IP as evidence."""
    done = await service.confirm(ctx, token, seen)
    lang = words.language(request.query_params.get("lang"))
    return show(request, "confirm.html", {"done": True, "names": _names(ctx, [d.ref.purpose for d in done], lang)})


def _unsubscribe_claims(ctx: ConsentContext, token: str) -> dict[str, Any]:
    try:
        return ctx.links.open(token, "unsubscribe")
    except LinkError as exc:
        raise HTTPException(404, f"unknown unsubscribe link: {exc}") from exc


@router.get("/v1/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def unsubscribe_page(token: TOKEN, request: Request, ctx: Ctx) -> HTMLResponse:
    claims = _unsubscribe_claims(ctx, token)
    lang = words.language(request.query_params.get("lang"))
    purposes = list(claims["p"])
    return show(
        request,
        "unsubscribe.html",
        {"done": False, "everything": purposes == ["*"], "names": _names(ctx, purposes, lang)},
    )


@router.post("/v1/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=GONE)
async def unsubscribe(token: TOKEN, request: Request, ctx: Ctx, seen: Seen) -> HTMLResponse:
    """One click, also as RFC 8058 `List-Unsubscribe=One-Click` POST from a mail client."""
    claims = _unsubscribe_claims(ctx, token)
    purposes = None if "*" in claims["p"] else set(claims["p"])
    done = await service.unsubscribe(ctx, claims["s"], purposes, seen)
    lang = words.language(request.query_params.get("lang"))
    return show(request, "unsubscribe.html", {"done": True, "names": _names(ctx, done, lang)})


@router.get(
    "/v1/history/{token}",
    dependencies=[Depends(LINK)],
    response_class=HTMLResponse,
    responses={200: {"content": {"application/json": {}}}, **GONE},
)
async def history(token: TOKEN, request: Request, ctx: Ctx) -> Any:
    """The person's own consent history and current state (a page for browsers, JSON on request)."""
    try:
        claims = ctx.links.open(token, "history")
    except LinkError as exc:
        status = 410 if "expired" in str(exc) else 404
        raise HTTPException(status, f"history link: {exc}") from exc
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(jsonable(await subjects.history(ctx, claims["s"])), headers={"cache-control": "no-store"})
    lang = words.language(request.query_params.get("lang"))
    return show(request, "history.html", await centre.overview(ctx, claims["s"], lang))


WEBHOOK_PATH = "/webhooks/activecampaign/{secret}"
AC_FORM = {  # the fields ActiveCampaign's webhooks send that are read here (others are kept, encrypted)
    "schema": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "examples": ["unsubscribe", "subscribe", "update"]},
            "contact[email]": {"type": "string", "description": "An address: subscribe, update, unsubscribe"},
            "list": {"type": "string"},
            "date_time": {"type": "string", "examples": ["2026-12-01T10:00:00+01:00"]},
            "initiated_by": {"type": "string"},
            "initiated_from": {"type": "string"},
            "unsubscribe[reason]": {"type": "string"},
        },
    }
}


@router.post(
    WEBHOOK_PATH,
    tags=["webhooks"],
    dependencies=[Depends(Open("the secret path segment is the credential (compared in constant time)"))],
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": AC_FORM}}},
    responses={202: {"description": "Stored; processing failed and will be retried"}, **refusals(400, 404)},
)
async def activecampaign(secret: Annotated[str, Path(max_length=200)], request: Request, ctx: Ctx) -> JSONResponse:
    """ActiveCampaign webhook (form-encoded). Wrong secret: 404. Stored before processing; never 410."""
    expected = ctx.settings.activecampaign_webhook_secret
    assert expected is not None
    if not hmac.compare_digest(secret.encode(), expected.get_secret_value().encode()):
        raise HTTPException(404, "Not Found")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        status, message = 400, f"expected application/x-www-form-urlencoded, got {content_type or 'nothing'}"
    else:
        status, message = await webhooks.receive(ctx, await request.body())
    if status >= 400:  # the same answer to a replay: no request id, and the path without its secret
        return problem(request, status, message, instance=WEBHOOK_PATH, with_request_id=False)
    return JSONResponse({"detail": message}, status_code=status)
