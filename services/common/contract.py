"""The OpenAPI document says what every route answers: each status it can give, with its content type.

What follows from the route's parts is added here, so that no route can forget it:
- its access (`auth.py`): a token or site key gives 401 and 403, a rate limit 429 with `Retry-After`
- its input: parameters or a body give 422 (a problem with `errors`); a body also 400 (not JSON, or
  nested too deep), 408 (too slow) and 413 (too large); every route 431 (headers too large)
- the refusals a use-case can raise are named on the route itself: `responses=refusals(404, 409)`

Refusals are `application/problem+json` (`problems.py`), or `text/html` on the routes that answer a
person's browser with pages. Security schemes name the bearer token and the site key."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from services.common.auth import Open, Public, Scoped
from services.common.problems import MEDIA_TYPE, FieldProblem, Problem, title

REF = "#/components/schemas/Problem"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1, "maximum": 86_400},
    }
}
_AUTHENTICATE = {"WWW-Authenticate": {"description": "The credential this route expects", "schema": {"type": "string"}}}
_WHY = {
    400: "The body is not what this route reads: not JSON (or not a form), nested too deep, an array too "
    "long, or text with a NUL character (U+0000)",
    401: "No credential, or an unknown or revoked one",
    403: "The credential does not allow this",
    404: "Not found",
    408: "The request did not arrive in time",
    409: "Conflicts with the current state",
    410: "Gone: the link was used or has expired",
    413: "The body is too large",
    415: "The body is not in a content type this route reads",
    422: "Invalid input: `errors` names each field",
    429: "Too many requests: wait as Retry-After says",
    431: "The request's headers are too large",
    502: "A system this route depends on answered with an error",
    503: "A system this route depends on cannot be reached",
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the refusals a route's use-case gives; the content is filled in by `openapi()`."""
    return {status: {"description": _WHY.get(status, title(status))} for status in statuses}


def routes_of(app: FastAPI) -> list[BaseRoute]:
    """Every route with its full path and all its dependencies. Since FastAPI 0.16x, `app.routes` lists
    an included router as one `_IncludedRouter`; this flattens them as FastAPI does when it matches a
    request (a private helper of the pinned FastAPI; the tests check it still finds /healthz)."""
    from fastapi.routing import _iter_included_route_candidates

    return list(_iter_included_route_candidates(app.routes))


def api_routes(app: FastAPI) -> list[APIRoute]:
    return [route for route in routes_of(app) if isinstance(route, APIRoute)]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route answers at `path` (a 405's `Allow`: Starlette names only the first
    route that matched the path, not the others at the same path)."""
    methods: set[str] = set()
    for route in routes_of(app):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _accesses(route: APIRoute) -> list[Any]:
    found, stack = [], list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if isinstance(dependency.call, Open | Public | Scoped):
            found.append(dependency.call)
        stack.extend(dependency.dependencies)
    return found


def _statuses(route: APIRoute, operation: dict[str, Any]) -> tuple[set[int], list[dict[str, list[str]]]]:
    statuses: set[int] = {431}
    security: list[dict[str, list[str]]] = []
    for access in _accesses(route):
        if isinstance(access, Scoped):
            statuses |= {401, 403}
            security.append({"bearer": []})
        elif isinstance(access, Public):
            statuses |= {401, 403} | ({429} if access.rate_limited else set())
            security.append({"siteKey": []})
        elif access.rate_limited:
            statuses.add(429)
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 408, 413}
    return statuses, security


def _content(html: bool, status: int) -> dict[str, Any]:
    """On page routes refusals are pages, except what the limits answer before any route is matched."""
    problem = {MEDIA_TYPE: {"schema": {"$ref": REF}}}
    page = {"text/html": {"schema": {"type": "string"}}}
    if not html or status == 431:
        return problem
    return {**page, **problem} if status == 413 else page


def openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every refusal declared (cached, as FastAPI's own)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["FieldProblem"] = FieldProblem.model_json_schema()
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem.pop("$defs", None)
    schemas["Problem"] = problem
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "A token from `privacyctl token create`"},
        "siteKey": {"type": "apiKey", "in": "header", "name": "X-Site-Key", "description": "A website's key"},
    }
    for route in api_routes(app):
        html = isinstance(route.response_class, type) and issubclass(route.response_class, HTMLResponse)
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            statuses, security = _statuses(route, operation)
            if security:
                operation["security"] = security
            responses = operation.setdefault("responses", {})
            statuses |= {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(statuses):
                answer = responses.setdefault(str(status), {})
                if status in _WHY and (status == 422 or not answer.get("description")):
                    answer["description"] = _WHY[status]
                answer.setdefault("description", title(status))
                answer["content"] = _content(html, status)
                if status == 429:
                    answer["headers"] = _RETRY_AFTER
                elif status == 401:
                    answer["headers"] = _AUTHENTICATE
    for hook in getattr(app.state, "openapi_hooks", ()):
        hook(document)
    app.openapi_schema = document
    return document


def mark_enum(document: dict[str, Any], mark: str, values: list[str]) -> None:
    """Every schema carrying the extension `mark` lists `values` as its enum (values known at start)."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.pop(mark, None):
                node["enum"] = list(values)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
