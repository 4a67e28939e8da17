"""WordPress through its definition, against a real WordPress (Debian's 6.1 on PHP 8.2 and MariaDB, started by
scripts/wordpress.sh) and its REST API with an application password: access shows the person's account and
comments (not those of a near-matching address), an erasure deletes the comments and the account for good
(its posts go to the site's administrator), a second finds nothing, two at once both count as done, a
rectification changes what WordPress holds, and refused credentials need authorisation again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.processors import connectors, purposes
from services.processors.engine import Credentials, Engine, Status
from tests import wordpress


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    site = wordpress.site()
    env = site.env
    c = connectors.load(purposes.load().processors)["wordpress"]
    creds = {"username": env["PROCESSORS_WORDPRESS_USERNAME"], "password": env["PROCESSORS_WORDPRESS_PASSWORD"]}
    async with httpx.AsyncClient() as client:
        yield Engine(c, site.url, Credentials(creds), client=client)


def person(engine: Engine, email: str, new: dict[str, str] | None = None) -> dict[str, Any]:
    """What the worker hands the engine: the address, a correction, the site's options."""
    reassign = wordpress.site().env["PROCESSORS_WORDPRESS_REASSIGN"]
    return {"email": email, "new": new or {}, "options": {**engine.connector.options, "reassign": reassign}}


def address(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.nl"


async def test_access_reads_the_account_and_the_comments_of_that_address_only(engine: Engine) -> None:
    site = wordpress.site()
    email = address("lotte")
    await site.add_person(email, "Lotte Jansen", comments=2)
    await site.add_person("x" + email, "Xander Jansen")  # WordPress's search finds it too: `*lotte...*`
    seen = await engine.run("access", person(engine, email.upper()))
    assert seen.status is Status.DONE, seen.why
    parts: dict[str, list[dict[str, Any]]] = {}
    for part in seen.data:  # a part per record read
        parts.setdefault(part["label"], []).extend(part["records"])
    assert [a["email"] for a in parts["account"]] == [email] and parts["account"][0]["first_name"] == "Lotte"
    assert sorted(c["content"] for c in parts["comment"]) == ["Vraag 1 van Lotte Jansen", "Vraag 2 van Lotte Jansen"]
    assert all(c["author_email"] == email for c in parts["comment"])
    nobody = await engine.run("access", person(engine, address("niemand")))
    assert nobody.status is Status.NOTHING_HELD


async def test_erasure_deletes_comments_and_account_for_good_and_again_finds_nothing(
    engine: Engine, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    site = wordpress.site()
    email, other = address("sanne"), address("sanne")
    await site.add_person(email, "Sanne de Boer", comments=2)
    await site.add_person(other, "Sanne Anders")
    only_comments = address("gast")
    await site.add_person(only_comments, "Gast Zonder Account", account=False)
    erased = await engine.run("erasure", person(engine, email))
    assert erased.status is Status.DONE, erased.why
    assert await site.held(email) == {"accounts": [], "comments": []}
    async with site.client() as wp:  # not in the trash either: gone
        assert (await wp.get("/comments", params={"status": "trash", "author_email": email})).json() == []
    held = await site.held(other)
    assert len(held["accounts"]) == 1 and len(held["comments"]) == 1, "only that person"
    again = await engine.run("erasure", person(engine, email))
    assert again.status is Status.NOTHING_HELD
    guest = await engine.run("erasure", person(engine, only_comments))
    assert guest.status is Status.DONE and await site.held(only_comments) == {"accounts": [], "comments": []}
    assert site.env["PROCESSORS_WORDPRESS_PASSWORD"] not in caplog.text


async def test_two_erasures_at_once_both_count_as_done(engine: Engine) -> None:
    site = wordpress.site()
    email = address("dubbel")
    await site.add_person(email, "Dubbel Verzoek", comments=3)
    first, second = await asyncio.gather(
        engine.run("erasure", person(engine, email)), engine.run("erasure", person(engine, email))
    )
    assert {first.status, second.status} <= {Status.DONE, Status.NOTHING_HELD}, (first.why, second.why)
    assert await site.held(email) == {"accounts": [], "comments": []}


async def test_rectification_changes_what_wordpress_holds(engine: Engine) -> None:
    site = wordpress.site()
    email, corrected = address("pieter"), address("pieter-nieuw")
    await site.add_person(email, "Pieter Jansen")
    fixed = await engine.run("rectification", person(engine, email, {"email": corrected, "name": "Pieter de Jong"}))
    assert fixed.status is Status.DONE, fixed.why
    assert await site.held(email) == {"accounts": [], "comments": []}
    held = await site.held(corrected)
    assert held["accounts"][0]["name"] == "Pieter de Jong"
    assert held["comments"][0]["author_name"] == "Pieter de Jong"


async def test_a_revoked_application_password_needs_authorisation() -> None:
    site = wordpress.site()
    c = connectors.load(purposes.load().processors)["wordpress"]
    creds = Credentials({"username": site.env["PROCESSORS_WORDPRESS_USERNAME"], "password": "revoked0revoked0revoked0"})
    async with httpx.AsyncClient() as client:
        result = await Engine(c, site.url, creds, client=client).run("access", {"email": address("a"), "options": {}})
    assert result.status is Status.NEEDS_AUTHORISATION
