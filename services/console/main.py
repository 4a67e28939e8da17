"""The privacy officer's console (`privacy-serve`-like: `python -m services.console.main`, port 8004)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.limits import InputLimits, Limits
from services.common.logs import RequestContext, configure_logging
from services.common.pages import PageHeaders, error_page
from services.common.pages import assets as page_assets
from services.common.sessions import CookieSessions
from services.console.ended import EndedSessions
from services.console.routes import router
from services.console.settings import ConsoleSettings
from services.console.web import Forged, SignedOut, to_sign_in

HERE = Path(__file__).parent


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    lang = "en" if request.query_params.get("lang") == "en" else "nl"
    message = str(exc.detail) if exc.status_code != 404 else ("Not found." if lang == "en" else "Niet gevonden.")
    return error_page(
        request, exc.status_code, message, lang=lang, again=("/", "Console"), headers=dict(exc.headers or {})
    )


async def _signed_out(request: Request, _exc: Exception) -> Response:
    return to_sign_in(request)


async def _forged(request: Request, _exc: Exception) -> Response:
    message = "Dit formulier kwam niet van deze console (CSRF-token ontbreekt of klopt niet); er is niets veranderd."
    return error_page(request, 403, message, again=("/", "Console"))


async def _failed(request: Request, _exc: Exception) -> Response:
    return error_page(request, 500, "Er ging iets mis; er is niets veranderd. / Something failed; nothing changed.")


def create(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    configure_logging("console", settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ended = EndedSessions(settings.database_url)
        await ended.start()
        app.state.ended_sessions = ended
        try:
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as http:
                app.state.http = http
                yield
        finally:
            await ended.close()

    app = FastAPI(title="console", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.sessions = CookieSessions(
        settings.session_secret(),
        name="console",
        path="/",
        idle_seconds=settings.session_minutes * 60,
        max_seconds=settings.session_max_hours * 3600,
    )
    app.add_exception_handler(StarletteHTTPException, _refused)
    app.add_exception_handler(SignedOut, _signed_out)
    app.add_exception_handler(Forged, _forged)
    app.add_exception_handler(Exception, _failed)
    app.include_router(router)
    app.include_router(page_assets)
    app.add_middleware(PageHeaders)
    app.add_middleware(InputLimits, limits=Limits())
    app.add_middleware(RequestContext)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="console", description="The privacy officer's console.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8004)
    args = parser.parse_args(argv)
    uvicorn.run(create(), host=args.host, port=args.port, log_config=None, server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
