"""What every console page needs: the session (the person's token, sealed in an HttpOnly cookie, with its
CSRF token), their calls to the services, the page itself, and the answers to refusals and outages."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

import jinja2
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common import pages, words
from services.common.sessions import CookieSessions, csrf_ok
from services.console.clients import Calls, Refused, ServiceDown
from services.console.ended import EndedSessions

TEMPLATES = pages.templates(Path(__file__).parent)
CSRF = Annotated[str, Form(max_length=100)]


def pick(lang: str, nl: str, en: str) -> str:
    """Dutch first, English beside it: the language picks."""
    return en if lang == "en" else nl


@jinja2.pass_context
def t(context: Any, nl: str, en: str) -> str:
    """`pick` in a template: the page's language."""
    return pick(context.get("lang"), nl, en)


STATES = {  # as staff read them (the person's pages say "your")
    "received": ("wacht op bevestiging door de persoon", "waiting for the person to confirm"),
    "identity_verified": ("identiteit bevestigd", "identity confirmed"),
    "in_progress": ("in behandeling", "in progress"),
    "extended": ("in behandeling, verlengd", "in progress, extended"),
    "completed": ("afgehandeld", "completed"),
    "refused": ("afgewezen", "refused"),
    "expired": ("vervallen (niet bevestigd)", "lapsed (never confirmed)"),
    "registered": ("geregistreerd", "registered"),
    "assessed": ("beoordeeld", "assessed"),
    "notified": ("gemeld bij de AP", "notified to the AP"),
    # a holder's answer
    "provided": ("verstrekt", "provided"),
    "erased": ("gewist", "erased"),
    "nothing_held": ("niets bewaard", "nothing held"),
    "rectified": ("gecorrigeerd", "rectified"),
    "applied": ("toegepast", "applied"),
    "restricted": ("beperkt", "restricted"),
    # a processor's task and its connector (issue 32)
    "done": ("gedaan", "done"),
    "waiting": ("wacht (wordt opnieuw geprobeerd)", "waiting (tried again)"),
    "needs_authorisation": ("moet opnieuw gemachtigd worden", "needs authorisation"),
    "instructed": ("opdracht gemaild, wacht op bevestiging", "instructed by mail, awaiting confirmation"),
    "confirmed": ("bevestigd door de verwerker", "confirmed by the processor"),
    "exempt": ("niet gedaan, met wettelijke grond", "not done, with its legal ground"),
    "no_api": ("kan niet via de API", "not possible through the API"),
    "submitted": ("ingediend, de verwerker voert het later uit", "submitted, carried out later by the processor"),
    "unidentified": ("niet te vragen: geen id van deze persoon", "cannot be asked: no identifier of this person"),
    "failed": ("geweigerd door de API", "refused by the API"),
    "connected": ("verbonden", "connected"),
    "failing": ("faalt, wordt opnieuw geprobeerd", "failing, retried"),
    "rate_limited": ("aan de limiet, wacht", "rate-limited, waiting"),
    "not_configured": ("niet ingesteld", "not configured"),
    "by_mail": ("opdrachten per mail", "instructions by mail"),
    "no_contact": ("geen contactadres ingesteld", "no contact address set"),
    "mode_automated": ("via de API", "through its API"),
    "mode_submitted": ("via de API ingediend, later uitgevoerd", "submitted through its API, carried out later"),
    "mode_instructed": (
        "geen bruikbare API: opdracht per mail, bevestigd via een link",
        "no usable API: instructed by mail, confirmed through a link",
    ),
    "mode_exempt": ("vrijgesteld, met wettelijke grond", "exempt, with its legal ground"),
    # a breach's factors and outcome (EDPB, the AP form)
    "low": ("laag", "low"),
    "medium": ("middel", "medium"),
    "high": ("hoog", "high"),
    "unlikely": ("geen risico waarschijnlijk", "risk unlikely"),
    "risk": ("risico: melden bij de AP", "risk: notify the AP"),
    "confidentiality": ("vertrouwelijkheid", "confidentiality"),
    "integrity": ("integriteit", "integrity"),
    "availability": ("beschikbaarheid", "availability"),
    "reading": ("ingezien", "read"),
    "copying": ("gekopieerd", "copied"),
    "changing": ("veranderd", "changed"),
    "deleting": ("verwijderd", "deleted"),
    "theft": ("gestolen", "stolen"),
    "name_address": ("naam, adres", "name, address"),
    "phone": ("telefoonnummer", "phone number"),
    "email": ("e-mailadres", "email address"),
    "login_data": ("inloggegevens", "login data"),
    "financial": ("financiële gegevens", "financial data"),
    "bsn": ("BSN", "citizen service number"),
    "passport_copies": ("kopieën van paspoorten", "passport copies"),
    "gender_birthdate_age": ("geslacht, geboortedatum, leeftijd", "gender, date of birth, age"),
    "special_categories": ("bijzondere persoonsgegevens", "special categories"),
    "criminal_data": ("strafrechtelijke gegevens", "criminal data"),
    "other": ("andere", "other"),
    "initial": ("eerste melding", "initial notification"),
    "supplement": ("aanvulling", "supplement"),
    "withdrawal": ("intrekking", "withdrawal"),
    "": ("geen", "none"),
}


