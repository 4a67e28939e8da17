"""Errors a use-case raises for the caller to see (mapped to 4xx by the app)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ServiceError(Exception):
    """A refusal with an HTTP status and a message meant for the caller."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class FieldError(ServiceError):
    """Bad input in a named field of the body: a 422 problem with the field in its `errors`."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(422, message)
        self.loc = loc


async def json_body(request: Request, model: type[Model]) -> Model:
    """Parse and validate a JSON body in one pass (pydantic-core), for hot routes that skip FastAPI's
    body machinery (about half of a request's cost); errors are FastAPI's, under "body"."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def body_schema(model: type[BaseModel]) -> dict[str, object]:
    """`openapi_extra` documenting a body read with `json_body` (the model must appear in another route)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
