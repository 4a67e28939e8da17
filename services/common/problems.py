"""Every refusal of every API route in one format: RFC 9457 `application/problem+json`.

A problem has `type` (`about:blank`: the status says it all), `title` (the status's phrase), `status`,
`detail` (a sentence for a person) and `instance` (the path asked for), plus `request_id` (the
`X-Request-ID` that the logs carry) and, for bad input, `errors`: one item per field with where it is
(`loc`, as FastAPI names it, and `field`, the same path written `purposes.0.granted`) and its `message`.
The headers a status needs stay: `Retry-After` on 429, `WWW-Authenticate` on 401, `Allow` on 405."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.errors import FieldError, ServiceError
from services.common.logs import request_id

MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


Index = Annotated[int, Field(ge=0, le=2**31 - 1)]  # a position in a list of the request


class FieldProblem(BaseModel):
    """One invalid input."""

    loc: list[str | Index] = Field(description='Where: ["body", "purposes", 0, "granted"], ["query", "n"]')
    field: str = Field(description="The same path without its first part: purposes.0.granted")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", description="about:blank: the status code is the whole meaning")
    title: str = Field(description="The status code's phrase")
    status: int = Field(ge=100, le=599)
    detail: str = Field(description="What was wrong, for a person to read")
    instance: str = Field(description="The path of the request")
    request_id: str | None = Field(None, description="The request's X-Request-ID, as the logs carry it")
    errors: list[FieldProblem] | None = Field(None, description="On 422: each invalid input with its message")


RFC_9110 = {413: "Content Too Large", 416: "Range Not Satisfiable", 422: "Unprocessable Content"}  # not yet in 3.11


def title(status: int) -> str:
    if status in RFC_9110:
        return RFC_9110[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def body(
    status: int,
    detail: str,
    instance: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    with_request_id: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "about:blank", "title": title(status), "status": status, "detail": detail}
    out["instance"] = instance
    rid = request_id.get() if with_request_id else None
    if rid:
        out["request_id"] = rid
    if errors is not None:
        out["errors"] = list(errors)
    out.update(extra)
    return out


def problem(
    request: Request | None,
    status: int,
    detail: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> ProblemResponse:
    """`instance` (default: the path) and `with_request_id=False` for an answer that must be the same
    each time (a replay); `extra` members are added as RFC 9457 extensions."""
    if instance is None:
        instance = request.url.path if request is not None else ""
    return ProblemResponse(body(status, detail, instance, errors=errors, **extra), status, headers=dict(headers or {}))


def raw(status: int, detail: str, path: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> tuple[list[Any], bytes]:
    """A problem for ASGI middleware that answers before any route runs: (headers, body)."""
    encoded = json.dumps(body(status, detail, path)).encode()
    return [
        (b"content-type", MEDIA_TYPE.encode()),
        (b"content-length", str(len(encoded)).encode()),
        *headers,
    ], encoded


def field_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "invalid"))
        field = ".".join(str(p) for p in loc[1:]) or (str(loc[0]) if loc else "")
        out.append({"loc": loc, "field": field, "message": message})
    return out


def summary(errors: Sequence[Mapping[str, Any]]) -> str:
    first = errors[0]
    where = first["field"] or "the request"
    more = f" (and {len(errors) - 1} more, see errors)" if len(errors) > 1 else ""
    return f"{where}: {first['message']}{more}"


async def on_validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_problems(exc.errors())
    if not errors:
        return problem(request, 422, "the request is not valid")
    return problem(request, 422, summary(errors), errors=errors)


async def on_service_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, FieldError):
        loc = ["body", *exc.loc]
        errors = [{"loc": loc, "field": ".".join(str(p) for p in exc.loc), "message": exc.message}]
        return problem(request, 422, summary(errors), errors=errors)
    return problem(request, exc.status, exc.message, headers=exc.headers)


async def on_http_exception(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else title(exc.status_code)
    return problem(request, exc.status_code, detail, headers=exc.headers)
