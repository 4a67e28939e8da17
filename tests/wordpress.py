"""The real WordPress that scripts/wordpress.sh runs (Debian's WordPress 6.1 on PHP 8.2 and MariaDB): its
connector settings, and a few calls the tests make as the site's administrator through the same REST API
(putting a person there, reading back what is left of them). Each test uses addresses of its own."""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT

PORT = int(os.environ.get("WORDPRESS_PORT", "8013"))


@dataclass(frozen=True)
class Site:
    env: dict[str, str]  # PROCESSORS_WORDPRESS_*: the connector's settings

    @property
    def url(self) -> str:
        return self.env["PROCESSORS_WORDPRESS_BASE_URL"]

    def client(self, password: str | None = None) -> httpx.AsyncClient:
        auth = (self.env["PROCESSORS_WORDPRESS_USERNAME"], password or self.env["PROCESSORS_WORDPRESS_PASSWORD"])
        return httpx.AsyncClient(base_url=self.url + "/wp-json/wp/v2", auth=auth, timeout=20)

    def configure(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    async def add_person(self, email: str, name: str, *, account: bool = True, comments: int = 1) -> dict[str, Any]:
        """A person at the site: an account (a subscriber) and comments on the first post, by their address."""
        first, _, last = name.partition(" ")
        made: dict[str, Any] = {"account": None, "comments": []}
        async with self.client() as wp:
            if account:
                login = "u" + uuid.uuid4().hex[:10]
                body = {"username": login, "email": email, "password": uuid.uuid4().hex, "name": name}
                r = await wp.post("/users", json={**body, "first_name": first, "last_name": last})
                assert r.status_code == 201, r.text
                made["account"] = r.json()["id"]
            for i in range(comments):
                body = {"post": 1, "author_name": name, "author_email": email, "content": f"Vraag {i + 1} van {name}"}
                r = await wp.post("/comments", json={**body, "status": "approved"})
                assert r.status_code == 201, r.text
                made["comments"].append(r.json()["id"])
        return made

    async def reset(self, email: str) -> None:
        """Nothing left of this address at the site (a test that uses a fixed address starts clean)."""
        held = await self.held(email)
        async with self.client() as wp:
            for c in held["comments"]:
                await wp.delete(f"/comments/{c['id']}", params={"force": "true"})
            for u in held["accounts"]:
                await wp.delete(f"/users/{u['id']}", params={"force": "true", "reassign": "1"})

    async def held(self, email: str) -> dict[str, list[dict[str, Any]]]:
        """What the site holds under this exact address, read as its administrator."""
        async with self.client() as wp:
            users = (await wp.get("/users", params={"search": email, "context": "edit"})).json()
            comments = (await wp.get("/comments", params={"author_email": email, "status": "any"})).json()
        return {"accounts": [u for u in users if u["email"].lower() == email.lower()], "comments": comments}


_site: Site | None = None


def site() -> Site:
    """The running site's settings (`make test` starts it: scripts/wordpress.sh start); fails when it is down."""
    global _site
    if _site is None:
        out = subprocess.run(
            [str(ROOT / "scripts/wordpress.sh"), "env"], capture_output=True, text=True, env={**os.environ}
        )
        env = {}
        for line in out.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            if name.startswith("PROCESSORS_WORDPRESS_"):
                env[name] = shlex.split(value)[0] if value else ""
        if out.returncode or not env:
            pytest.fail("WordPress is not running here; run scripts/wordpress.sh start (make infra does)")
        try:
            httpx.get(env["PROCESSORS_WORDPRESS_BASE_URL"] + "/wp-json/", timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            pytest.fail(f"WordPress does not answer ({exc!r}); run scripts/wordpress.sh start")
        _site = Site(env)
    return _site
