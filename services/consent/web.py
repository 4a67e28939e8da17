"""What the consent routes share: the service's context and the evidence the server observed, as
`Annotated` dependencies (as `SessionDep` in FastAPI's full-stack template), a page, the answer's encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse

from services.common import pages, words
from services.consent.context import ConsentContext
from services.consent.decisions import Evidence


def context(request: Request) -> ConsentContext:
    return ConsentContext.of(request.app.state.runtime)


Ctx = Annotated[ConsentContext, Depends(context)]


def evidence(request: Request, page: str | None = None, *, gpc: bool = False) -> Evidence:
    """What the server saw of the request (never taken from the body). `gpc`: the page reported
    navigator.globalPrivacyControl; the Sec-GPC header counts as well."""
    site = getattr(request.state, "site", None)
    return Evidence(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        page=page or request.headers.get("referer"),
        gpc=gpc or request.headers.get("sec-gpc", "").strip() == "1",
        site=site.key if site else None,
    )


def observed(request: Request) -> Evidence:
    return evidence(request)


Seen = Annotated[Evidence, Depends(observed)]


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    encoded: dict[str, Any] = jsonable_encoder(data)
    return encoded


TEMPLATES = pages.templates(Path(__file__).parent)


def show(request: Request, name: str, context_: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """A page of the consent service (it holds personal data: never cached); `lang` from the query
    unless the context gives it."""
    ctx = context(request)
    base = {
        "controller": ctx.catalogue.controller.get("controller", ""),
        "policy_url": ctx.settings.policy_url,
        "lang": words.language(request.query_params.get("lang")),
    }
    return pages.page(TEMPLATES, request, name, {**base, **context_}, personal=True, status=status)
