"""A local stand-in for Google Analytics' user deletion, for tests and `make run`: the Admin API's
`POST /v1alpha/properties/{property}:submitUserDeletion` (a Bearer access token; a body with exactly one of
userId, clientId, appInstanceId, userProvidedData; the answer `{"deletionRequestTime": ...}`) and Google's
OAuth2 token endpoint (`POST /token`, grant_type refresh_token: the refresh token stays the same, unlike
Teamleader's). Errors as Google gives them: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 404 NOT_FOUND for a
property it does not know, 429 RESOURCE_EXHAUSTED over 1.5 requests per second per property (3 in any two
seconds) or 500 deletions a day. Fictitious properties and ids.

Tests steer it through `app.state.fake` (`FakeState`): the deletions received, revoking the grant, failing
the next requests with 503, slowing answers."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, FastAPI, Form, Request
from fastapi.responses import JSONResponse

from services.fakes import tokens

RATE = (3, 2.0)  # 1.5 per second per property, counted over two seconds
PER_DAY = 500
ACCESS_SECONDS = 3599
UNION = ("userId", "clientId", "appInstanceId", "userProvidedData")


@dataclass
class FakeState:
    client_id: str
    client_secret: str
    refresh_token: str
    properties: set[str] = field(default_factory=lambda: {"123456789"})
    access: dict[str, float] = field(default_factory=dict)  # access token -> expires at
    deletions: list[dict[str, Any]] = field(default_factory=list)  # {"property", "clientId", "at"}
    revoked: bool = False
    failing: int = 0  # the next this many requests answer 503
    slow: float = 0.0  # seconds each answer waits
    refreshes: int = 0
    refused: int = 0  # requests refused as over the rate
    per_second: Counter[int] = field(default_factory=Counter)
    _window: deque[float] = field(default_factory=deque)

    def deleted(self, client_id: str) -> bool:
        return any(d.get("clientId") == client_id for d in self.deletions)

    def over_rate(self) -> bool:
        now = time.monotonic()
        while self._window and now - self._window[0] >= RATE[1]:
            self._window.popleft()
        if len(self._window) >= RATE[0] or len(self.deletions) >= PER_DAY:
            return True
        self._window.append(now)
        return False


def _status(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


DEV = {  # what `make run` gives the processors service (the fake's own credentials, fictitious)
    "client_id": os.environ.get("GA_FAKE_CLIENT_ID", "ga-client.apps.example"),
    "client_secret": os.environ.get("GA_FAKE_CLIENT_SECRET", "ga-dev-secret"),
    "refresh_token": os.environ.get("GA_FAKE_REFRESH_TOKEN", "1//ga-dev-refresh"),
}


def create(client_id: str = "", client_secret: str = "", refresh_token: str = "") -> FastAPI:
    state = FakeState(
        client_id or DEV["client_id"], client_secret or DEV["client_secret"], refresh_token or DEV["refresh_token"]
    )
    app = FastAPI(title="Google Analytics user deletion (local fake)", docs_url=None, redoc_url=None)
    app.state.fake = state

    @app.post("/token")
    async def token(
        grant_type: Annotated[str, Form()],
        client_id: Annotated[str, Form()],
        client_secret: Annotated[str, Form()],
        refresh_token: Annotated[str, Form()] = "",
    ) -> Any:
        error = tokens.refusal(state, grant_type, client_id, client_secret, refresh_token)
        if error:
            return tokens.refused(error)
        state.refreshes += 1
        access = "ya29.fake-" + secrets.token_hex(12)
        state.access[access] = time.time() + ACCESS_SECONDS
        scope = "https://www.googleapis.com/auth/analytics.edit"
        return {"access_token": access, "expires_in": ACCESS_SECONDS, "scope": scope, "token_type": "Bearer"}

    @app.middleware("http")
    async def google(request: Request, call_next: Any) -> Any:
        if request.url.path == "/token":
            return await call_next(request)
        if state.slow:
            await asyncio.sleep(state.slow)
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if state.access.get(given, 0) < time.time():
            return _status(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if state.failing > 0:
            state.failing -= 1
            return _status(503, "UNAVAILABLE", "The service is currently unavailable.")
        if state.over_rate():
            state.refused += 1
            response = _status(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'User deletions'.")
            response.headers["retry-after"] = "2"
            return response
        state.per_second[int(time.time())] += 1
        return await call_next(request)

    @app.post("/v1alpha/properties/{prop}:submitUserDeletion")
    async def submit(prop: str, body: Annotated[dict[str, Any], Body()]) -> Any:
        if prop not in state.properties:
            return _status(404, "NOT_FOUND", f"Requested entity was not found: properties/{prop}")
        given = [k for k in UNION if body.get(k)]
        if len(given) != 1 or set(body) - set(UNION):
            return _status(400, "INVALID_ARGUMENT", "Exactly one of userId, clientId, appInstanceId, userProvidedData")
        at = datetime.now(UTC)
        state.deletions.append({"property": prop, given[0]: str(body[given[0]]), "at": at})
        return {"deletionRequestTime": at.isoformat(timespec="microseconds").replace("+00:00", "Z")}

    return app
