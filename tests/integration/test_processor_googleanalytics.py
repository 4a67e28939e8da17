"""Google Analytics through its definition, against a local Admin API (user deletion by client id, Google's
OAuth2 token endpoint): an erasure submits a deletion for every client id consent recorded for the person and
keeps when Google received it and when it is due (63 days on); without a client id the outcome says that GA
could not be asked; access and rectification say its API offers neither; a replayed id is kept once; 429 and
503 are retried; a revoked grant needs authorisation; the dsar answer names the submission."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.common.contracts import AnalyticsIdRecorded, DataSubjectRequestStarted, RequestKind, seal_fragment
from services.fakes import googleanalytics
from services.processors import service, worker
from services.processors.context import ProcessorsContext
from services.processors.engine import Status
from tests.conftest import build_app, eventually, running, serve

PROPERTY = "123456789"


@pytest.fixture
async def setup(make_settings: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    fake_app = googleanalytics.create("ga-test.apps.example", "ga-test-secret", "1//ga-test-refresh")
    async with serve(fake_app) as url:
        for name, value in {
            "BASE_URL": url,
            "CLIENT_ID": "ga-test.apps.example",
            "CLIENT_SECRET": "ga-test-secret",
            "REFRESH_TOKEN": "1//ga-test-refresh",
            "PROPERTY": PROPERTY,
        }.items():
            monkeypatch.setenv(f"PROCESSORS_GOOGLEANALYTICS_{name}", value)
        settings = make_settings("processors", db_url, relay_enabled=False, consumers_enabled=False)
        settings = settings.model_copy(update={"work_interval_seconds": 0.05})
        app = build_app("processors", settings)
        async with running(app) as client:
            yield ProcessorsContext.of(app.state.runtime), client, fake_app.state.fake


async def recorded(ctx: ProcessorsContext, email: str, client_id: str) -> bool:
    """What consent publishes when a browser of the person presents its _ga client id."""
    rt = ctx.rt
    record_id = "ga_" + uuid.uuid4().hex[:24]
    event = AnalyticsIdRecorded(
        subject=rt.recorder.pseudonym(email),
        record_id=record_id,
        contact=seal_fragment(rt.sealing, record_id, {"ga_client_id": client_id}),
    )
    async with rt.db.transaction() as s:
        return await service.keep_identifier(ctx, s, event)


async def request(ctx: ProcessorsContext, email: str, kind: RequestKind) -> str:
    rt = ctx.rt
    request_id = "dsr_ga_" + uuid.uuid4().hex[:12]
    started = DataSubjectRequestStarted(
        request_id=request_id,
        kind=kind,
        subject=rt.recorder.pseudonym(email),
        deadline=datetime.now(UTC) + timedelta(days=30),
        contact=seal_fragment(rt.sealing, request_id, {"email": email, "language": "nl"}),
    )
    async with rt.db.transaction() as s:
        await service.open_request(ctx, s, started)
    return request_id


async def ga_task(ctx: ProcessorsContext, request_id: str) -> dict[str, Any]:
    async with ctx.rt.db.read() as s:
        row = (
            (
                await s.execute(
                    text("SELECT * FROM processor_tasks WHERE request_id = :r AND processor = 'googleanalytics'"),
                    {"r": request_id},
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


async def settled(ctx: ProcessorsContext, request_id: str) -> dict[str, Any]:
    async def done() -> Any:
        await worker.run_due(ctx)
        task = await ga_task(ctx, request_id)
        return task if task["state"] not in ("waiting", "needs_authorisation") else None

    return await eventually(done, within=30)


async def test_an_erasure_submits_every_recorded_client_id_and_keeps_when_it_is_due(setup: Any) -> None:
    ctx, _client, fake = setup
    email = "analytics@example.nl"
    assert await recorded(ctx, email, "1111111111.1733400000")
    assert await recorded(ctx, email, "2222222222.1733500000")
    assert not await recorded(ctx, email, "1111111111.1733400000"), "a replay, or a link again: kept once"
    fake.failing = 1  # Google unavailable once: retried
    request_id = await request(ctx, email, RequestKind.ERASURE)
    task = await settled(ctx, request_id)
    assert task["state"] == "submitted", task["outcome"]
    assert {d["clientId"] for d in fake.deletions} == {"1111111111.1733400000", "2222222222.1733500000"}
    assert all(d["property"] == PROPERTY for d in fake.deletions)
    received = max(d["at"] for d in fake.deletions)
    due = task["due_at"] if isinstance(task["due_at"], datetime) else datetime.fromisoformat(task["due_at"])
    due = due if due.tzinfo else due.replace(tzinfo=UTC)  # SQLite's text
    assert abs(due - (received + timedelta(days=63))) < timedelta(seconds=2)
    assert f"due by {due:%Y-%m-%d}" in task["outcome"] and "Google Analytics: erasure submitted" in task["outcome"]
    calls = json.loads(task["calls"])
    assert ["POST", "/v1alpha/properties/{options.property}:submitUserDeletion", 503] in calls, "no id in a call"
    assert fake.refused == 0


async def test_without_a_client_id_the_outcome_says_google_analytics_could_not_be_asked(setup: Any) -> None:
    ctx, _client, fake = setup
    request_id = await request(ctx, "never-tracked@example.nl", RequestKind.ERASURE)
    task = await ga_task(ctx, request_id)
    assert task["state"] == "unidentified" and fake.deletions == []
    assert "no Google Analytics client id" in task["outcome"] and "finds no one by an address" in task["outcome"]
    access = await ga_task(ctx, await request(ctx, "never-tracked@example.nl", RequestKind.ACCESS))
    assert access["state"] == "no_api" and "offers no access" in access["outcome"]


async def test_a_revoked_grant_needs_authorisation(setup: Any) -> None:
    ctx, _client, fake = setup
    fake.revoked = True
    email = "revoked@example.nl"
    await recorded(ctx, email, "3333333333.1733600000")
    request_id = await request(ctx, email, RequestKind.ERASURE)

    async def waiting() -> Any:
        await worker.run_due(ctx)
        return (await ga_task(ctx, request_id))["state"] == "needs_authorisation"

    await eventually(waiting, within=20)
    assert fake.deletions == []
    engine = ctx.engine("googleanalytics")
    assert engine is not None
    result = await engine.run("erasure", {"email": email, "ids": {"ga_client_id": ["3"]}, "options": {}})
    assert result.status is Status.NEEDS_AUTHORISATION
