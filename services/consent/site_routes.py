"""What a website embeds: the script /v1/consent.js (banner, prior blocking, Consent Mode v2, GPC, forms)
and the notice it builds the banner from. Thin: the texts and their hash are in notice.py."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.common import words
from services.common.auth import Open, Public, query_of
from services.common.contract import refusals
from services.common.fastlane import Answer, as_response, headers_of
from services.consent import assets, notices, processing
from services.consent import information as info
from services.consent.context import ConsentContext
from services.consent.web import Ctx, show

router = APIRouter(tags=["website"])
SCRIPT = Open("a public script any website may load", rate_limited=False)
CACHE_LATEST = "public, max-age=3600, stale-while-revalidate=600"
CACHE_PINNED = "public, max-age=31536000, immutable"
JS = "text/javascript"


def script_answer(script: assets.Script, cache: str, if_none_match: str | None, accept_encoding: str) -> Answer:
    """consent.js as its route and its fast lane answer it (a 304 for the ETag the browser holds; gzip)."""
    headers = {
        "cache-control": cache,
        "etag": script.etag,
        "vary": "accept-encoding",
        "x-consent-js-version": script.version,
        # readable by any page, so that <script integrity=... crossorigin> can check it
        "access-control-allow-origin": "*",
        "cross-origin-resource-policy": "cross-origin",
        "x-content-type-options": "nosniff",
    }
    route = "/v1/consent.js" if cache == CACHE_LATEST else "/v1/consent-{version}.js"
    if if_none_match == script.etag:
        return Answer(304, b"", headers_of(headers), route)
    if "gzip" in accept_encoding:
        return Answer(200, script.gzipped, headers_of({**headers, "content-encoding": "gzip"}, JS), route)
    return Answer(200, script.body, headers_of(headers, JS), route)


def _script_response(request: Request, script: assets.Script, cache: str) -> Response:
    inm, encodings = request.headers.get("if-none-match"), request.headers.get("accept-encoding", "")
    return as_response(script_answer(script, cache, inm, encodings))


def _built() -> assets.Script:
    script = assets.newest()
    if script is None:
        raise HTTPException(404, "consent.js is not built: run `npm ci && npm run build`")
    return script


@router.get(
    "/v1/consent.js",
    dependencies=[Depends(SCRIPT)],
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}, **refusals(404)},
)
async def consent_js(request: Request) -> Response:
    """The newest consent.js (cached for an hour). Pin a version with `/v1/consent-<version>.js` and the
    SRI hash from `/v1/consent-js`."""
    return _script_response(request, _built(), CACHE_LATEST)


@router.get(
    "/v1/consent-{version}.js",
    dependencies=[Depends(SCRIPT)],
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}, **refusals(404)},
)
async def consent_js_pinned(
    version: Annotated[str, Path(pattern=r"^\d+\.\d+\.\d+$", max_length=20)], request: Request
) -> Response:
    """One version of consent.js, never changed once published (cached for a year, immutable)."""
    script = assets.scripts().get(version)
    if script is None:
        raise HTTPException(404, f"no consent.js version {version}; known: {', '.join(sorted(assets.scripts()))}")
    return _script_response(request, script, CACHE_PINNED)


@router.get("/v1/consent-js", dependencies=[Depends(Open("what a site needs to pin the script"))])
async def consent_js_versions(ctx: Ctx) -> dict[str, Any]:
    """Every published version of consent.js with its Subresource Integrity hash, and a tag to copy."""
    base = ctx.url("")
    newest = _built()
    versions = [
        {"version": s.version, "url": base + s.path, "integrity": s.integrity} for s in assets.scripts().values()
    ]
    tag = (
        f'<script src="{base}{newest.path}" integrity="{newest.integrity}" crossorigin="anonymous" '
        'data-site-key="sk_..." defer></script>'
    )
    return {"newest": newest.version, "versions": versions, "tag": tag}


# Not rate-limited: every page view of every visitor asks (an office behind one address would otherwise
# see no banner once its bucket ran dry), and the answer is a cached, revalidated read.
BANNER_ACCESS = Public(rate_limited=False)


@router.get("/v1/banner", dependencies=[Depends(BANNER_ACCESS)])
async def banner(request: Request, ctx: Ctx, lang: Annotated[Literal["nl", "en"], Query()] = "nl") -> Response:
    """The notice consent.js shows: texts, categories with their processors and retention, form labels,
    the version and the SHA-256 that each recorded choice names. The site key goes in `site_key`."""
    return as_response(await banner_answer(ctx, lang, request.headers.get("if-none-match")))


async def banner_answer(ctx: ConsentContext, lang: str, if_none_match: str | None) -> Answer:
    """The banner's answer, for its route and its fast lane (made once per notice, language and ETag match)."""
    notice = ctx.notice(lang)
    if notice is None:
        raise HTTPException(404, "this consent service has no banner configured (purposes file: banner)")
    await notices.archive_once(ctx, notice)  # GDPR 7(1): the text a choice on it names, kept by its hash
    # the same for every visitor of a site: public, so a CDN or reverse proxy serves it; briefly, so that a new
    # notice or a revoked site key reaches everyone within BANNER_CACHE_SECONDS (max-age, then stale-while-
    # revalidate); per Origin, as the answer to a site's own pages differs from the answer to another's
    etag = f'"{notice["hash"][:32]}"'
    fresh = if_none_match == etag
    made = ctx.banner_answers.get((lang, etag, fresh))
    if made is None:
        bound = ctx.settings.banner_cache_seconds
        stale = bound // 4
        cache = f"public, max-age={bound - stale}, stale-while-revalidate={stale}"
        headers = {"cache-control": cache, "etag": etag, "vary": "origin"}
        made = (
            Answer(304, b"", headers_of(headers), "/v1/banner")
            if fresh
            else Answer(200, _as_json(notice), headers_of(headers, "application/json"), "/v1/banner")
        )
        ctx.banner_answers[(lang, etag, fresh)] = made  # a handful: two languages, a notice version at a time
    return made


