"""The HTTP contract: one error format (RFC 9457), and an OpenAPI document that names every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute

from services.common.auth import Public, Scoped, create_site_key
from services.common.contract import api_routes
from services.consent.context import ConsentContext
from tests.conftest import build_app, running
from tests.notices import NOTICE

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("service", ["consent", "dsar", "breach", "processors"])
def test_every_route_declares_its_refusals(service: str, make_settings: Any, sqlite_url: str) -> None:
    app = build_app(service, make_settings(service, sqlite_url))
    document = app.openapi()
    assert "HTTPValidationError" not in str(document), "FastAPI's error shape is declared nowhere"
    missing = []
    for route in api_routes(app):
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            codes = set(operation["responses"])
            need = {"431"}
            accesses = [d.call for d in route.dependant.dependencies]
            if any(isinstance(a, Scoped) for a in accesses):
                need |= {"401", "403"}
            if any(isinstance(a, Public) for a in accesses):
                need |= {"401", "403"}
            if "requestBody" in operation:
                need |= {"400", "408", "413", "422"}
            if route.dependant.path_params or route.dependant.query_params:
                need.add("422")
            if not need <= codes:
                missing.append(f"{method} {route.path_format}: {sorted(need - codes)}")
            for code, answer in operation["responses"].items():
                if int(code) >= 400:
                    assert answer.get("content"), f"{method} {route.path_format} {code} has no content type"
            if "429" in codes:
                assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert not missing, missing


@pytest.fixture
async def consent(make_settings: Any, sqlite_url: str) -> Any:
    app = build_app("consent", make_settings("consent", sqlite_url, rate_limit_per_minute=3))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        client.headers["x-site-key"] = key
        yield app, client


async def test_the_purposes_are_an_enum_and_an_unknown_one_lists_them(consent: Any) -> None:
    app, client = consent
    known = sorted(ConsentContext.of(app.state.runtime).catalogue.purposes)
    schemas = app.openapi()["components"]["schemas"]
    assert schemas["PurposeChoice"]["properties"]["purpose"]["enum"] == known
    assert schemas["WithdrawIn"]["properties"]["purposes"]["anyOf"][0]["items"]["enum"] == known
    body = {"email": "a@example.nl", "channel": "opt_in_form", "notice": NOTICE}
    r = await client.post(
        "/v1/consents",
        json={**body, "purposes": [{"purpose": "leads", "granted": True}, {"purpose": "x", "granted": True}]},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Content" and problem["type"] == "about:blank"
    assert problem["instance"] == "/v1/consents" and problem["request_id"] == r.headers["x-request-id"]
    [error] = problem["errors"]
    assert error["loc"] == ["body", "purposes", 1, "purpose"] and error["field"] == "purposes.1.purpose"
    assert all(p in error["message"] for p in known) and problem["detail"].startswith("purposes.1.purpose: ")
    r = await client.post("/v1/withdrawals", json={"email": "a@example.nl", "purposes": ["leads", "nope"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "purposes.1"
    assert "known: " in r.json()["errors"][0]["message"]


async def test_every_refusal_is_a_problem(consent: Any) -> None:
    _app, client = consent
    lax = await client.post("/v1/cookies", json={"browser_id": "b" * 12, "analytics": 1, "tracking": False})
    assert lax.headers["content-type"] == PROBLEM and len(lax.json()["errors"]) >= 2  # analytics, notice
    assert lax.json()["detail"].endswith("more, see errors)")
    no_key = await client.post("/v1/withdrawals", json={}, headers={"x-site-key": ""})
    assert no_key.status_code == 401 and no_key.headers["content-type"] == PROBLEM
    assert no_key.headers["www-authenticate"] == "SiteKey" and "site key" in no_key.json()["detail"]
    admin = await client.get("/admin/processors", headers={"authorization": "Bearer nope"})
    assert admin.status_code == 401 and admin.json()["title"] == "Unauthorized"
    unknown = await client.get("/nowhere", headers={"accept": "application/json"})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    proof = await client.get("/ledger/proof/inclusion")
    assert proof.status_code == 422 and proof.json()["detail"] == "give exactly one of seq or event_id"
    # 405 names every method of the path, not just those of the first route that matched it
    wrong = await client.delete("/v1/confirm/" + "t" * 20)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, POST"
    # the rate limit (3 a minute here) keeps Retry-After
    answers = [await client.get("/v1/purposes") for _ in range(5)]
    limited = answers[-1]
    assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM
    assert int(limited.headers["retry-after"]) >= 1


def test_api_routes_sees_inside_included_routers(make_settings: Any, sqlite_url: str) -> None:
    app = build_app("breach", make_settings("breach", sqlite_url))
    paths = {r.path for r in api_routes(app)}
    assert {"/healthz", "/admin/breaches", "/ledger/checkpoint"} <= paths
    assert all(isinstance(r, APIRoute) for r in api_routes(app))
