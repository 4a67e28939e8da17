"""Browser tests: a real headless Chromium (Debian's `chromium`, driven by Playwright) against the real
consent service and the demo site, each served by uvicorn on a local port, with PostgreSQL, Kafka and
a local SMTP server behind them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from services.common.auth import create_site_key
from tests.conftest import ROOT, build_app, free_port, serve

CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
OUT = ROOT / "var" / "test-screenshots"


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not HAVE_CHROMIUM:
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        await browser.close()


@dataclass
class Site:
    """The consent service and a website (the demo, plus test pages under /t/) that embeds consent.js."""

    consent_app: FastAPI
    consent_url: str
    url: str
    key: str
    pages: dict[str, str]
    restart: Callable[..., Any]  # restart(**settings): the consent service again, same port and database

    @property
    def ctx(self) -> Any:
        from services.consent.context import ConsentContext

        return ConsentContext.of(self.consent_app.state.runtime)

    async def history_of_browser(self, browser_id: str) -> dict[str, Any]:
        from services.consent import subjects

        return await subjects.history(self.ctx, self.ctx.browser_pseudonym(browser_id))

    async def history_of(self, email: str) -> dict[str, Any]:
        from services.consent import subjects

        return await subjects.history(self.ctx, self.ctx.rt.recorder.pseudonym(email))

    def page(self, name: str, body: str, *, key: str | None = None, lang: str = "nl") -> str:
        """A test page at /t/<name> with the one tag; returns its URL."""
        self.pages[name] = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{name}</title>'
            f'<script src="{self.consent_url}/v1/consent.js" data-site-key="{key or self.key}" defer></script>'
            f"</head><body><main>{body}</main></body></html>"
        )
        return f"{self.url}/t/{name}"


def website(consent_url: str, pages: dict[str, str]) -> tuple[FastAPI, FastAPI]:
    """The demo site with extra test pages at /t/<name> (HTML the test writes); returns it and the demo."""
    from services.demo.main import create as demo

    outer = FastAPI()

    @outer.get("/t/{name}", response_class=HTMLResponse)
    async def page(name: str) -> HTMLResponse:
        return HTMLResponse(pages[name])

    inner = demo(consent_url=consent_url, site_key="")
    outer.mount("/", inner)
    return outer, inner


@contextlib.asynccontextmanager
async def running_site(make_settings: Callable[..., Any], db_url: str, smtp: Any) -> AsyncIterator[Site]:
    port = free_port()
    consent_url = f"http://127.0.0.1:{port}"
    # the banner is cached by the browser for BANNER_CACHE_SECONDS: short here, so that a test of a new notice
    # waits seconds, as a visitor waits at most a minute
    base = {"mail_enabled": True, "smtp_port": smtp.port, "rate_limit_per_minute": 10_000, "banner_cache_seconds": 4}
    secrets = make_settings("consent", db_url, public_base_url=consent_url, **base)
    async with contextlib.AsyncExitStack() as stack:
        consent = contextlib.AsyncExitStack()
        stack.push_async_callback(consent.aclose)
        app = build_app("consent", secrets)
        await consent.enter_async_context(serve(app, port))
        pages: dict[str, str] = {}
        outer, demo = website(consent_url, pages)
        url = await stack.enter_async_context(serve(outer))
        # the site's origin (its port) is known only now: its key too
        demo.state.site_key = await create_site_key(app.state.runtime.db, "demo", [url])

        async def restart(**overrides: Any) -> None:
            nonlocal consent
            await consent.aclose()
            consent = contextlib.AsyncExitStack()
            stack.push_async_callback(consent.aclose)
            # the same secrets (ledger, pseudonyms, keys) and database, other settings
            fresh = secrets.model_copy(update=overrides)
            site.consent_app = build_app("consent", fresh)
            await consent.enter_async_context(serve(site.consent_app, port))

        site = Site(app, consent_url, url, demo.state.site_key, pages, restart)
        yield site


async def until_banner(v: Any, name: str = "Cookies op deze site", within: float = 8.0) -> None:
    """Reload until the banner asks again: the browser may serve the notice from its cache for up to
    BANNER_CACHE_SECONDS (4 s in these tests) after the notice changed."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await v.page.reload()
        try:
            await v.page.get_by_role("dialog", name=name).wait_for(timeout=1000)
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise


def banner_config(version: str, title: str | None = None) -> Path:
    """A purposes file like the shipped one, with another notice version (and, given, another Dutch title)."""
    raw = json.loads((ROOT / "services" / "consent" / "purposes.json").read_text())
    raw["banner"]["version"] = version
    if title is not None:
        raw["banner"]["texts_nl"]["title"] = title
    path = OUT.parent / f"purposes-{version}{'-retitled' if title else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw))
    return path


@dataclass
class Visitor:
    context: Any
    page: Any
    warnings: list[str]
    errors: list[str]

    async def browser_id(self) -> str:
        cookies = {c["name"]: c["value"] for c in await self.context.cookies()}
        return str(cookies["pc_bid"])

    async def run(self, script: str) -> Any:
        return await self.page.evaluate(script)

    async def until(self, script: str, within: float = 10.0) -> Any:
        """Poll a JS expression until it is truthy (page.evaluate, which the pages' CSP allows, unlike
        Playwright's wait_for_function, which evaluates strings in the page)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                value = await self.page.evaluate(script)
            except Exception as exc:  # the page is navigating: try again
                if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                    raise
                value = None
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{script} still false after {within}s")
            await asyncio.sleep(0.05)

    async def shot(self, name: str, *, full_page: bool = False) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)


GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


@contextlib.asynccontextmanager
async def visitor(chromium: Any, *, width: int = 1280, gpc: bool = False, **options: Any) -> AsyncIterator[Visitor]:
    """A fresh browser profile (no cookies, no storage) with its console warnings and page errors kept."""
    context = await chromium.new_context(viewport={"width": width, "height": 800}, **options)
    if gpc:  # what a browser with Global Privacy Control switched on shows a page, and sends
        await context.add_init_script(GPC_ON)
        await context.set_extra_http_headers({"Sec-GPC": "1"})
    page = await context.new_page()
    v = Visitor(context, page, [], [])
    page.on("console", lambda m: v.warnings.append(m.text) if m.type == "warning" else None)
    page.on("pageerror", lambda e: v.errors.append(str(e)))
    try:
        yield v
    finally:
        await context.close()


async def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
