"""A small demo website (`make run`: http://127.0.0.1:8000/) that embeds consent.js with one tag: the
banner, a newsletter form, a chat-like capture, and fake analytics and tracking scripts that visibly
stay blocked until the visitor consents. It owns no data; everything is recorded by the consent service.

    DEMO_CONSENT_URL (default http://127.0.0.1:8001)   DEMO_SITE_KEY (make run passes the dev key)
    uvicorn --factory services.demo.main:create --port 8000
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent
TEXTS = {
    "nl": {
        "title": "Je zaak voor Elkaar: demo",
        "intro": "Deze pagina laat zien wat één scriptregel van de consent-service een website geeft.",
        "blocked": "geblokkeerd: wacht op toestemming",
        "analytics": "Analytische cookies (nep-analytics)",
        "tracking": "Tracking cookies (nep-tracker)",
        "newsletter": "Nieuwsbrief",
        "name": "Naam",
        "email": "E-mailadres",
        "subscribe": "Aanmelden",
        "chat": "Chat met ons",
        "message": "Bericht",
        "chat_consent": "Ja, jullie mogen contact met me opnemen over dit bericht.",
        "send": "Versturen",
        "video": "Video van een derde partij (alleen met tracking cookies)",
        "video_note": "De video laadt pas als je tracking cookies toestaat.",
        "settings": "Cookie-instellingen",
        "other": "English",
        "thanks": "Bedankt",
        "thanks_text": "Kijk in je mailbox: je aanmelding is pas klaar als je op de link in de mail hebt geklikt.",
        "receipt": "Ontvangstbewijs van je toestemming",
        "back": "Terug naar de demo",
    },
    "en": {
        "title": "Je zaak voor Elkaar: demo",
        "intro": "This page shows what one script line from the consent service gives a website.",
        "blocked": "blocked: waiting for consent",
        "analytics": "Analytics cookies (fake analytics)",
        "tracking": "Tracking cookies (fake tracker)",
        "newsletter": "Newsletter",
        "name": "Name",
        "email": "Email address",
        "subscribe": "Sign up",
        "chat": "Chat with us",
        "message": "Message",
        "chat_consent": "Yes, you may contact me about this message.",
        "send": "Send",
        "video": "A third party's video (only with tracking cookies)",
        "video_note": "The video loads only once you allow tracking cookies.",
        "settings": "Cookie settings",
        "other": "Nederlands",
        "thanks": "Thank you",
        "thanks_text": "Check your mailbox: your sign-up is complete once you click the link in the mail.",
        "receipt": "Receipt of your consent",
        "back": "Back to the demo",
    },
}


class Headers:
    """A CSP nonce per response (consent.js hands it on to the scripts it activates) and the headers
    every page of ours carries."""

    def __init__(self, app: ASGIApp, consent_url: str) -> None:
        self.app = app
        self.consent_url = consent_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["nonce"] = nonce
        csp = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}' {self.consent_url}; "
            f"style-src 'self' 'nonce-{nonce}'; connect-src 'self' {self.consent_url}; img-src 'self' data:; "
            "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
        )

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", csp.encode()),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await self.app(scope, receive, sending)


def create(consent_url: str | None = None, site_key: str | None = None) -> FastAPI:
    consent_url = (consent_url or os.environ.get("DEMO_CONSENT_URL", "http://127.0.0.1:8001")).rstrip("/")
    site_key = site_key if site_key is not None else os.environ.get("DEMO_SITE_KEY", "")
    app = FastAPI(title="demo site", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.state.site_key = site_key

    def render(request: Request, name: str, lang: str, **extra: str | None) -> HTMLResponse:
        context = {"t": TEXTS[lang], "lang": lang, "consent_url": consent_url, "site_key": app.state.site_key}
        return templates.TemplateResponse(request, name, {**context, **extra})

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return render(request, "index.html", "nl")

    @app.get("/en", response_class=HTMLResponse)
    async def home_en(request: Request) -> HTMLResponse:
        return render(request, "index.html", "en")

    @app.get("/embed", response_class=HTMLResponse)
    async def embed(request: Request) -> HTMLResponse:
        return render(request, "embed.html", "nl")

    @app.get("/thanks", response_class=HTMLResponse)
    async def thanks_again(request: Request, lang: str = "nl") -> HTMLResponse:
        return render(request, "thanks.html", lang if lang in TEXTS else "nl", receipt=None)

    @app.post("/thanks", response_class=HTMLResponse)
    async def thanks(
        request: Request,
        lang: Annotated[str, Form(max_length=2)] = "nl",
        consent_receipt: Annotated[str | None, Form(max_length=100)] = None,
    ) -> HTMLResponse:
        """Where the newsletter form lands; the receipt id comes from the field consent.js added."""
        return render(request, "thanks.html", lang if lang in TEXTS else "nl", receipt=consent_receipt)

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)

    app.add_middleware(Headers, consent_url=consent_url)
    return app
