"""HTML pages of every service: Jinja2 templates with autoescape over one base layout and one stylesheet
(`services/common/templates`, `static/privacy.css`), and the headers every page carries."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import categories, words
from services.common.auth import Open

HERE = Path(__file__).parent
STYLESHEET = (HERE / "static" / "privacy.css").read_bytes()
SCRIPT = (HERE / "static" / "privacy.js").read_bytes()
PROOF_CHECK = (HERE / "static" / "proofcheck.js").read_bytes()

assets = APIRouter(tags=["pages"])


@assets.get(
    "/assets/privacy.css",
    dependencies=[Depends(Open("the pages' stylesheet", rate_limited=False))],
    response_class=Response,
    responses={200: {"content": {"text/css": {}}}},
)
async def stylesheet() -> Response:
    """The one stylesheet of every page a person sees."""
    return Response(STYLESHEET, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


@assets.get(
    "/assets/privacy.js",
    dependencies=[Depends(Open("the pages' script (progressive enhancement only)", rate_limited=False))],
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}},
)
async def script() -> Response:
    """The one script of the pages people see; every page works without it."""
    return Response(SCRIPT, media_type="text/javascript", headers={"cache-control": "public, max-age=3600"})


@assets.get(
    "/assets/proofcheck.js",
    dependencies=[Depends(Open("the script that checks a ledger proof in the person's browser", rate_limited=False))],
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}},
)
async def proof_check() -> Response:
    """ "Check this proof yourself": an inclusion proof and its signed checkpoint, checked with WebCrypto."""
    return Response(PROOF_CHECK, media_type="text/javascript", headers={"cache-control": "public, max-age=3600"})


def templates(service_dir: Path) -> Jinja2Templates:
    """A service's templates (its own `templates/` first), with the shared base layout beside them."""
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(service_dir / "templates"), jinja2.FileSystemLoader(HERE / "templates")]
    )
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals.update(
        when=words.when,
        day=words.day,
        days=words.days,
        word=words.word,
        evidence=words.evidence,
        W=words,
    )
    env.filters["holder_name"] = words.holder_name
    env.filters["first_upper"] = words.first_upper
    env.filters["data_word"] = categories.data_word
    return Jinja2Templates(env=env)


COMMON = templates(HERE)


def security_headers(nonce: str | None, *, personal: bool) -> dict[str, str]:
    """The headers of BROWSER.md: a CSP (self only, scripts by nonce, no framing), no referrer (our URLs
    carry tokens), nosniff, and no caching where personal data is shown."""
    scripts = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    return {
        "content-security-policy": (
            f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "cache-control": "no-store" if personal else "no-cache",
    }


HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class PageHeaders:
    """Every HTML response of a service carries the page headers, also one no template rendered (an
    error page, a framework answer): the safe default is added where a route did not set its own. Every
    response over https (directly, or through a proxy of FORWARDED_ALLOW_IPS) carries HSTS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        https = scope.get("scheme") == "https"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if https and "strict-transport-security" not in headers:
                    # statement Art. 9 and 12: TLS everywhere; a browser that came over https stays on it
                    headers[HSTS[0].decode()] = HSTS[1].decode()
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in security_headers(None, personal=True).items():
                        if name not in headers:
                            headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


def wants_page(request: Request) -> bool:
    """The route answers with HTML (a person's browser is on the other side), so errors are pages too."""
    route = request.scope.get("route")
    if route is None:  # no route matched: a browser (it asks for HTML first) gets a page
        return request.headers.get("accept", "").startswith("text/html")
    response_class = getattr(route, "response_class", None)
    return isinstance(response_class, type) and issubclass(response_class, HTMLResponse)


_GENERIC = {
    "nl": {
        400: "Dit verzoek konden we niet lezen.",
        403: "Dit mag je hier niet doen.",
        404: "Deze link of pagina kennen we niet (meer).",
        410: "Deze link is verlopen of al gebruikt.",
        422: "Deze link of dit formulier klopt niet.",
        429: "Te veel pogingen achter elkaar. Probeer het over een paar minuten opnieuw.",
        0: "Er ging iets mis. Er is niets veranderd; probeer het later opnieuw.",
    },
    "en": {
        400: "We could not read this request.",
        403: "You may not do this here.",
        404: "We do not know this link or page (any more).",
        410: "This link has expired or was used already.",
        422: "This link or form is not right.",
        429: "Too many attempts in a row. Please try again in a few minutes.",
        0: "Something went wrong. Nothing was changed; please try again later.",
    },
}


def generic_error_page(
    request: Request, status: int, headers: dict[str, str] | None = None, detail: str = ""
) -> Response:
    """An error on an HTML route, as a page in the person's language, with the way to the centre."""
    lang = words.language(request.query_params.get("lang"))
    texts = _GENERIC[lang]
    settings = getattr(getattr(request.app.state, "runtime", None), "settings", None)
    centre = getattr(settings, "privacy_centre_url", "")
    label = "Go to your privacy centre" if lang == "en" else "Naar je privacycentrum"
    message = texts.get(status, texts[0])
    if status in (401, 403) and detail:  # staff: which credential or scope is missing
        message = f"{message} ({detail})"
    return error_page(request, status, message, lang=lang, again=(centre, label) if centre else None, headers=headers)


def error_page(
    request: Request,
    status: int,
    message: str,
    *,
    lang: str = "nl",
    again: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A readable page for a refusal on an HTML route: what happened and, when there is one, the way on
    (`again`: a URL and its label)."""
    response = page(
        COMMON,
        request,
        "error.html",
        {"status": status, "message": message, "again": again, "lang": words.language(lang)},
        personal=True,
        status=status,
    )
    response.headers.update(headers or {})
    return response


def page(
    t: Jinja2Templates, request: Request, name: str, context: dict[str, Any], *, personal: bool, status: int = 200
) -> HTMLResponse:
    """Render `name` with the page headers (`security_headers`)."""
    nonce = secrets.token_urlsafe(16)
    settings = getattr(getattr(request.app.state, "runtime", None), "settings", None)
    base = {"centre_url": getattr(settings, "privacy_centre_url", ""), "lang": "nl"}
    response = t.TemplateResponse(request, name, {**base, **context, "nonce": nonce}, status_code=status)
    response.headers.update(security_headers(nonce, personal=personal))
    return response