DONE = {  # what an action did, said after its redirect (`?done=`); a code not listed shows nothing
    "registered": (
        "Het datalek is geregistreerd; de termijn van 72 uur loopt.",
        "The breach is registered; the 72 hours run.",
    ),
    "findings": ("De bevindingen zijn opgeslagen.", "The findings are saved."),
    "assessed": ("Het besluit over het risico is vastgelegd.", "The risk decision is recorded."),
    "prepared": ("De melding aan de AP is voorbereid.", "The notification to the AP is prepared."),
    "submitted": (
        "Vastgelegd dat de melding bij de AP is ingediend.",
        "Recorded that the notification went to the AP.",
    ),
    "asked": (
        "Alle systemen is gevraagd wie getroffen is; de antwoorden komen hier vanzelf binnen.",
        "Every system was asked who is affected; the answers arrive here by themselves.",
    ),
    "told": (
        "De berichten aan de getroffen mensen worden verstuurd.",
        "The notices to the people affected are being sent.",
    ),
    "public": ("De openbare mededeling is vastgelegd.", "The public communication is recorded."),
    "answered": ("Het antwoord voor dit systeem is vastgelegd.", "The answer for this system is recorded."),
    "processor_closed": (
        "De taak bij deze verwerker is afgesloten met het bewijs dat u gaf.",
        "The processor's task is closed with the evidence you gave.",
    ),
    "extended": (
        "De termijn is verlengd; de persoon krijgt bericht waarom.",
        "The deadline is extended; the person is told why.",
    ),
    "refused": (
        "Het verzoek is afgewezen; de persoon krijgt bericht met de redenen.",
        "The request is refused; the person is told why.",
    ),
}


@jinja2.pass_context
def done_words(context: Any, code: str | None) -> str:
    """The sentence for `?done=` in the page's language; nothing for a code no action gives."""
    found = DONE.get(code or "")
    return (found[1] if context.get("lang") == "en" else found[0]) if found else ""


@jinja2.pass_context
def state(context: Any, value: str) -> str:
    nl, en = STATES.get(value, (value.replace("_", " "),) * 2)
    return en if context.get("lang") == "en" else nl


TEMPLATES.env.globals["t"] = t
TEMPLATES.env.globals["st"] = state
TEMPLATES.env.globals["done_words"] = done_words
TEMPLATES.env.globals["quote"] = quote


class SignedOut(Exception):
    """No session (or it ended): the person goes to the sign-in page."""


class Forged(Exception):
    """A form without the session's CSRF token."""


def sessions(request: Request) -> CookieSessions:
    store: CookieSessions = request.app.state.sessions
    return store


async def session_of(request: Request) -> dict[str, Any]:
    """The request's session: sealed, within its idle and absolute expiries, and not signed out of (on any
    worker: the ended sessions are in the console's database)."""
    session = sessions(request).open(request)
    if session is None or not session.get("token") or not session.get("sid"):
        raise SignedOut
    store: EndedSessions = request.app.state.ended_sessions
    if await store.is_ended(str(session["sid"])):
        raise SignedOut
    return session


