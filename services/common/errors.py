"""Errors a use-case raises for the caller to see (mapped to 4xx by the app)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ServiceError(Exception):
    """A refusal with an HTTP status and a message meant for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FieldError(ServiceError):
    """Bad input in a named field: 422 in FastAPI's own error shape."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(422, message)
        self.loc = loc


async def handle_service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, FieldError):
        return JSONResponse(
            {"detail": [{"loc": ["body", *exc.loc], "msg": exc.message, "type": "value_error"}]}, status_code=422
        )
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def json_body(request: Request, model: type[Model]) -> Model:
    """Parse and validate a JSON body in one pass (pydantic-core), for hot routes that skip FastAPI's
    body machinery (about half of a request's cost); errors keep FastAPI's 422 shape, under "body"."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def body_schema(model: type[BaseModel]) -> dict[str, object]:
    """`openapi_extra` documenting a body read with `json_body` (the model must appear in another route)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
