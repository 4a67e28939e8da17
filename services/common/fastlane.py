"""The fast lane (issue 34): the few GETs that every page view of every site makes (`/healthz` for the
probes, the banner, consent.js) answered before FastAPI's own layers and routing. FastAPI tries a service's
routes one by one (more than a hundred for consent: most of what a page view cost) and then solves the
route's dependencies; a lane is looked up by its path at once.

A lane is a function of the request that gives the same answer its route gives (the same code makes both:
see consent's `site_routes`), or None to leave the request to the full stack: anything unusual (a refusal,
no site key, HEAD, a body, a header over the limit, an origin no key allows) goes the long way and gets its
answer there. What every answer carries is kept: the request id, the metrics and the span (logs.Served),
HSTS over https (pages.HSTS), and CORS as DynamicCors gives a simple GET from an allowed origin. Tests
compare every lane's answers with the full stack's (tests/integration/test_fast_lane.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.logs import Served
from services.common.pages import HSTS

EXPOSED = (b"access-control-expose-headers", b"x-request-id, retry-after")  # as DynamicCors exposes them
BODY = frozenset({b"content-length", b"transfer-encoding"})
CORS_NAMES = frozenset({b"access-control-allow-origin", b"access-control-expose-headers"})


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # besides content-length (and what every answer gets, below)
    route: str  # the route's template: the metrics' and the trace's name for it


Lane = Callable[[Request], Awaitable[Answer | None]]


def headers_of(values: Mapping[str, str], media_type: str | None = None) -> tuple[tuple[bytes, bytes], ...]:
    """A route's headers as the lane sends them (a Starlette Response adds the content-type so)."""
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in values.items()]
    if media_type is not None:
        typed = media_type + "; charset=utf-8" if media_type.startswith("text/") else media_type
        out.append((b"content-type", typed.encode("latin-1")))
    return tuple(out)


def as_response(answer: Answer) -> Response:
    """The same answer through the full stack (the route's)."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [h for h in response.raw_headers if h[0] != b"content-type"] + list(answer.headers)
    return response


class FastLane:
    """Outermost: answers a lane's path itself when the lane gives an answer; everything else passes on."""

    def __init__(self, app: ASGIApp, lanes: Mapping[str, Lane], header_max_bytes: int) -> None:
        self.app, self.lanes, self.header_max_bytes = app, dict(lanes), header_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lanes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if lane is None or not getattr(scope["app"].state, "fast_lane", True):
            await self.app(scope, receive, send)
            return
        origin = None
        size = 0
        for name, value in scope["headers"]:
            size += len(name) + len(value) + 4
            if name in BODY:
                origin = b""  # a GET with a body: the long way (its limits apply there)
                break
            if name == b"origin":
                origin = value
        if origin == b"" or size > self.header_max_bytes:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cors: tuple[tuple[bytes, bytes], ...] = ()
        if origin is not None:
            if origin.decode("latin-1") not in await scope["app"].state.runtime.credentials.all_origins():
                await self.app(scope, receive, send)  # DynamicCors decides what such an origin may read
                return
            cors = (EXPOSED, (b"access-control-allow-origin", origin))
        answer = await lane(request)
        if answer is None:
            await self.app(scope, receive, send)
            return
        served = Served(scope)
        headers = [*answer.headers]
        if answer.status != 304:
            headers.append((b"content-length", str(len(answer.body)).encode()))
        if cors:  # as Starlette's CORS sets them: replacing the route's own
            headers = _vary_origin([h for h in headers if h[0] not in CORS_NAMES] + list(cors))
        if scope.get("scheme") == "https":
            headers.append(HSTS)
        headers.append(served.header())
        try:
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if answer.status == 304 else answer.body})
        finally:
            served.finish(scope, answer.route, answer.status)


def _vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`Vary: Origin` added as Starlette's CORS does (appended to a Vary the route set)."""
    for i, (name, value) in enumerate(headers):
        if name == b"vary":
            headers[i] = (name, value + b", Origin")
            return headers
    return [*headers, (b"vary", b"Origin")]
