"""TeamLeader through its definition, against a local Teamleader Focus whose OAuth2 refresh tokens rotate
(each refresh returns a new one and kills the old): the first call gets a token, an expired one is renewed
once, two refreshes at once renew once (the grant's row is locked; the second uses the first's token), a
revoked grant puts the connector in needs_authorisation until a person authorises it again, and the
tokens are stored sealed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.common.auth import create_token
from services.fakes import teamleader
from services.processors.context import ProcessorsContext
from services.processors.engine import Credentials, Engine, Status
from tests.conftest import build_app, running, serve


@pytest.fixture
async def setup(make_settings: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    fake_app = teamleader.create("tl-client-test", "tl-secret-test", "tl-refresh-first")
    async with serve(fake_app) as url:
        for name, value in {
            "BASE_URL": url,
            "CLIENT_ID": "tl-client-test",
            "CLIENT_SECRET": "tl-secret-test",
            "REFRESH_TOKEN": "tl-refresh-first",
        }.items():
            monkeypatch.setenv(f"PROCESSORS_TEAMLEADER_{name}", value)
        settings = make_settings("processors", db_url, relay_enabled=False, consumers_enabled=False)
        app = build_app("processors", settings)
        async with running(app) as client:
            yield app, client, fake_app.state.fake


def worker_engine(ctx: ProcessorsContext) -> Engine:
    """What another worker process holds: its own engine and credentials, the same database."""
    keeper = ctx.keeper("teamleader")
    assert keeper is not None
    credentials = Credentials(ctx.settings.credentials("teamleader"), refresh=keeper.refresh)
    return Engine(
        ctx.connectors["teamleader"], ctx.settings.base_url("teamleader"), credentials, client=httpx.AsyncClient()
    )


async def test_tokens_are_renewed_once_and_rotated(setup: Any) -> None:
    app, _client, fake = setup
    ctx = ProcessorsContext.of(app.state.runtime)
    fake.add("klant@example.nl", "Kees", "Klant")
    engine = ctx.engine("teamleader")
    assert engine is not None
    first = await engine.run("access", {"email": "klant@example.nl"})
    assert first.status is Status.DONE, first.why
    assert first.data[0]["records"][0]["last_name"] == "Klant" and fake.refreshes == 1
    again = await engine.run("access", {"email": "klant@example.nl"})
    assert again.status is Status.DONE and fake.refreshes == 1, "a valid token is reused"
    async with app.state.runtime.db.read() as s:
        stored = (await s.execute(text("SELECT refresh_token FROM oauth_grants"))).scalar_one()
    assert fake.refresh_token.encode() not in stored, "stored sealed"

    # expired everywhere: two workers meet a 401 at once; one refresh, the other uses its token
    fake.expire_access()
    other = worker_engine(ctx)
    one, two = await asyncio.gather(
        engine.run("access", {"email": "klant@example.nl"}), other.run("access", {"email": "klant@example.nl"})
    )
    assert one.status is Status.DONE and two.status is Status.DONE, (one.why, two.why)
    assert fake.refreshes == 2 and fake.refused_refreshes == 0, "renewed once; the rotated token never reused"
    await other.client.aclose()


async def test_a_revoked_grant_needs_authorisation_and_nothing_else_stops(setup: Any) -> None:
    app, client, fake = setup
    ctx = ProcessorsContext.of(app.state.runtime)
    fake.add("weg@example.nl", "Wim", "Weg")
    engine = ctx.engine("teamleader")
    assert engine is not None
    assert (await engine.run("access", {"email": "weg@example.nl"})).status is Status.DONE
    fake.revoked = True
    fake.expire_access()
    result = await engine.run("erasure", {"email": "weg@example.nl"})
    assert result.status is Status.NEEDS_AUTHORISATION
    staff = {"authorization": "Bearer " + await create_token(app.state.runtime.db, "dpo", ["dpo", "admin"])}
    connectors = (await client.get("/admin/connectors", headers=staff)).json()
    tl = next(c for c in connectors if c["key"] == "teamleader")
    assert tl["state"] == "needs_authorisation" and "authorise again" in tl["last_error"]
    assert next(c for c in connectors if c["key"] == "activecampaign")["state"] == "not_configured"

    # a person authorises again: a new grant from the authorization code flow
    fake.revoked = False
    fake.refresh_token = "tl-refresh-after-consent"
    body = {"refresh_token": "tl-refresh-after-consent"}
    assert (await client.put("/admin/connectors/teamleader/authorisation", json=body, headers=staff)).status_code == 200
    assert (await engine.run("erasure", {"email": "weg@example.nl"})).status is Status.DONE
    assert not fake.contacts
    wrong = await client.put("/admin/connectors/activecampaign/authorisation", json=body, headers=staff)
    assert wrong.status_code == 404, "only an OAuth2 connector is authorised so"
