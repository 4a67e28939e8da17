"""The FastAPI application every service is built from: health, readiness, ledger, middleware."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import outbox_dead
from services.common.auth import Open, Principal, RateLimiter, Scoped, ScrapeAccess
from services.common.auth import Scope as TokenScope
from services.common.bounces import record_notice
from services.common.contract import allowed_methods, openapi, refusals
from services.common.errors import ServiceError
from services.common.fastlane import Answer, FastLane, Lane, headers_of
from services.common.kafka import kafka_reachable
from services.common.ledger.routes import router as ledger_router
from services.common.limits import InputLimits, Limits
from services.common.logs import RequestContext, configure_logging
from services.common.operations import figures as read_figures
from services.common.operations import summary
from services.common.pages import PageHeaders, generic_error_page, wants_page
from services.common.pages import assets as page_assets
from services.common.problems import on_http_exception, on_service_error, on_validation_error, problem
from services.common.runtime import Runtime

health = APIRouter(tags=["health"])


ALIVE = {"status": "ok"}
ALIVE_ANSWER = Answer(
    200, json.dumps(ALIVE, separators=(",", ":")).encode(), headers_of({}, "application/json"), "/healthz"
)


@health.get("/healthz", dependencies=[Depends(Open("load-balancer probe", rate_limited=False))])
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return ALIVE


async def _alive(_request: Request) -> Answer:
    return ALIVE_ANSWER


class ServiceApp(FastAPI):
    """A service's FastAPI app with the fast lane outside everything (fastlane.py): `lanes` by path."""

    lanes: dict[str, Lane]
    header_max_bytes: int = 16 * 1024

    def build_middleware_stack(self) -> Any:
        return FastLane(super().build_middleware_stack(), self.lanes, self.header_max_bytes)


@health.get("/readyz", dependencies=[Depends(Open("load-balancer probe", rate_limited=False))], responses=refusals(503))
async def readyz(request: Request) -> JSONResponse:
    """The database and Kafka are reachable; 503 with the reason when not."""
    runtime: Runtime = request.app.state.runtime
    problems: dict[str, str] = {}
    try:
        await runtime.db.ping()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        problems["database"] = f"unreachable: {exc.__class__.__name__}: {exc}"[:300]
    try:
        await kafka_reachable(runtime.settings.kafka_bootstrap_servers)
        if not runtime.topics_ready.is_set():
            problems["kafka"] = "reachable, topics not created yet"
    except Exception as exc:  # noqa: BLE001
        problems["kafka"] = f"unreachable: {exc.__class__.__name__}: {exc}"[:300]
    if not runtime.integrity.writable:
        problems["ledger"] = f"{runtime.integrity.state}: {runtime.integrity.reason}"
    if problems:
        reasons = "; ".join(f"{part}: {why}" for part, why in problems.items())
        return problem(request, 503, f"not ready: {reasons}", problems=problems)
    return JSONResponse({"status": "ready"})


operations = APIRouter(tags=["operations"])


