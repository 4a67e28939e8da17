"""The banner behind a real caching reverse proxy (Debian's nginx with proxy_cache, as a CDN would sit):
repeated page views reach the service once per max-age; a revoked site key and a new notice reach every
visitor within BANNER_CACHE_SECONDS (plus the service's own 5-second key cache for a revocation)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import create_site_key, revoke_site_key
from tests.conftest import build_app, free_port, serve

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAVE_NGINX = os.path.exists(NGINX)
ORIGIN = "https://www.jezaakvoorelkaar.nl"
BOUND = 4  # BANNER_CACHE_SECONDS here: max-age 3, stale-while-revalidate 1


class Counting:
    """The service as the proxy reaches it, counting the banner requests that get through."""

    def __init__(self, app: Any) -> None:
        self.app, self.banner = app, 0
        self.state = app.state
        self.router = app.router

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/banner":
            self.banner += 1
        await self.app(scope, receive, send)


CONFIG = """
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  proxy_cache_path {tmp}/cache keys_zone=banner:1m;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_http_version 1.1;
      proxy_cache banner;
      proxy_cache_revalidate on;
      proxy_cache_background_update on;
      add_header X-Cache $upstream_cache_status;
    }}
  }}
}}
"""


@contextlib.asynccontextmanager
async def nginx(tmp: Path, upstream: str) -> AsyncIterator[str]:
    if not HAVE_NGINX:
        pytest.fail("nginx is missing: scripts/nginx.sh installs Debian's (make infra, .ci/run do)")
    port = free_port()
    conf = tmp / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""  # as root, its workers would be nobody, who cannot write here
    conf.write_text(CONFIG.format(user=user, tmp=tmp, port=port, upstream=upstream.rsplit(":", 1)[1]))
    process = await asyncio.create_subprocess_exec(NGINX, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "error.log"))
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    await probe.get(f"http://127.0.0.1:{port}/healthz")
                    break
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def until(check: Callable[[], Any], within: float) -> float:
    """Seconds until `check()` holds (it must within `within`)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {within} s")


async def test_the_banner_behind_a_caching_proxy(
    make_settings: Callable[..., Any], sqlite_url: str, tmp_path: Path
) -> None:
    app = build_app("consent", make_settings("consent", sqlite_url, banner_cache_seconds=BOUND))
    counting = Counting(app)
    async with serve(counting) as upstream, nginx(tmp_path, upstream) as proxy, httpx.AsyncClient() as browser:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        url = f"{proxy}/v1/banner?site_key={key}&lang=nl"
        headers = {"origin": ORIGIN}

        first = await browser.get(url, headers=headers)
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == "public, max-age=3, stale-while-revalidate=1"
        assert "origin" in first.headers["vary"].lower()
        for _ in range(20):  # page views within max-age: served by the proxy
            assert (await browser.get(url, headers=headers)).status_code == 200
        assert counting.banner == 1, "twenty-one page views, one request to the service"
        within = counting.banner
        await asyncio.sleep(BOUND + 0.5)
        for _ in range(5):
            await browser.get(url, headers=headers)
            await asyncio.sleep(0.1)
        assert counting.banner <= 3, "after max-age: revalidated, not asked per page view"

        # a new notice version shows within BANNER_CACHE_SECONDS
        from services.consent.context import ConsentContext

        ctx = ConsentContext.of(app.state.runtime)
        assert ctx.banner is not None
        ctx.banner = type(ctx.banner)(**{**ctx.banner.__dict__, "version": "2027-06-01"})
        ctx.forget_notices()

        async def new_version() -> bool:
            return (await browser.get(url, headers=headers)).json().get("version") == "2027-06-01"

        shown = await until(new_version, BOUND + 1)
        assert shown <= BOUND + 0.5

        # a revoked site key is served by no cache for longer than that (plus the service's own key cache)
        await revoke_site_key(app.state.runtime.db, key)

        async def refused() -> bool:
            return (await browser.get(url, headers=headers)).status_code in (401, 403)

        took = await until(refused, BOUND + 5 + 2)
        assert took <= BOUND + 5 + 1
        print(
            f"shared cache: {within} service request for 21 page views within max-age; a new notice shown after "
            f"{shown:.1f} s, a revoked key refused after {took:.1f} s (bound {BOUND} s + the 5 s key cache)"
        )
