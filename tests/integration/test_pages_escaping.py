"""Every route of every service, called with markup in each path and query parameter (as a browser, with a
staff token so that admin pages render too): whatever answers with HTML carries the page headers and
shows the markup only escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute

from services.common.auth import create_token
from tests.conftest import all_routes, build_app, running

MARKUP = "\"'><img src=x onerror=alert(1)><svg onload=alert(2)>"  # no "/": it must stay one path segment
RAW = re.compile(r"<img src=x onerror|<svg onload")


def _calls(app: Any) -> list[tuple[str, str, list[str]]]:
    out = []
    for route in all_routes(app):
        if not isinstance(route, APIRoute):
            continue
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", quote(MARKUP + "x" * 12, safe=""))
        queries = [p.alias for p in route.dependant.query_params]
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, path, queries))
    return out


@pytest.mark.parametrize("service", ["consent", "dsar", "breach", "processors"])
async def test_markup_in_every_parameter_comes_back_escaped(
    service: str, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    app = build_app(service, make_settings(service, f"sqlite+aiosqlite:///{tmp_path}/{service}.db"))
    async with running(app) as client:
        token = await create_token(app.state.runtime.db, "escaping-test", ["admin", "dpo", "system"])
        headers = {"authorization": f"Bearer {token}", "accept": "text/html,application/json"}
        pages = 0  # HTML answers seen
        for method, path, queries in _calls(app):
            params = {q: MARKUP for q in queries}
            for query in ({}, params):
                r = await client.request(method, path, params=query, headers=headers)
                if not r.headers.get("content-type", "").startswith("text/html"):
                    continue
                pages += 1
                assert not RAW.search(r.text), (method, path, query, r.status_code)
                csp = r.headers.get("content-security-policy", "")
                assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (method, path)
                assert r.headers["referrer-policy"] == "no-referrer", (method, path)
                assert r.headers["x-content-type-options"] == "nosniff", (method, path)
                assert r.headers["cache-control"] in ("no-store", "no-cache"), (method, path)
        # each service's page routes were reached (consent: centre, links, register; dsar: verify, export;
        # breach: the AP form, here its 404 page; processors: none yet, its staff read JSON)
        least = {"consent": 20, "dsar": 6, "breach": 2, "processors": 0}[service]
        assert pages >= least, f"{service}: {pages} HTML answers"
