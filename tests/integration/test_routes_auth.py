"""Every route of every app is classified; credentials, origins, limits and body sizes are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Route

from services.common.auth import Access, Open, Public, Scoped, create_site_key, create_token
from services.common.lean import LeanRoute
from tests.conftest import all_routes, build_app, running

SERVICES = ("consent", "dsar", "breach", "processors")
DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def access_of(route: APIRoute) -> list[Access]:
    found: list[Access] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            if isinstance(dep.call, Access):
                found.append(dep.call)
            walk(dep)

    walk(route.dependant)
    return found


@pytest.fixture(params=SERVICES)
def app(request: pytest.FixtureRequest, make_settings: Any, sqlite_url: str) -> FastAPI:
    return build_app(
        request.param,
        make_settings(
            request.param,
            sqlite_url,
            relay_enabled=False,
            consumers_enabled=False,
            failed_credentials_per_minute=100_000,  # every route refused in turn, from one address
        ),
    )


def test_every_route_is_classified(app: FastAPI) -> None:
    unclassified = []
    for route in all_routes(app):
        if isinstance(route, APIRoute):
            kinds = access_of(route)
            if len(kinds) != 1:
                unclassified.append(f"{sorted(route.methods)} {route.path}: {len(kinds)} access declarations")
        elif isinstance(route, Route) and route.path not in DOC_ROUTES:
            unclassified.append(f"{route.path}: not an API route, cannot be classified")
    assert not unclassified, "routes without exactly one Public/Scoped/Open: " + "; ".join(unclassified)


def scoped_routes(app: FastAPI) -> list[tuple[APIRoute, Scoped]]:
    return [(r, a) for r in all_routes(app) if isinstance(r, APIRoute) for a in access_of(r) if isinstance(a, Scoped)]


def concrete(path: str) -> str:
    return path.replace("{request_id}", "dsr_doesnotexist").replace("{", "").replace("}", "")


async def test_scoped_routes_answer_401_without_and_403_with_wrong_scope(app: FastAPI) -> None:
    rt = app.state.runtime
    async with running(app) as client:
        system_only = await create_token(rt.db, "a system", ["system"])
        revoked = await create_token(rt.db, "revoked", ["admin", "dpo", "system"])
        from services.common.auth import revoke_token

        await revoke_token(rt.db, "revoked")
        for route, access in scoped_routes(app):
            for method in route.methods:
                url = concrete(route.path)
                r = await client.request(method, url)
                assert r.status_code == 401, (method, url, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                r = await client.request(method, url, headers={"authorization": "Bearer nonsense"})
                assert r.status_code == 401
                r = await client.request(method, url, headers={"authorization": f"Bearer {revoked}"})
                assert r.status_code == 401, "a revoked token must not work"
                if "system" not in access.scopes:
                    r = await client.request(method, url, headers={"authorization": f"Bearer {system_only}"})
                    assert r.status_code == 403, (method, url, r.text)
                    html = r.headers["content-type"].startswith("text/html")  # a page route answers with a page
                    assert "needs the scope" in (r.text if html else r.json()["detail"])


async def test_open_routes_need_no_credentials(app: FastAPI) -> None:
    async with running(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/ledger/public-key")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200
        r = await client.get("/healthz", headers={"x-request-id": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


@pytest.mark.parametrize("route_class", [APIRoute, LeanRoute])
async def test_public_dependency_checks_site_key_origin_and_rate(
    make_settings: Any, sqlite_url: str, route_class: type[APIRoute]
) -> None:
    """The Public access class, mounted on a probe route of a real app; the same answers when the route is
    a LeanRoute (its Access checks called without FastAPI's dependency solver)."""
    from fastapi import APIRouter, Depends

    probe = APIRouter()

    async def probe_route(request: Request) -> JSONResponse:
        return JSONResponse({"ok": "yes"})

    probe.add_api_route(
        "/probe", probe_route, methods=["POST"], dependencies=[Depends(Public())], route_class_override=route_class
    )

    from services.common.app import create_app
    from services.consent.main import build_runtime

    rt = build_runtime(
        make_settings(
            "consent",
            sqlite_url,
            rate_limit_per_minute=5,
            relay_enabled=False,
            consumers_enabled=False,
            max_body_bytes=1024,
        )
    )
    app = create_app(rt, routers=[probe], title="t", description="t")
    async with running(app) as client:
        key = await create_site_key(rt.db, "shop", ["https://www.example.nl"])
        assert (await client.post("/probe")).status_code == 401
        assert (await client.post("/probe", headers={"x-site-key": "sk_unknown"})).status_code == 401
        r = await client.post("/probe", headers={"x-site-key": key, "origin": "https://evil.example"})
        assert r.status_code == 403 and "not allowed" in r.json()["detail"]
        # CORS: the allowed origin gets its header on preflight, another origin does not
        pre = await client.options(
            "/probe", headers={"origin": "https://www.example.nl", "access-control-request-method": "POST"}
        )
        assert pre.headers.get("access-control-allow-origin") == "https://www.example.nl"
        pre = await client.options(
            "/probe", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
        )
        assert "access-control-allow-origin" not in pre.headers
        # body over the limit: 413 before the route runs
        big = await client.post("/probe", headers={"x-site-key": key}, content=b"x" * 2048)
        assert big.status_code == 413 and "larger than 1024" in big.json()["detail"]
        statuses = [
            (await client.post("/probe", headers={"x-site-key": key, "origin": "https://www.example.nl"}))
            for _ in range(7)
        ]
        assert [s.status_code for s in statuses[:3]] == [200, 200, 200]
        assert statuses[-1].status_code == 429 and int(statuses[-1].headers["retry-after"]) >= 1
    route = next(r for r in probe.routes if isinstance(r, APIRoute))
    assert getattr(route, "lean", False) is (route_class is LeanRoute)


async def test_lean_route_falls_back_when_fastapi_has_work_to_do(make_settings: Any, sqlite_url: str) -> None:
    """A LeanRoute whose endpoint takes anything but the request (here a query parameter), or whose
    dependency is not an Access check, is served by FastAPI's own handler: nothing is skipped."""
    from fastapi import APIRouter, Depends

    from services.common.app import create_app
    from services.consent.main import build_runtime

    seen: list[str] = []

    async def not_an_access_check(request: Request) -> None:
        seen.append("dependency ran")

    async def with_query(request: Request, n: int) -> dict[str, int]:
        return {"n": n}

    async def with_other_dependency(request: Request) -> dict[str, str]:
        return {"ok": "yes"}

    probe = APIRouter()
    probe.add_api_route("/query", with_query, dependencies=[Depends(Open("test"))], route_class_override=LeanRoute)
    probe.add_api_route(
        "/other",
        with_other_dependency,
        dependencies=[Depends(Open("test")), Depends(not_an_access_check)],
        route_class_override=LeanRoute,
    )
    rt = build_runtime(make_settings("consent", sqlite_url, relay_enabled=False, consumers_enabled=False))
    app = create_app(rt, routers=[probe], title="t", description="t")
    async with running(app) as client:
        assert (await client.get("/query", params={"n": 3})).json() == {"n": 3}
        bad = await client.get("/query", params={"n": "x"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "n"]
        assert (await client.get("/other")).json() == {"ok": "yes"}
    assert seen == ["dependency ran"]
    assert not any(getattr(r, "lean", False) for r in probe.routes)


async def test_consent_capture_route_is_lean(make_settings: Any, sqlite_url: str) -> None:
    """The hot route really skips the solver (a FastAPI change that hid the include context would
    quietly fall back: this says so)."""
    app = build_app("consent", make_settings("consent", sqlite_url, relay_enabled=False, consumers_enabled=False))
    async with running(app) as client:
        assert (await client.post("/v1/consents", json={})).status_code == 401
    from services.consent.routes import router

    (route,) = [r for r in router.routes if isinstance(r, APIRoute) and r.path == "/v1/consents"]
    assert isinstance(route, LeanRoute) and route.lean


async def test_cli_creates_and_revokes_tokens(
    make_settings: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.common import cli

    for service in SERVICES:
        for key, value in make_settings(service, sqlite_url.replace("test.db", f"{service}.db")).model_dump().items():
            if value is not None and not isinstance(value, (list, dict)):
                raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
                monkeypatch.setenv(f"{service.upper()}_{key.upper()}", str(raw))
    assert await _cli(cli, ["token", "create", "--name", "ops", "--scope", "dpo"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("pt_")
    assert await _cli(cli, ["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("\tops\tdpo\tactive") == len(SERVICES) and token not in listing
    assert await _cli(cli, ["token", "revoke", "ops"]) == 0
    assert f"revoked {len(SERVICES)}" in capsys.readouterr().out
    assert await _cli(cli, ["token", "revoke", "ops"]) == 1
    assert await _cli(cli, ["site-key", "create", "--name", "x", "--origin", "not-an-origin"]) == 2
    assert "must look like" in capsys.readouterr().err


async def _cli(cli: Any, argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(cli.main, argv)
