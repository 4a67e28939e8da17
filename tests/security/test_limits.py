"""Issue 29, items 9, 11, 12, 13: caches, forwarded headers, the console's `next`, body types."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest

from services.common.auth import create_site_key
from services.consent import subjects
from services.consent.context import ConsentContext
from services.console.web import same_origin_path
from tests.conftest import build_app, serve_production
from tests.security.conftest import NOTICE, ORIGIN, Site


async def test_made_up_keys_neither_fill_the_cache_nor_go_unlimited(site: Site) -> None:
    """Item 9: 900 random 14.7 KB keys grew the process by 11 MB; unknown keys were never rate-limited."""
    credentials = site.rt.credentials
    long = await site.client.get("/v1/banner", headers={"x-site-key": "k" * 101})
    assert long.status_code == 401 and "at most 100 characters" in long.text, "refused unread"
    codes = []
    for _ in range(900):
        r = await site.client.get("/v1/banner", headers={"x-site-key": os.urandom(7350).hex()})
        codes.append(r.status_code)
    assert set(codes) <= {401, 429} and codes.count(429) >= 800, "refused credentials are limited per address"
    assert len(credentials._sites) == 0, "nothing of a made-up key is cached"
    short = [await site.client.get("/v1/banner", headers={"x-site-key": f"sk_{i:022d}"}) for i in range(5)]
    assert {r.status_code for r in short} == {429}, "a blocked address is refused before any lookup"
    assert len(credentials._sites) == 0
    for i in range(credentials._sites.size + 10):
        credentials._sites.put(f"{i}", 1e18, None)
    assert len(credentials._sites) == credentials._sites.size, "the cache holds at most its bound"


@pytest.mark.parametrize(
    "given",
    [
        "/%2Fevil.example/x",
        "//evil.example",
        "/%252F%252Fevil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%0d%0aLocation:%20https://evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
    ],
)
def test_the_consoles_next_is_a_path_of_the_console(given: str) -> None:
    """Item 12: `next=/%2Fevil.example/x` gave `Location: //evil.example/x` (the check ran before unquoting)."""
    assert same_origin_path(given) == "/"


def test_the_consoles_next_keeps_a_real_path() -> None:
    assert same_origin_path("/requests/dsr_1?state=open") == "/requests/dsr_1?state=open"
    assert same_origin_path("%2Frequests") == "/requests"


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
async def test_a_json_route_takes_json_only(site: Site, content_type: str | None) -> None:
    """Item 13: a NUL in a capture was refused as application/json but accepted (201) as text/plain or untyped."""
    capture = {
        "email": "a@example.nl",
        "channel": "contact_form",
        "notice": NOTICE,
        "purposes": [{"purpose": "contact", "granted": True}],
        "name": "A\u0000",
    }
    body = json.dumps(capture).encode()
    headers = {**site.public, **({"content-type": content_type} if content_type else {})}
    r = await site.client.post("/v1/consents", content=body, headers=headers)
    assert r.status_code == 415 and "application/json" in r.json()["detail"], r.text
    withdraw = b'{"browser_id":"b_xxxxxxxxxx","all":true}'
    assert (await site.client.post("/v1/withdrawals", content=withdraw, headers=headers)).status_code == 415
    as_json = {**site.public, "content-type": "application/json"}
    assert (await site.client.post("/v1/consents", content=body, headers=as_json)).status_code == 400
    raw = await site.client.post(
        "/admin/mail/bounces",
        content=b"From: x\x00",
        headers={"content-type": "message/rfc822", "authorization": f"Bearer {site.staff}"},
    )
    assert raw.status_code == 400 and "NUL" in raw.text, "a raw NUL in any other type is refused too"


async def test_forwarded_headers_count_only_from_a_configured_proxy(make_settings: Any, tmp_path: Any) -> None:
    """Item 11: uvicorn trusted X-Forwarded-For from 127.0.0.1, so a caller on the host chose the recorded
    evidence `ip` and its own per-IP bucket; behind a TLS proxy, cookies lost `Secure` without it."""
    spoof = {"x-forwarded-for": "198.51.100.77", "x-forwarded-proto": "https"}
    body = {"browser_id": "b_forwarded01", "analytics": True, "tracking": False, "notice": NOTICE}
    for trusted, expected in (("", "127.0.0.1"), ("127.0.0.1", "198.51.100.77")):
        url = f"sqlite+aiosqlite:///{tmp_path}/f{len(trusted)}.db"
        settings = make_settings("consent", url, forwarded_allow_ips=trusted)
        app = build_app("consent", settings)
        async with serve_production(app, settings) as address, httpx.AsyncClient(base_url=f"http://{address}") as c:
            key = await create_site_key(app.state.runtime.db, "w", [ORIGIN])
            r = await c.post("/v1/cookies", json=body, headers={"x-site-key": key, **spoof})
            assert r.status_code == 201, r.text
            assert ("strict-transport-security" in r.headers) == bool(trusted), "HSTS only over https"
            ctx = ConsentContext.of(app.state.runtime)
            history = await subjects.history(ctx, ctx.browser_pseudonym("b_forwarded01"))
            assert history["records"][0]["evidence"]["ip"] == expected, trusted
