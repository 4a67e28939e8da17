"""The privacy centre's pages (`/privacy`): plain HTML forms that work without JavaScript. Thin: parse the
form, call a use-case in centre.py, answer with a page or a redirect (POST, then GET)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common import words
from services.common.auth import Open
from services.common.contract import refusals
from services.common.emails import check_email
from services.common.ledger import proofs
from services.common.sessions import CookieSessions, csrf_ok
from services.consent import centre
from services.consent.context import ConsentContext
from services.consent.dsar_client import DsarUnavailable
from services.consent.web import Ctx, Seen, show

router = APIRouter(prefix="/privacy", tags=["privacy centre"])
SIGNED_IN = Open("the privacy centre: its session cookie (from a single-use mailed link) is the credential")
LINK = Open("the single-use token in the path is the credential")
TOKEN = Annotated[str, Path(min_length=10, max_length=200)]
LANG = Annotated[str | None, Query(pattern="^(nl|en)$")]
FORM_LANG = Annotated[str, Form(pattern="^(nl|en|)$", description="nl or en; empty: nl")]
CSRF = Annotated[str, Form(min_length=1, max_length=100)]
PURPOSE = Annotated[str, Form(min_length=1, max_length=60)]
KINDS = ("access", "portability", "erasure", "rectification", "restriction", "objection")
FIELDS = ("name", "email", "phone", "address", "company_name", "date_of_birth")
SESSION = refusals(401, 403)  # no session (or it ended): 401; a form without its CSRF token: 403
DONE = frozenset({"withdrawn", "granted", "confirm", "nothing", "started", "linked", "signed_out", "unavailable"})


LINK_NONCE = "privacy_link"  # binds a sign-in link's button to the browser that opened the link


def sessions(ctx: ConsentContext) -> CookieSessions:
    return CookieSessions(
        ctx.settings.secret_bytes("link_signing_key"),
        name="privacy_centre",
        path="/privacy",
        idle_seconds=ctx.settings.centre_session_minutes * 60,
        max_seconds=ctx.settings.centre_session_max_hours * 3600,
    )


async def live_session(request: Request, ctx: ConsentContext) -> dict[str, Any] | None:
    """The request's session: sealed, within both its expiries, and not ended on the server."""
    session = sessions(ctx).open(request)
    if session is None or not await centre.session_live(ctx, session.get("sid")):
        return None
    return session


def _back(lang: str, done: str, purpose: str = "") -> RedirectResponse:
    query = f"?lang={lang}&done={done}" + (f"&p={purpose}" if purpose else "")
    return RedirectResponse("/privacy" + query, status_code=303)


@router.get("", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)])
async def home(
    request: Request,
    ctx: Ctx,
    lang: LANG = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    p: Annotated[str | None, Query(max_length=60)] = None,
) -> HTMLResponse:
    """Signed in: the person's consents, requests, recipients and history. Otherwise: the sign-in form."""
    store = sessions(ctx)
    session = await live_session(request, ctx)
    if session is None:
        shown = words.language(lang)
        return show(request, "centre/sign_in.html", {"lang": shown, "signed_out": done == "signed_out"})
    response = await _home(
        request,
        ctx,
        session,
        words.language(lang or session.get("l")),
        done=done if done in DONE else None,
        done_purpose=ctx.catalogue.purpose(p or ""),
    )
    store.keep(response, request, session)  # the idle timeout starts again
    return response


async def _home(
    request: Request, ctx: ConsentContext, session: dict[str, Any], lang: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    view = await centre.overview(ctx, session["s"], lang)
    return show(
        request,
        "centre/home.html",
        {
            "done": None,
            "done_purpose": None,
            "form_error": False,
            "form": {"kind": "", "text": ""},
            **view,
            **extra,
            "lang": lang,
            "email": session["e"],
            "csrf": session["csrf"],
            "requests": await centre.requests(ctx, session["e"]),
            "kinds": KINDS,
            "fields": FIELDS,
        },
        status=status,
    )


@router.post("/sign-in", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)])
async def ask_link(
    request: Request,
    ctx: Ctx,
    email: Annotated[str, Form(max_length=320, json_schema_extra={"format": "email"})],
    lang: FORM_LANG = "nl",
) -> HTMLResponse:
    """Mail a sign-in link. The same page whether or not we know the address; 429 (same words) when too
    many were asked for this address or from this IP."""
    try:
        address = check_email(email.strip())
    except ValueError:
        return show(request, "centre/sign_in.html", {"lang": lang, "error": True, "email": email}, status=422)
    client = request.client.host if request.client else "-"
    try:
        await centre.send_sign_in(ctx, address, lang, client)
    except centre.TooManyMails:
        return show(request, "centre/sent.html", {"lang": lang}, status=429)
    return show(request, "centre/sent.html", {"lang": lang})