def _as_json(notice: dict[str, Any]) -> bytes:
    """The notice as JSONResponse would serialise it (once per notice and language: the answer is kept)."""
    return json.dumps(notice, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


async def banner_lane(request: Request) -> Answer | None:
    """The banner before FastAPI's routing (fastlane.py): the route's own checks, its own answer; anything
    else (another parameter, a refused key) goes the long way."""
    params, repeated = query_of(request.scope["query_string"])
    lang = params.get("lang", "nl")
    if lang not in ("nl", "en") or repeated or not params.keys() <= {"site_key", "lang"}:
        return None
    if await BANNER_ACCESS.admits(request) is None:  # the route's own dependency: it refuses (and counts) it
        return None
    try:
        return await banner_answer(
            ConsentContext.of(request.app.state.runtime), lang, request.headers.get("if-none-match")
        )
    except HTTPException:  # no banner configured: the route says so
        return None


async def script_lane(request: Request) -> Answer | None:
    script = assets.newest()
    if script is None:
        return None
    inm, encodings = request.headers.get("if-none-match"), request.headers.get("accept-encoding", "")
    return script_answer(script, CACHE_LATEST, inm, encodings)


LANES = {"/v1/banner": banner_lane, "/v1/consent.js": script_lane}


NOTICE = Open("what we tell everyone (GDPR 13 and 14) and the texts we showed are public")


@router.get("/privacy/notice", response_class=HTMLResponse, dependencies=[Depends(NOTICE)])
async def information(request: Request, ctx: Ctx) -> HTMLResponse:
    """GDPR 13 and 14, generated from the configuration: purposes, bases, data, retention, recipients and
    transfers, the product's own processing, the rights and the AP. Every form's consent box links here."""
    lang = words.language(request.query_params.get("lang"))
    register = await processing.current(ctx)
    return show(request, "notice_info.html", {"info": info.information(ctx.catalogue, lang), "register": register})


@router.get("/v1/notices/{sha256}", dependencies=[Depends(NOTICE)], responses=refusals(404))
async def notice_text(sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], ctx: Ctx) -> dict[str, Any]:
    """GDPR 7(1): the notice text a recorded choice names by its SHA-256, as it was served."""
    row = await notices.served(ctx, sha256)
    if row is None:
        raise HTTPException(404, "no notice with this SHA-256 was ever served here")
    return {"sha256": row.sha256, "first_served_at": row.first_served_at, "notice": json.loads(row.content)}