@operations.get(
    "/metrics",
    dependencies=[Depends(ScrapeAccess())],
    response_class=Response,
    responses={200: {"content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}}, **refusals(404)},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format, every name prefixed `privacy_`, labelled by
    `service` (README: Operations). Needs a `system` or `admin` token unless `METRICS_OPEN` is set."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.metrics.enabled:
        return problem(request, 404, "metrics are switched off (METRICS_ENABLED=0)")
    figures = await read_figures(runtime)
    return Response(await runtime.metrics.expose(runtime, figures), media_type=runtime.metrics.content_type)


staff = APIRouter(prefix="/admin", tags=["operations"])
ANY_STAFF = Scoped(TokenScope.ADMIN, TokenScope.DPO, TokenScope.SYSTEM)


@staff.get("/me")
async def me(principal: Annotated[Principal, Depends(ANY_STAFF)]) -> dict[str, Any]:
    """Who this token belongs to and what it may do (the console signs in with it)."""
    return {"name": principal.name, "scopes": sorted(principal.scopes)}


@staff.get("/operations", dependencies=[Depends(ANY_STAFF)])
async def operations_summary(request: Request) -> dict[str, Any]:
    """Outbox backlog, dead letters (since this process started), the ledger's size and latest signed
    checkpoint, and mail by status: the console's figures per service (the same as GET /metrics)."""
    return await summary(request.app.state.runtime)


OFFICER = Scoped(TokenScope.DPO, TokenScope.ADMIN)
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class RequeueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="The topic to publish it on instead (one this service publishes on)",
    )


@staff.get("/outbox/dead", dependencies=[Depends(OFFICER)])
async def dead_outbox_rows(request: Request) -> list[dict[str, Any]]:
    """Outbox rows the broker refused for good, oldest first: the reason, and how many rows of the same key
    wait behind each (their order kept)."""
    return await outbox_dead.listing(request.app.state.runtime)


@staff.post("/outbox/{row_id}/requeue", responses=refusals(404))
async def requeue_outbox_row(
    row_id: RowId, body: RequeueIn, request: Request, principal: Annotated[Principal, Depends(OFFICER)]
) -> dict[str, Any]:
    """Put a dead row back in its place (after a fix; on another topic if given): published next round,
    the rows of its key after it. Recorded in the ledger (`outbox.requeued`) with who did it."""
    return await outbox_dead.requeue(request.app.state.runtime, row_id, topic=body.topic, by=principal.name)


mail = APIRouter(tags=["mail"])


@mail.post(
    "/admin/mail/bounces",
    dependencies=[Depends(Scoped(TokenScope.SYSTEM, TokenScope.ADMIN))],
    openapi_extra={
        "requestBody": {
            "required": True,
            # RFC 5322: a message holds no NUL (and no text column can store one: refused with 400)
            "content": {"message/rfc822": {"schema": {"type": "string", "pattern": "^[^\\x00]*$"}}},
        }
    },
    responses=refusals(404),
)
async def mail_bounce(request: Request) -> dict[str, str]:
    """A delivery status notification (RFC 3464) for a mail this service sent, exactly as it arrived at
    the bounce address. A failed delivery marks the mail bounced and enters the ledger; `delayed` is
    noted; 404 when it names no mail of this service, 422 when it is not a DSN (the reason is given)."""
    return await record_notice(request.app.state.runtime, await request.body())


class DynamicCors:
    """CORS for public routes: only origins that an active site key lists (refreshed from the database)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin")
        if origin is None:  # not a browser's cross-origin call: nothing to add
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        origins = await runtime.credentials.all_origins()
        allowed = [o for o in origins if o == origin.decode("latin-1")]
        if not allowed and scope["method"] == "GET" and scope["path"] in scope["app"].state.readable_anywhere:
            # a page on an origin no key allows may still read why it was refused (and nothing else)
            await self.app(scope, receive, _with_any_origin(send))
            return
        cors = CORSMiddleware(
            self.app,
            allow_origins=allowed,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["content-type", "x-site-key", "sec-gpc", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"],
            max_age=600,
        )
        await cors(scope, receive, send)


def _with_any_origin(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"access-control-allow-origin", b"*")]
        await send(message)

    return sending


def _page_or(handler: Callable[[Request, Any], Awaitable[Response]]) -> Callable[[Request, Any], Awaitable[Response]]:
    """On an HTML route a refusal is a readable page (a person's browser); elsewhere the API's answer."""

    async def handle(request: Request, exc: Any) -> Response:
        if wants_page(request):
            status = getattr(exc, "status", None) or getattr(exc, "status_code", None) or 422
            detail = getattr(exc, "message", None) or getattr(exc, "detail", "")
            return generic_error_page(request, status, getattr(exc, "headers", None), str(detail))
        return await handler(request, exc)

    return handle


_http_refusal = _page_or(on_http_exception)


async def _refused(request: Request, exc: Exception) -> Response:
    """Starlette's refusals as problems; a 405's `Allow` names every method of every route at the path."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allow = ", ".join(allowed_methods(request.app, request.url.path))
        exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": allow})
    return await _http_refusal(request, exc)


async def _server_error(request: Request, _exc: Exception) -> Response:
    """A failure nobody foresaw (logged with its traceback by the server): a page that says nothing was
    changed (every use-case is one transaction, rolled back) on HTML routes, the usual 500 elsewhere."""
    if wants_page(request):
        return generic_error_page(request, 500)
    return problem(request, 500, "the server failed; nothing was changed (the request id is in our logs)")


class WritesWait:
    """While the ledger is being compared with Kafka, or is broken (ledger/recovery.py), nothing is written:
    every request but a read is refused with 503 and the reason (reads, the fast lane's included, go on)."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        integrity = self.runtime.integrity
        if scope["type"] != "http" or scope["method"] in self.SAFE or integrity.writable:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        why = f"nothing can be written now: the ledger is {integrity.describe()}; try again later"
        answer = problem(request, 503, why, headers={"Retry-After": "30"})
        await answer(scope, receive, send)


def create_app(
    runtime: Runtime,
    *,
    routers: list[APIRouter],
    title: str,
    description: str,
    readable_anywhere: frozenset[str] = frozenset(),
    openapi_hooks: tuple[Callable[[dict[str, Any]], None], ...] = (),
    lanes: Mapping[str, Lane] | None = None,
) -> FastAPI:
    """`readable_anywhere`: GET paths whose answers (refusals included) any origin may read;
    `openapi_hooks` complete the OpenAPI document with what is known only at start (`contract.py`);
    `lanes`: the page views' GETs answered before FastAPI's routing (fastlane.py), besides `/healthz`."""
    settings = runtime.settings
    configure_logging(runtime.name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # our own tracing and metrics (services/common/telemetry.py, metrics.py), not FastAPI's second set, whose
    # check for a configured OpenTelemetry provider alone costs every request ~10 µs
    native: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = ServiceApp(title=title, description=description, version="0.1.0", lifespan=lifespan, telemetry=native)
    app.lanes = {"/healthz": _alive, **(lanes or {})}
    app.header_max_bytes = settings.header_max_bytes
    app.state.runtime = runtime
    app.state.credentials = runtime.credentials
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.readable_anywhere = readable_anywhere
    app.state.openapi_hooks = openapi_hooks
    app.add_exception_handler(ServiceError, _page_or(on_service_error))
    app.add_exception_handler(StarletteHTTPException, _refused)
    app.add_exception_handler(RequestValidationError, _page_or(on_validation_error))
    app.add_exception_handler(Exception, _server_error)
    for router in routers:  # first: a request is matched against the routes in order
        app.include_router(router)
    app.include_router(health)
    app.include_router(ledger_router)
    app.include_router(mail)
    app.include_router(staff)
    app.include_router(operations)
    app.include_router(page_assets)
    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]
    app.add_middleware(DynamicCors)
    app.add_middleware(PageHeaders)
    limits = Limits(
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        json_max_depth=settings.json_max_depth,
        json_max_items=settings.json_max_items,
        header_max_bytes=settings.header_max_bytes,
    )
    app.add_middleware(InputLimits, limits=limits)
    app.add_middleware(WritesWait, runtime=runtime)
    app.add_middleware(RequestContext)
    return app
