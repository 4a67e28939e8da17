"""A local stand-in for Teamleader Focus, for tests and `make run`: its RPC-style API (POST /contacts.list,
/contacts.info, /contacts.update, /contacts.delete with JSON bodies and a Bearer access token) and its OAuth2
token endpoint (POST /oauth2/access_token, grant_type refresh_token), which rotates: each refresh returns a
new refresh token and the one used stops working. Access tokens expire (`ACCESS_SECONDS`); a request with an
expired or unknown token is a 401. 200 requests per minute (429 with Retry-After over it). Fictitious people.

Tests steer it through `app.state.fake` (`FakeState`): revoke the grant, expire the access token, count the
refreshes and the requests."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Body, FastAPI, Form, Request
from fastapi.responses import JSONResponse, Response

from services.fakes import tokens

RATE = (200, 60.0)  # requests per minute
ACCESS_SECONDS = 3600


@dataclass
class FakeState:
    client_id: str
    client_secret: str
    refresh_token: str
    access: dict[str, float] = field(default_factory=dict)  # access token -> expires at
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    refreshes: int = 0
    refused_refreshes: int = 0
    revoked: bool = False
    per_minute: Counter[int] = field(default_factory=Counter)
    first_at: float | None = None  # time.time() of the first request accepted, and of the last
    last_at: float | None = None
    refused: int = 0
    _window: deque[float] = field(default_factory=deque)

    def add(self, email: str, first: str, last: str) -> str:
        cid = secrets.token_hex(8)
        self.contacts[cid] = {
            "id": cid,
            "first_name": first,
            "last_name": last,
            "emails": [{"type": "primary", "email": email}],
            "telephones": [],
            "added_at": "2026-03-02T10:00:00+00:00",
            "updated_at": "2026-03-02T10:00:00+00:00",
        }
        return cid

    def expire_access(self) -> None:
        self.access.clear()

    def over_rate(self) -> bool:
        now = time.monotonic()
        while self._window and now - self._window[0] >= RATE[1]:
            self._window.popleft()
        if len(self._window) >= RATE[0]:
            return True
        self._window.append(now)
        return False


def _error(status: int, title: str) -> JSONResponse:
    return JSONResponse({"errors": [{"status": status, "title": title}]}, status_code=status)


DEV = {  # what `make run` gives the processors service (a fake's own credentials, fictitious)
    "client_id": os.environ.get("TEAMLEADER_FAKE_CLIENT_ID", "tl-client"),
    "client_secret": os.environ.get("TEAMLEADER_FAKE_CLIENT_SECRET", "tl-dev-secret"),
    "refresh_token": os.environ.get("TEAMLEADER_FAKE_REFRESH_TOKEN", "tl-refresh-0"),
}


def create(client_id: str = "", client_secret: str = "", refresh_token: str = "") -> FastAPI:
    state = FakeState(
        client_id or DEV["client_id"], client_secret or DEV["client_secret"], refresh_token or DEV["refresh_token"]
    )
    app = FastAPI(title="Teamleader Focus (local fake)", docs_url=None, redoc_url=None)
    app.state.fake = state

    @app.post("/oauth2/access_token")
    async def token(
        grant_type: Annotated[str, Form()],
        client_id: Annotated[str, Form()],
        client_secret: Annotated[str, Form()],
        refresh_token: Annotated[str, Form()] = "",
    ) -> Any:
        error = tokens.refusal(state, grant_type, client_id, client_secret, refresh_token)
        if error:
            state.refused_refreshes += error == "invalid_grant"  # used already (rotated), or the grant revoked
            return tokens.refused(error)
        state.refreshes += 1
        state.refresh_token = "tl-refresh-" + secrets.token_hex(8)  # rotation: the one used is dead now
        access = "tl-access-" + secrets.token_hex(8)
        state.access[access] = time.time() + ACCESS_SECONDS
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_SECONDS,
            "access_token": access,
            "refresh_token": state.refresh_token,
        }

    @app.middleware("http")
    async def bearer(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/oauth2/"):
            return await call_next(request)
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if state.access.get(given, 0) < time.time():
            return _error(401, "Unauthorized: the access token is missing, invalid or expired")
        if state.over_rate():
            state.refused += 1
            response = _error(429, "Too Many Requests")
            response.headers["retry-after"] = "5"
            return response
        state.per_minute[int(time.time() // 60)] += 1
        state.first_at, state.last_at = state.first_at or time.time(), time.time()
        return await call_next(request)

    @app.post("/contacts.list")
    async def contacts_list(body: Annotated[dict[str, Any], Body()]) -> Any:
        wanted = ((body.get("filter") or {}).get("email") or {}).get("email", "")
        found = [
            c
            for c in state.contacts.values()
            if not wanted or any(e["email"].lower() == str(wanted).lower() for e in c["emails"])
        ]
        return {"data": found}

    @app.post("/contacts.info")
    async def contacts_info(body: Annotated[dict[str, Any], Body()]) -> Any:
        found = state.contacts.get(str(body.get("id", "")))
        return {"data": found} if found else _error(404, "Contact not found")

    @app.post("/contacts.update")
    async def contacts_update(body: Annotated[dict[str, Any], Body()]) -> Any:
        found = state.contacts.get(str(body.get("id", "")))
        if found is None:
            return _error(404, "Contact not found")
        found.update({k: v for k, v in body.items() if k in ("first_name", "last_name")})
        return Response(status_code=204)

    @app.post("/contacts.delete")
    async def contacts_delete(body: Annotated[dict[str, Any], Body()]) -> Any:
        if state.contacts.pop(str(body.get("id", "")), None) is None:
            return _error(404, "Contact not found")
        return Response(status_code=204)

    return app


def seeded() -> FastAPI:
    """For `make run`: a customer in it (the same address as ActiveCampaign's newsletter subscriber)."""
    app = create()
    app.state.fake.add("nieuwsbrief@example.nl", "Nina", "Nieuwsbrief")
    return app
