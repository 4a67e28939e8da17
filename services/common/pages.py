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

from services.common.auth import Open

HERE = Path(__file__).parent
STYLESHEET = (HERE / "static" / "privacy.css").read_bytes()

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


def templates(service_dir: Path) -> Jinja2Templates:
    """A service's templates (its own `templates/` first), with the shared base layout beside them."""
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(service_dir / "templates"), jinja2.FileSystemLoader(HERE / "templates")]
    )
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    return Jinja2Templates(env=env)


def page(
    t: Jinja2Templates, request: Request, name: str, context: dict[str, Any], *, personal: bool, status: int = 200
) -> HTMLResponse:
    """Render `name` with the headers of BROWSER.md: a CSP (self only, scripts by nonce, no framing),
    no referrer (our URLs carry tokens), nosniff, and no caching where personal data is shown."""
    nonce = secrets.token_urlsafe(16)
    response = t.TemplateResponse(request, name, {**context, "nonce": nonce}, status_code=status)
    response.headers.update(
        {
            "content-security-policy": (
                f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
            ),
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
            "cache-control": "no-store" if personal else "no-cache",
        }
    )
    return response
