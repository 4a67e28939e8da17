"""Issue 29, item 5 for the console: signing out ends the session on every worker, and a session ends
12 hours after signing in however busy it is. Two console processes share the console's database, as
several workers do; the thief replays a copied cookie on the other one."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import httpx

from services.common.auth import create_token
from services.console.main import create
from services.console.settings import ConsoleSettings
from tests.conftest import build_app, serve


def console(consent_url: str, database: Path, key: str) -> Any:
    return create(
        ConsoleSettings(
            session_key=key,
            consent_url=consent_url,
            dsar_url=consent_url,
            breach_url=consent_url,
            database_url=f"sqlite+aiosqlite:///{database}",
        )
    )


async def test_signing_out_ends_a_copied_console_cookie_on_every_worker(
    make_settings: Any, sqlite_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    consent = build_app("consent", make_settings("consent", sqlite_url))
    key = base64.b64encode(os.urandom(32)).decode()
    async with serve(consent) as consent_url:
        token = await create_token(consent.state.runtime.db, "Anna", ["dpo"])
        a, b = (console(consent_url, tmp_path / "console.db", key) for _ in range(2))
        async with serve(a) as url_a, serve(b) as url_b, httpx.AsyncClient(base_url=url_a) as person:
            r = await person.post("/sign-in", data={"token": token, "next": "/"})
            assert r.status_code == 303, r.text
            copied = person.cookies.get("console")
            async with httpx.AsyncClient(base_url=url_b, cookies={"console": copied}) as thief:
                assert (await thief.get("/processors")).status_code == 200, "the copy works while signed in"
                page = await person.get("/processors")
                csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                assert (await person.post("/sign-out", data={"csrf": csrf})).status_code == 303
                r = await thief.get("/processors")
                assert r.status_code == 303 and r.headers["location"].startswith("/sign-in"), "ended on worker b too"
            async with httpx.AsyncClient(base_url=url_a) as busy:
                assert (await busy.post("/sign-in", data={"token": token, "next": "/"})).status_code == 303
                assert (await busy.get("/processors")).status_code == 200
                later = time.time() + 12 * 3600 + 60
                monkeypatch.setattr("services.common.sessions.time.time", lambda: later)
                assert (await busy.get("/processors")).status_code == 303, "ended 12 hours after signing in"
