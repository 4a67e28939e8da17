"""The fast lane (issue 34): the page views' GETs answered before FastAPI's routing give exactly what the full
stack gives (status, body, every header but the request id), for the common case and for every unusual one
(which the lane leaves to the full stack); and they keep what every request gets: a request id (echoed when
sent), the metrics by route template, a span, HSTS over https, CORS for a site's own origin."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common.auth import create_site_key, revoke_site_key
from services.common.telemetry import Tracing
from tests.conftest import build_app, running

ORIGIN = "https://www.jezaakvoorelkaar.nl"


@pytest.fixture
async def consent(make_settings: Any, sqlite_url: str) -> Any:
    app = build_app("consent", make_settings("consent", sqlite_url, rate_limit_per_minute=1000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        other = await create_site_key(app.state.runtime.db, "other", ["https://other.example"])
        yield app, client, key, other


def _comparable(r: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in r.headers.multi_items() if k != "x-request-id")
    return r.status_code, r.content, headers


async def both(app: Any, client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> Any:
    """The same request through the lane and through the full stack (the lane switched off); one request id
    for both (a refusal's body names it)."""
    kw["headers"] = {"x-request-id": "compare-1", **kw.get("headers", {})}
    app.state.fast_lane = True
    fast = await client.request(method, url, **kw)
    app.state.fast_lane = False
    try:
        slow = await client.request(method, url, **kw)
    finally:
        app.state.fast_lane = True
    if _comparable(fast) != _comparable(slow):
        print("FAST", _comparable(fast)[2], "\nSLOW", _comparable(slow)[2])
    assert _comparable(fast) == _comparable(slow), (url, kw)
    return fast


async def test_every_lane_answers_as_the_full_stack_does(consent: Any) -> None:
    app, client, key, other = consent
    banner = await client.get("/v1/banner", params={"site_key": key})
    etag = banner.headers["etag"]
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/healthz", {}),
        ("/healthz", {"headers": {"origin": ORIGIN}}),
        ("/healthz", {"headers": {"origin": "https://evil.example"}}),
        ("/v1/banner", {"params": {"site_key": key}}),
        ("/v1/banner", {"params": {"site_key": key, "lang": "en"}}),
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"if-none-match": etag}}),
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"if-none-match": '"stale"'}}),
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"origin": ORIGIN}}),
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"origin": ORIGIN, "if-none-match": etag}}),
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"origin": "https://other.example"}}),  # 403
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"origin": "https://evil.example"}}),  # 403
        ("/v1/banner", {"headers": {"x-site-key": key}}),
        ("/v1/banner", {}),  # 401
        ("/v1/banner", {"params": {"site_key": "sk_unknown"}}),  # 401
        ("/v1/banner", {"params": {"site_key": key, "lang": "de"}}),  # 422
        ("/v1/banner", {"params": {"site_key": key, "extra": "1"}}),
        ("/v1/banner", {"params": [("site_key", key), ("site_key", other)]}),
        ("/v1/banner", {"params": {"site_key": key}, "headers": {"x-big": "x" * 20000}}),  # 431
        ("/v1/consent.js", {}),
        ("/v1/consent.js", {"headers": {"accept-encoding": "gzip"}}),
        ("/v1/consent.js", {"headers": {"origin": ORIGIN}}),
    ]
    script = await client.get("/v1/consent.js")
    cases.append(("/v1/consent.js", {"headers": {"if-none-match": script.headers["etag"]}}))
    seen = set()
    for path, kw in cases:
        seen.add((await both(app, client, "GET", path, **kw)).status_code)
    assert seen == {200, 304, 401, 403, 422, 431}
    await both(app, client, "HEAD", "/v1/banner", params={"site_key": key})
    await both(app, client, "GET", "/v1/banner", params={"site_key": key}, content=b"{}")  # a GET with a body
    await revoke_site_key(app.state.runtime.db, key)
    app.state.credentials._sites.clear()  # the cache's time is up (CONSENT_CREDENTIALS_CACHE_SECONDS)
    assert (await both(app, client, "GET", "/v1/banner", params={"site_key": key})).status_code == 401


async def test_the_lane_keeps_request_ids_metrics_traces_and_hsts(consent: Any) -> None:
    app, client, key, _other = consent
    rt = app.state.runtime
    exporter = InMemorySpanExporter()
    rt.tracing = Tracing("consent", processor=SimpleSpanProcessor(exporter))  # as with an exporter configured
    r = await client.get("/v1/banner", params={"site_key": key}, headers={"x-request-id": "page-view-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "page-view-1"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32
    secure = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test")
    async with secure:
        assert "max-age=31536000" in (await secure.get("/v1/consent.js")).headers["strict-transport-security"]
    exposition = rt.metrics.registry
    count = exposition.get_sample_value(
        "privacy_http_requests_total", {"service": "consent", "method": "GET", "route": "/v1/banner", "status": "200"}
    )
    assert count and count >= 1
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert "GET /healthz" in spans and spans["GET /v1/banner"].attributes["http.route"] == "/v1/banner"