@router.get("/sign-in/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)])
async def link_page(token: TOKEN, request: Request, lang: LANG = None) -> HTMLResponse:
    """A button, never an action: mail scanners open links, people press buttons. The button works only in
    the browser that opened this page (a SameSite=Strict cookie and the form's copy of it), so a page of
    another site cannot post a sign-in link of its own and sign a visitor into someone else's centre."""
    nonce = secrets.token_urlsafe(24)
    response = show(request, "centre/open.html", {"lang": words.language(lang), "link_nonce": nonce})
    response.set_cookie(
        LINK_NONCE,
        nonce,
        max_age=3600,
        path="/privacy/sign-in",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


@router.post(
    "/sign-in/{token}", response_class=HTMLResponse, dependencies=[Depends(LINK)], responses=refusals(403, 410)
)
async def sign_in(
    token: TOKEN,
    request: Request,
    ctx: Ctx,
    lang: LANG = None,
    nonce: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Use the link (once): start a session and go to the centre; a used or expired link offers a new one.
    Refused (403, the link still unused) when the button was not pressed on the link's own page in this
    browser."""
    shown = words.language(lang)
    cookie = request.cookies.get(LINK_NONCE, "")
    if not (cookie and nonce and hmac.compare_digest(cookie, nonce)):
        return show(request, "centre/sign_in.html", {"lang": shown, "planted": True}, status=403)
    try:
        session = await centre.open_sign_in(ctx, token)
    except centre.LinkRefused as exc:
        return show(request, "centre/sign_in.html", {"lang": shown, "refused": exc.why}, status=410)
    response = RedirectResponse(f"/privacy?lang={words.language(lang or session['l'])}", status_code=303)
    started = sessions(ctx).start(response, request, session)
    await centre.session_started(ctx, started["sid"])
    response.delete_cookie(LINK_NONCE, path="/privacy/sign-in")
    return response


async def _session_or_page(
    request: Request, ctx: ConsentContext, csrf: str, lang: str
) -> dict[str, Any] | HTMLResponse:
    session = await live_session(request, ctx)
    if session is None:
        return show(request, "centre/sign_in.html", {"lang": lang, "expired": True}, status=401)
    if not csrf_ok(session, csrf):
        return show(request, "centre/sign_in.html", {"lang": lang, "forged": True}, status=403)
    return session


@router.post("/withdraw", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)], responses=SESSION)
async def withdraw(
    request: Request,
    ctx: Ctx,
    seen: Seen,
    csrf: CSRF,
    purpose: PURPOSE,
    third_party: Annotated[str, Form(max_length=200)] = "",
    lang: FORM_LANG = "nl",
) -> Response:
    """GDPR 7(3): withdrawing is one press, like giving; the person and their linked browsers, at once."""
    session = await _session_or_page(request, ctx, csrf, lang)
    if isinstance(session, HTMLResponse):
        return session
    done = await centre.withdraw(ctx, session["s"], purpose, third_party or None, seen)
    return _back(lang, "withdrawn" if done else "nothing", purpose)


@router.post("/grant", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)], responses=SESSION)
async def grant(
    request: Request, ctx: Ctx, seen: Seen, csrf: CSRF, purpose: PURPOSE, lang: FORM_LANG = "nl"
) -> Response:
    """Give a standing consent (the newsletter): confirmed by mail first where the purpose asks for it."""
    session = await _session_or_page(request, ctx, csrf, lang)
    if isinstance(session, HTMLResponse):
        return session
    confirmation = await centre.grant(ctx, session["e"], purpose, seen, lang)
    return _back(lang, "confirm" if confirmation else "granted", purpose)


@router.post("/requests", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)], responses=SESSION)
async def make_request(
    request: Request,
    ctx: Ctx,
    csrf: CSRF,
    kind: Annotated[str, Form(pattern="^(access|erasure|rectification|restriction|objection)$")],
    text: Annotated[str, Form(max_length=5000)] = "",
    field_1: Annotated[str, Form(max_length=40)] = "",
    value_1: Annotated[str, Form(max_length=500)] = "",
    field_2: Annotated[str, Form(max_length=40)] = "",
    value_2: Annotated[str, Form(max_length=500)] = "",
    lang: FORM_LANG = "nl",
) -> Response:
    """Access, erasure, rectification, restriction or objection, through dsar's public centre API."""
    session = await _session_or_page(request, ctx, csrf, lang)
    if isinstance(session, HTMLResponse):
        return session
    corrections = {f: v.strip() for f, v in ((field_1, value_1), (field_2, value_2)) if f in FIELDS and v.strip()}
    if kind == "rectification" and not corrections:
        extra = {"form_error": True, "form": {"kind": kind, "text": text}}
        return await _home(request, ctx, session, lang, status=422, **extra)
    try:
        status = await centre.make_request(ctx, session["e"], kind=kind, text=text, lang=lang, corrections=corrections)
    except DsarUnavailable:
        return _back(lang, "unavailable")
    return _back(lang, status)


@router.post("/sign-out", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)], responses=SESSION)
async def sign_out(request: Request, ctx: Ctx, csrf: CSRF, lang: FORM_LANG = "nl") -> Response:
    session = await _session_or_page(request, ctx, csrf, lang)
    if isinstance(session, HTMLResponse):
        return session
    response = RedirectResponse(f"/privacy?lang={lang}&done=signed_out", status_code=303)
    await centre.session_ended(ctx, session.get("sid"))
    sessions(ctx).end(response, request)
    return response


PROOF = Open("an entry's inclusion proof is public, as the ledger it is in (it holds no personal data in clear)")


@router.get("/proof/{seq}", response_class=HTMLResponse, dependencies=[Depends(PROOF)], responses=refusals(404, 409))
async def proof(seq: Annotated[int, Path(ge=0, le=2**31 - 1)], request: Request, ctx: Ctx) -> HTMLResponse:
    """ "Check this proof yourself": one entry of the person's history, its audit path and the signed checkpoint,
    checked in their own browser (WebCrypto: SHA-256 and Ed25519, /assets/proofcheck.js); without JavaScript
    the page shows the proof and the one command that checks it offline (`ledger-verify --proof`)."""
    found = await proofs.inclusion(ctx.rt, seq=seq, event_id=None, tree_size=None)
    signed_at = await proofs.checkpoint_time(ctx.rt, found.tree_size)
    signer = ctx.rt.signer
    witnesses = [w.vkey for w in ctx.rt.witnesses.by_url.values()]
    data = {"proof": found.model_dump(), "vkey": signer.verifier_key, "origin": signer.name, "witnesses": witnesses}
    return show(request, "centre/proof.html", {"p": found, "data": data, "signed_at": signed_at})