async def end(request: Request, session: dict[str, Any]) -> None:
    store: EndedSessions = request.app.state.ended_sessions
    await store.end(str(session.get("sid")), time.time() + sessions(request).max_seconds)


def calls_for(request: Request, session: dict[str, Any]) -> Calls:
    settings = request.app.state.settings
    return Calls(request.app.state.http, settings.urls(), session["token"], timeout=settings.timeout_seconds)


def lang_of(request: Request, session: dict[str, Any] | None = None) -> str:
    asked = request.query_params.get("lang")
    if asked in ("nl", "en"):
        return asked
    return str((session or {}).get("lang", "nl"))


def checked(session: dict[str, Any], csrf: str | None) -> None:
    if not csrf_ok(session, csrf):
        raise Forged


def show(
    request: Request, name: str, context: dict[str, Any], *, session: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A console page; a signed-in one renews the session's idle timeout."""
    lang = lang_of(request, session)
    base = {
        "lang": lang,
        "person": (session or {}).get("name"),
        "scopes": (session or {}).get("scopes", []),
        "csrf": (session or {}).get("csrf", ""),
        "path": request.url.path,
        "controller": "Je zaak voor Elkaar",
        "W": words,
    }
    response = pages.page(TEMPLATES, request, name, {**base, **context}, personal=True, status=status)
    if session is not None:
        sessions(request).keep(response, request, {**session, "lang": lang})
    return response


def same_origin_path(given: str) -> str:
    """Where to go after signing in: a path of this console only, judged after decoding (`/%2Fevil.example`
    decodes to `//evil.example`, which a browser reads as another host). Anything else: the overview."""
    target = given
    for _ in range(3):  # decoded until it no longer changes (a double-encoded `%252F` too)
        decoded = unquote(target)
        if decoded == target:
            break
        target = decoded
    else:
        return "/"
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return "/"
    return target


def to_sign_in(request: Request) -> RedirectResponse:
    back = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
    return RedirectResponse(f"/sign-in?next={back}", status_code=303)


def refusal_page(request: Request, session: dict[str, Any], exc: Refused | ServiceDown) -> Response:
    lang = lang_of(request, session)
    if isinstance(exc, ServiceDown):
        message = pick(lang, f"De dienst {exc.service} antwoordt niet; er is niets veranderd.",
                    f"The {exc.service} service does not answer; nothing was changed.")  # fmt: skip
        return show(request, "console/problem.html", {"message": message, "status": 503}, session=session, status=503)
    if exc.status == 403:
        message = pick(lang, "Je token mag dit niet", "Your token may not do this") + f": {exc.detail}"
        return show(request, "console/problem.html", {"message": message, "status": 403}, session=session, status=403)
    status = exc.status if exc.status in (404, 409, 410) else 422
    return show(
        request, "console/problem.html", {"message": exc.detail, "status": status}, session=session, status=status
    )


async def page_from(
    request: Request, name: str, load: Callable[[Calls], Awaitable[dict[str, Any]]], *, status: int = 200
) -> Response:
    """A signed-in page whose content one use-case loads; a refusal or an outage gets its own page."""
    session = await session_of(request)
    try:
        context = await load(calls_for(request, session))
    except (Refused, ServiceDown) as exc:
        return refusal_page(request, session, exc)
    return show(request, name, {"done": request.query_params.get("done"), **context}, session=session, status=status)


Redraw = Callable[[dict[str, Any], dict[str, str], int], Awaitable[Response]]


async def act(
    request: Request,
    csrf: str | None,
    call: Callable[[Calls], Awaitable[Any]],
    *,
    back: tuple[str, str],
    redraw: Redraw,
) -> Response:
    """A form's action, taken with the person's token. Done: back to `back` (a path, and what was done).
    Input refused: `redraw(session, errors by field, status)` shows the form again with the input kept.
    A missing scope, an unknown record or an outage: their own page."""
    session = await session_of(request)
    checked(session, csrf)
    try:
        await call(calls_for(request, session))
    except Refused as exc:
        if exc.status in (403, 404):
            return refusal_page(request, session, exc)
        return await redraw(session, exc.field_errors() or {"form": exc.detail}, exc.status)
    except ServiceDown as exc:
        return refusal_page(request, session, exc)
    return back_to(*back)


def back_to(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={quote(done)}", status_code=303)
