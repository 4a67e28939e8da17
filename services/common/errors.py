"""Errors a use-case raises for the caller to see (mapped to 4xx by the app)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


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
