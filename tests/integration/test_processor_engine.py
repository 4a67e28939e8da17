"""The connector engine against a local ActiveCampaign that speaks API v3 over HTTP (services/fakes/
activecampaign.py): the definition's calls for access, erasure, rectification, unsubscribe and subscribe;
404 as done; 429 and 5xx with Retry-After; a slow API; a circuit; credentials refused; the rate limit kept
under load; and no credential in any log line."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.fakes import activecampaign
from services.processors import connectors, purposes
from services.processors.engine import Credentials, Engine, Status
from tests.conftest import serve

TOKEN = "ac-test-token-5b1e"


@pytest.fixture
async def ac() -> AsyncIterator[tuple[Any, str]]:
    app = activecampaign.create(TOKEN)
    async with serve(app) as url:
        yield app.state.fake, url


def definition() -> connectors.Connector:
    names = purposes.load().processors
    return connectors.load(names)["activecampaign"]


@pytest.fixture
async def engine(ac: tuple[Any, str]) -> AsyncIterator[Engine]:
    _fake, url = ac
    async with httpx.AsyncClient() as client:
        yield Engine(definition(), url, Credentials({"api_token": TOKEN}), client=client)


async def test_access_reads_what_the_definition_names(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    fake.add("anna@example.nl", "Anna", "de Vries", lists=("1", "2"))
    result = await engine.run("access", {"email": "Anna@example.nl"})
    assert result.status is Status.DONE, result.why
    contact, lists = result.data
    assert contact["label"] == "contact" and contact["records"][0]["firstName"] == "Anna"
    assert {r["list"] for r in lists["records"]} == {"1", "2"}
    assert [c[:2] for c in result.calls] == [
        ("GET", "/api/3/contacts"),
        ("GET", "/api/3/contacts/{id}"),
        ("GET", "/api/3/contacts/{id}/contactLists"),
    ], "what is kept of a call is its template, never a value"
    nobody = await engine.run("access", {"email": "niemand@example.nl"})
    assert nobody.status is Status.NOTHING_HELD and nobody.data == []


async def test_erasure_deletes_and_a_second_one_or_a_race_is_done(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    fake.add("weg@example.nl", "W", "Eg", lists=("1",))
    first, second = await asyncio.gather(
        engine.run("erasure", {"email": "weg@example.nl"}), engine.run("erasure", {"email": "weg@example.nl"})
    )
    assert {first.status, second.status} <= {Status.DONE, Status.NOTHING_HELD}, (first, second)
    assert fake.subscribed("weg@example.nl") == {} and not fake.contacts
    again = await engine.run("erasure", {"email": "weg@example.nl"})
    assert again.status is Status.NOTHING_HELD


async def test_a_delete_answered_404_counts_as_done(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    cid = fake.add("dubbel@example.nl")
    fake.next_answers.clear()
    # found, then gone before the DELETE arrives (another request erased it): 404 is done
    original = engine.client.request

    async def meanwhile(method: str, url: str, **kw: Any) -> httpx.Response:
        if method == "DELETE":
            fake.contacts.pop(cid, None)
        return await original(method, url, **kw)

    engine.client.request = meanwhile  # type: ignore[method-assign,assignment]
    result = await engine.run("erasure", {"email": "dubbel@example.nl"})
    assert result.status is Status.DONE and result.calls[-1] == ("DELETE", "/api/3/contacts/{id}", 404)


async def test_rectification_sends_only_the_corrected_fields(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    cid = fake.add("oud@example.nl", "Piet", "Oud")
    result = await engine.run("rectification", {"email": "oud@example.nl", "new": {"last_name": "Nieuw"}})
    assert result.status is Status.DONE
    assert fake.contacts[cid]["lastName"] == "Nieuw" and fake.contacts[cid]["firstName"] == "Piet"


async def test_unsubscribe_touches_the_mapped_lists_only_and_subscribe_creates(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    fake.add("lijst@example.nl", lists=("1", "2"))
    lists = engine.connector.lists["newsletter"]
    result = await engine.run("unsubscribe", {"email": "lijst@example.nl", "lists": list(lists)})
    assert result.status is Status.DONE
    assert fake.subscribed("lijst@example.nl") == {"1": "2", "2": "1"}, "the newsletter's list only"
    new = await engine.run("subscribe", {"email": "nieuw@example.nl", "lists": list(lists)})
    assert new.status is Status.DONE and fake.subscribed("nieuw@example.nl") == {"1": "1"}


async def test_429_and_5xx_are_retried_as_told(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    fake.add("druk@example.nl")
    fake.next_answers.extend([(429, {"retry-after": "1"}), (503, {}), (502, {})])
    started = time.monotonic()
    result = await engine.run("access", {"email": "druk@example.nl"})
    assert result.status is Status.DONE, result.why
    assert [c[2] for c in result.calls[:4]] == [429, 503, 502, 200]
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was honoured"


async def test_a_long_retry_after_leaves_the_task_for_later(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    fake.next_answers.append((429, {"retry-after": "120"}))
    result = await engine.run("access", {"email": "later@example.nl"})
    assert result.status is Status.RETRY and result.retry_at is not None
    assert 110 < result.retry_at - time.time() <= 121


async def test_a_slow_api_times_out_and_the_circuit_opens(ac: Any) -> None:
    fake, url = ac
    fake.delay = 1.0
    slow = connectors.parse({**_raw(), "timeout_seconds": 0.2}, purposes.load().processors)
    async with httpx.AsyncClient() as client:
        engine = Engine(slow, url, Credentials({"api_token": TOKEN}), client=client, attempts=2, longest_wait=0.5)
        engine.circuit.failures = 3
        first = await engine.run("access", {"email": "traag@example.nl"})
        assert first.status is Status.RETRY and "no answer within 0.2 s" in first.why
        second = await engine.run("access", {"email": "traag@example.nl"})
        assert second.status is Status.RETRY
        sent = len(fake.seen)
        third = await engine.run("access", {"email": "traag@example.nl"})
        assert third.status is Status.RETRY and "circuit open" in third.why and third.calls == []
        await asyncio.sleep(1.1)
        assert len(fake.seen) == sent, "nothing was sent while the circuit was open"


async def test_refused_credentials_need_authorisation(ac: Any) -> None:
    _fake, url = ac
    async with httpx.AsyncClient() as client:
        engine = Engine(definition(), url, Credentials({"api_token": "wrong"}), client=client)
        result = await engine.run("access", {"email": "a@example.nl"})
    assert result.status is Status.NEEDS_AUTHORISATION


async def test_the_rate_limit_is_kept_under_load(ac: Any, engine: Engine) -> None:
    fake, _ = ac
    for i in range(12):
        fake.add(f"veel{i}@example.nl", lists=("1",))
    results = await asyncio.gather(*(engine.run("access", {"email": f"veel{i}@example.nl"}) for i in range(12)))
    assert all(r.status is Status.DONE for r in results)
    assert fake.refused == 0, "not one request over ActiveCampaign's 5 per second"
    assert max(fake.per_second.values()) <= 5 and sum(fake.per_second.values()) == 36


async def test_no_credential_reaches_a_log_line(ac: Any, engine: Engine, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    await engine.run("access", {"email": "log@example.nl"})
    assert TOKEN not in caplog.text and TOKEN not in repr(engine.credentials)


def test_a_definition_that_cannot_work_stops_the_start() -> None:
    names = purposes.load().processors
    with pytest.raises(connectors.DefinitionError, match=r"no processor of purposes\.json"):
        connectors.parse({**_raw(), "name": "Acme"}, names)
    with pytest.raises(connectors.DefinitionError, match="unknown action"):
        connectors.parse({**_raw(), "actions": {"delete_everything": []}}, names)
    with pytest.raises(connectors.DefinitionError, match="says why"):
        connectors.parse({"key": "x", "name": "Zapier", "mode": "instructed"}, names)


def _raw() -> dict[str, Any]:
    import json

    return dict(json.loads((connectors.DEFINITIONS / "activecampaign.json").read_text()))
