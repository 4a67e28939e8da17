"""A local stand-in for Gravity Forms' REST API v2 on a WordPress site, for tests and `make run`: the documented
paths under `/wp-json/gf/v2/`, Basic authentication (an API key and secret, or a WordPress application
password), entries searched with `field_filters`, and DELETE that only moves an entry to the trash unless
`force=1`. Errors as WordPress's REST API gives them (`{"code", "message", "data": {"status"}}`). Fictitious
entries only.

    GET    /wp-json/gf/v2/entries?search={"field_filters": [...]}   {"total_count": n, "entries": [...]}
    GET    /wp-json/gf/v2/entries/{id}                             an entry | 404
    DELETE /wp-json/gf/v2/entries/{id}[?force=1]                   trashed, or deleted for good | 404"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse


@dataclass
class FakeState:
    user: str
    password: str
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    trashed: set[str] = field(default_factory=set)
    per_second: Counter[int] = field(default_factory=Counter)
    _ids: int = 0

    def add(self, email: str, first: str, last: str, message: str, form_id: str = "1") -> str:
        self._ids += 1
        eid = str(self._ids)
        self.entries[eid] = {
            "id": eid,
            "form_id": form_id,
            "date_created": "2026-04-12 09:30:00",
            "status": "active",
            "source_url": "https://www.jezaakvoorelkaar.nl/contact",
            "ip": "198.51.100.23",
            "1.3": first,
            "1.6": last,
            "2": email,
            "3": message,
        }
        return eid

    def held_for(self, email: str) -> list[str]:
        return [e["id"] for e in self.entries.values() if e["2"].lower() == email.lower()]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status}}, status_code=status)


def create(user: str = "", password: str = "") -> FastAPI:
    state = FakeState(
        user or os.environ.get("GRAVITYFORMS_FAKE_USER", "ck_dev"),
        password or os.environ.get("GRAVITYFORMS_FAKE_PASSWORD", "cs_dev_fake"),
    )
    app = FastAPI(title="Gravity Forms REST API v2 (local fake)", docs_url=None, redoc_url=None)
    app.state.fake = state

    @app.middleware("http")
    async def basic(request: Request, call_next: Any) -> Any:
        given = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{state.user}:{state.password}".encode()).decode()
        if given != expected:
            return _error(401, "gf_rest_unauthorized", "Sorry, you are not allowed to do that.")
        state.per_second[int(time.time())] += 1
        return await call_next(request)

    @app.get("/wp-json/gf/v2/entries")
    async def entries(search: Annotated[str, Query()] = "") -> Any:
        try:
            filters = json.loads(search).get("field_filters", []) if search else []
        except (ValueError, AttributeError):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): search")
        found = [
            e
            for e in state.entries.values()
            if all(str(e.get(str(f.get("key")), "")).lower() == str(f.get("value", "")).lower() for f in filters)
        ]
        return {"total_count": len(found), "entries": found}

    @app.get("/wp-json/gf/v2/entries/{eid}")
    async def entry(eid: str) -> Any:
        found = state.entries.get(eid)
        return found if found else _error(404, "not_found", "Entry not found")

    @app.delete("/wp-json/gf/v2/entries/{eid}")
    async def delete(eid: str, force: Annotated[int, Query()] = 0) -> Any:
        found = state.entries.get(eid)
        if found is None:
            return _error(404, "not_found", "Entry not found")
        if not force:  # only to the trash: still held
            found["status"] = "trash"
            state.trashed.add(eid)
            return found
        del state.entries[eid]
        return {"deleted": True, "previous": found}

    return app


def seeded() -> FastAPI:
    """For `make run`: the demo site's newsletter subscriber once used the contact form."""
    app = create()
    app.state.fake.add("nieuwsbrief@example.nl", "Nina", "Nieuwsbrief", "Kunnen jullie mij terugbellen?")
    return app
