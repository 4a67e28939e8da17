"""GravityForms through its definition, against a local Gravity Forms REST API v2 (Basic auth, entries found by
the form's email field, DELETE that only trashes without force=1): access shows every field of the person's
entries, an erasure deletes them for good (never only to the trash), a second finds nothing, and the
credentials reach no log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.fakes import gravityforms
from services.processors import connectors, hooks, purposes
from services.processors.engine import Credentials, Engine, Status
from tests.conftest import serve

SECRET = "cs_gf_test_secret_91"


@pytest.fixture
async def forms() -> AsyncIterator[tuple[Any, Engine]]:
    app = gravityforms.create("ck_gf_test", SECRET)
    async with serve(app) as url, httpx.AsyncClient() as client:
        c = connectors.load(purposes.load().processors)["gravityforms"]
        credentials = Credentials({"username": "ck_gf_test", "password": SECRET})
        yield app.state.fake, Engine(c, url, credentials, client=client)


def person(email: str, engine: Engine) -> dict[str, Any]:
    """What the worker hands the engine: the address, the site's options, through the connector's hook."""
    return hooks.HOOKS["gravityforms_search"]({"email": email, "options": engine.connector.options})


async def test_access_and_erasure_for_good(forms: Any, caplog: Any) -> None:
    fake, engine = forms
    caplog.set_level(logging.DEBUG)
    fake.add("klant@example.nl", "Kim", "Klant", "Bel me terug")
    fake.add("klant@example.nl", "Kim", "Klant", "Nog een vraag", form_id="2")
    fake.add("ander@example.nl", "Ad", "Ander", "Iets anders")
    seen = await engine.run("access", person("Klant@example.nl", engine))
    assert seen.status is Status.DONE, seen.why
    assert sorted(r["records"][0]["message"] for r in seen.data) == ["Bel me terug", "Nog een vraag"]
    assert seen.data[0]["records"][0]["first_name"] == "Kim", "the form's field ids named (rename)"
    erased = await engine.run("erasure", person("klant@example.nl", engine))
    assert erased.status is Status.DONE and fake.held_for("klant@example.nl") == [] and not fake.trashed
    assert [c[:2] for c in erased.calls].count(("DELETE", "/wp-json/gf/v2/entries/{id}")) == 2
    assert fake.held_for("ander@example.nl"), "only that person's entries"
    again = await engine.run("erasure", person("klant@example.nl", engine))
    assert again.status is Status.NOTHING_HELD
    assert SECRET not in caplog.text


async def test_refused_credentials_need_authorisation() -> None:
    app = gravityforms.create("ck_gf_test", SECRET)
    async with serve(app) as url, httpx.AsyncClient() as client:
        c = connectors.load(purposes.load().processors)["gravityforms"]
        engine = Engine(c, url, Credentials({"username": "ck_gf_test", "password": "wrong"}), client=client)
        result = await engine.run("access", person("a@example.nl", engine))
    assert result.status is Status.NEEDS_AUTHORISATION
