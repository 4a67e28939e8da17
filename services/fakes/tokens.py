"""The OAuth2 token endpoint's checks that the fakes of processors with OAuth2 share (RFC 6749 section 5.2):
a refresh-token grant from the registered client, with the refresh token the fake holds and not revoked.
Each fake then answers with its own tokens (Teamleader rotates the refresh token, Google does not)."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi.responses import JSONResponse


class Grant(Protocol):
    client_id: str
    client_secret: str
    refresh_token: str
    revoked: bool


def refusal(grant: Grant, grant_type: str, client_id: str, client_secret: str, refresh_token: str) -> str | None:
    """The RFC 6749 error this request gets (None: the grant is good)."""
    if client_id != grant.client_id or client_secret != grant.client_secret:
        return "invalid_client"
    if grant_type != "refresh_token":
        return "unsupported_grant_type"
    if grant.revoked or refresh_token != grant.refresh_token:
        return "invalid_grant"  # used already (rotated), expired or revoked
    return None


def refused(error: str) -> JSONResponse:
    body: dict[str, Any] = {"error": error}
    if error == "invalid_grant":
        body["error_description"] = "the refresh token is invalid, expired or revoked"
    return JSONResponse(body, status_code=401 if error == "invalid_client" else 400)
