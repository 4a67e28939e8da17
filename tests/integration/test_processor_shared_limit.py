"""A processor's limit is per account: two workers (two runtimes on one database, as two processes or hosts
are) keep ActiveCampaign's 5 requests per second together, not 5 each (limits.py: one row of send times per
connector, taken in turn)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.fakes import activecampaign
from services.processors.context import ProcessorsContext
from services.processors.engine import Status
from tests.conftest import build_app, running, serve


async def test_two_workers_keep_one_limit(make_settings: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ac = activecampaign.create("shared-token")
    for i in range(10):
        ac.state.fake.add(f"s{i}@example.nl", lists=("1",))
    async with serve(ac) as url:
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", "shared-token")
        settings = make_settings("processors", db_url, relay_enabled=False, consumers_enabled=False)
        one, two = build_app("processors", settings), build_app("processors", settings)
        async with running(one), running(two):
            engines = [ProcessorsContext.of(app.state.runtime).engine("activecampaign") for app in (one, two)]
            assert engines[0] is not None and engines[1] is not None and engines[0] is not engines[1]
            runs = [
                engines[i % 2].run("access", {"email": f"s{i}@example.nl"})  # type: ignore[union-attr]
                for i in range(10)
            ]
            results = await asyncio.gather(*runs)
    assert all(r.status is Status.DONE for r in results), [r.why for r in results]
    assert ac.state.fake.refused == 0, "not one request over the account's limit"
    assert max(ac.state.fake.per_second.values()) <= 5 and sum(ac.state.fake.per_second.values()) == 30
