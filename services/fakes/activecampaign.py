"""A local stand-in for ActiveCampaign's API v3, for tests, benchmarks and `make run`: the documented paths
under `/api/3/`, the `Api-Token` header, answers shaped like the API's, its errors, and its limit of 5
requests per second per account (429 with `Retry-After` over it). Fictitious contacts only.

    GET    /api/3/contacts?email=&limit=&offset=      {"contacts": [...], "meta": {"total": "n"}}
    GET    /api/3/contacts/{id}                       {"contact": {...}} | 404
    PUT    /api/3/contacts/{id}                       {"contact": {...}} (fields given replace) | 404
    DELETE /api/3/contacts/{id}                       200 {} | 404 (already gone)
    GET    /api/3/contacts/{id}/contactLists          {"contactLists": [...]}
    POST   /api/3/contactLists                        {"contactList": {"list", "contact", "status"}}
    POST   /api/3/contacts                            {"contact": {...}} (seeding, and a sign-up)
    POST   /api/3/contact/sync                        {"contact": {...}}: created (201) or updated (200)

`ACTIVECAMPAIGN_FAKE_API_TOKEN` is the token it accepts. Tests steer it through `app.state.fake`
(`FakeState`): answers to give next (a 503, a 429 with its Retry-After), a delay, the requests seen per
second."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse

RATE = 5  # requests per second per account (developers.activecampaign.com: rate limits)


@dataclass
class FakeState:
    token: str
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (contact, list)
    next_answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)  # forced answers, in order
    delay: float = 0.0  # seconds before each answer (a slow API)
    enforce_rate: bool = True
    per_second: Counter[int] = field(default_factory=Counter)
    first_at: float | None = None  # time.time() of the first request accepted, and of the last
    last_at: float | None = None  # requests accepted per wall-clock second
    refused: int = 0  # answered 429 for going over the rate
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    _window: deque[float] = field(default_factory=deque)
    _ids: int = 100

    def new_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def over_rate(self) -> bool:
        """A sliding second: more than RATE requests in the last second is over the limit."""
        now = time.monotonic()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= RATE:
            return True
        self._window.append(now)
        return False

    def add(self, email: str, first: str = "", last: str = "", lists: tuple[str, ...] = ()) -> str:
        cid = self.new_id()
        self.contacts[cid] = {
            "id": cid,
            "email": email,
            "firstName": first,
            "lastName": last,
            "phone": "",
            "cdate": "2026-01-05T10:00:00-06:00",
            "udate": "2026-01-05T10:00:00-06:00",
            "links": {
                "contactLists": f"/api/3/contacts/{cid}/contactLists",
                "fieldValues": f"/api/3/contacts/{cid}/fieldValues",
            },
        }
        for lst in lists:
            self.memberships[(cid, lst)] = {"contact": cid, "list": lst, "status": "1", "id": self.new_id()}
        return cid

    def subscribed(self, email: str) -> dict[str, str]:
        """list -> status ("1" subscribed, "2" unsubscribed) of the contact with this address."""
        ids = [c["id"] for c in self.contacts.values() if c["email"].lower() == email.lower()]
        return {lst: m["status"] for (cid, lst), m in self.memberships.items() if cid in ids}


def _message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status, headers=headers)


def create(token: str | None = None, *, seed: bool = False) -> FastAPI:
    state = FakeState(token or os.environ.get("ACTIVECAMPAIGN_FAKE_API_TOKEN", "dev-activecampaign-token"))
    if seed:
        state.add("nieuwsbrief@example.nl", "Nina", "Nieuwsbrief", lists=("1",))
        state.add("lead@example.nl", "Lars", "Lead", lists=("2",))
    app = FastAPI(title="ActiveCampaign API v3 (local fake)", docs_url=None, redoc_url=None)
    app.state.fake = state

    @app.get("/")
    async def overview() -> dict[str, Any]:
        """Not ActiveCampaign's: what this fake holds now, for a newcomer's browser (fictitious people)."""
        lists: dict[str, dict[str, str]] = {cid: {} for cid in state.contacts}
        for (cid, lst), m in state.memberships.items():
            lists.setdefault(cid, {})[lst] = "subscribed" if m["status"] == "1" else "unsubscribed"
        people = [{"email": c["email"], "lists": lists.get(cid, {})} for cid, c in state.contacts.items()]
        return {"contacts": people, "most_requests_in_one_second": max(state.per_second.values(), default=0)}

    @app.middleware("http")
    async def account(request: Request, call_next: Any) -> Any:
        if request.url.path == "/":
            return await call_next(request)
        state.seen.append((request.method, request.url.path))
        if state.delay:
            await asyncio.sleep(state.delay)
        if request.headers.get("api-token") != state.token:
            return _message(403, "You are not authorized to access this API")
        if state.enforce_rate and state.over_rate():
            state.refused += 1
            return _message(429, "Too Many Requests", {"retry-after": "1"})
        state.per_second[int(time.time())] += 1
        state.first_at, state.last_at = state.first_at or time.time(), time.time()
        if state.next_answers:
            status, headers = state.next_answers.popleft()
            return _message(status, "Forced answer of the fake", headers)
        return await call_next(request)

    @app.get("/api/3/contacts")
    async def contacts(
        email: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        found = [c for c in state.contacts.values() if email is None or c["email"].lower() == email.lower()]
        return {"contacts": found[offset : offset + limit], "meta": {"total": str(len(found))}}

    @app.post("/api/3/contacts", status_code=201)
    async def create_contact(body: Annotated[dict[str, Any], Body()]) -> Any:
        given = body.get("contact") or {}
        if not given.get("email"):
            return JSONResponse(
                {"errors": [{"title": "Email is required", "source": {"pointer": "/data/attributes/email"}}]}, 422
            )
        cid = state.add(given["email"], given.get("firstName", ""), given.get("lastName", ""))
        return {"contact": state.contacts[cid]}

    @app.post("/api/3/contact/sync")
    async def sync(body: Annotated[dict[str, Any], Body()]) -> Any:
        """Create the contact, or update the one with this address."""
        given = body.get("contact") or {}
        email = str(given.get("email") or "")
        if "@" not in email:
            return JSONResponse({"errors": [{"title": "Email is required", "code": "field_missing"}]}, 422)
        known = next((c for c in state.contacts.values() if c["email"].lower() == email.lower()), None)
        if known is None:
            cid = state.add(email, given.get("firstName", ""), given.get("lastName", ""))
            return JSONResponse({"contact": state.contacts[cid]}, 201)
        known.update({k: v for k, v in given.items() if k in ("firstName", "lastName", "phone")})
        return {"contact": known}

    @app.get("/api/3/contacts/{cid}")
    async def contact(cid: Annotated[str, Path()]) -> Any:
        if cid not in state.contacts:
            return _message(404, "No Result found for Subscriber with id " + cid)
        return {"contact": state.contacts[cid]}

    @app.put("/api/3/contacts/{cid}")
    async def update(cid: Annotated[str, Path()], body: Annotated[dict[str, Any], Body()]) -> Any:
        if cid not in state.contacts:
            return _message(404, "No Result found for Subscriber with id " + cid)
        given = {
            k: v for k, v in (body.get("contact") or {}).items() if k in ("email", "firstName", "lastName", "phone")
        }
        state.contacts[cid].update(given)
        return {"contact": state.contacts[cid]}

    @app.delete("/api/3/contacts/{cid}")
    async def delete(cid: Annotated[str, Path()]) -> Any:
        if state.contacts.pop(cid, None) is None:
            return _message(404, "No Result found for Subscriber with id " + cid)
        for key in [k for k in state.memberships if k[0] == cid]:
            del state.memberships[key]
        return {}

    @app.get("/api/3/contacts/{cid}/contactLists")
    async def lists_of(cid: Annotated[str, Path()]) -> Any:
        if cid not in state.contacts:
            return _message(404, "No Result found for Subscriber with id " + cid)
        return {"contactLists": [m for (c, _), m in state.memberships.items() if c == cid]}

    @app.post("/api/3/contactLists")
    async def membership(body: Annotated[dict[str, Any], Body()]) -> Any:
        given = body.get("contactList") or {}
        cid, lst, status = str(given.get("contact", "")), str(given.get("list", "")), str(given.get("status", ""))
        if cid not in state.contacts:
            return JSONResponse({"errors": [{"title": "The related contact does not exist."}]}, 422)
        if status not in ("1", "2"):
            return JSONResponse({"errors": [{"title": "status must be 1 (active) or 2 (unsubscribed)"}]}, 422)
        row = state.memberships.setdefault((cid, lst), {"contact": cid, "list": lst, "id": state.new_id()})
        row["status"] = status
        return {"contactList": row}

    return app


def seeded() -> FastAPI:
    """For `make run`: a few people in it, one of them the demo site's newsletter subscriber."""
    return create(seed=True)
