"""A restart in the middle of a fan-out loses and doubles nothing: tasks are rows. A worker that claimed tasks
and died leaves them claimed for PROCESSORS_TASK_CLAIM_SECONDS; then the next worker (another process, or the
same after its restart) takes them. Some of them it had already sent before it died: finding nothing there
any more, they end as nothing held, never as a second erasure."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.common.contracts import DataSubjectRequestStarted, RequestKind, seal_fragment
from services.fakes import activecampaign
from services.processors import service, worker
from services.processors.context import ProcessorsContext
from tests.conftest import build_app, running, serve


@pytest.mark.parametrize("people", [20])
async def test_a_worker_dies_holding_claims_and_the_next_one_finishes(
    make_settings: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, people: int
) -> None:
    ac = activecampaign.create("restart-token")
    emails = [f"r{i}@example.nl" for i in range(people)]
    for email in emails:
        ac.state.fake.add(email, lists=("1",))
    async with serve(ac) as url:
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", "restart-token")
        settings = dict(relay_enabled=False, consumers_enabled=False, task_claim_seconds=2, work_interval_seconds=3600)

        same = make_settings("processors", db_url, **settings)  # the same keys after the restart
        first = build_app("processors", same)

        async def idle(_ctx: Any, _now: Any = None) -> int:
            return 0

        monkeypatch.setattr(worker, "run_due", idle)  # the first process's own loop stays out of the way
        async with running(first):
            rt = first.state.runtime
            ctx = ProcessorsContext.of(rt)
            async with rt.db.transaction() as s:
                for i, email in enumerate(emails):
                    request_id = f"dsr_restart_{i:04d}"
                    await service.open_request(
                        ctx,
                        s,
                        DataSubjectRequestStarted(
                            request_id=request_id,
                            kind=RequestKind.ERASURE,
                            subject=rt.recorder.pseudonym(email),
                            deadline=datetime.now(UTC) + timedelta(days=30),
                            contact=seal_fragment(rt.sealing, request_id, {"email": email}),
                        ),
                    )
            claimed = await worker._claim(ctx, "activecampaign", datetime.now(UTC), 100)  # then it dies
            assert len(claimed) == people
        # it had sent five of its erasures before it died, but recorded none
        for email in emails[:5]:
            cid = next(c["id"] for c in ac.state.fake.contacts.values() if c["email"] == email)
            del ac.state.fake.contacts[cid]
        deletes_before = sum(1 for m, _ in ac.state.fake.seen if m == "DELETE")
        monkeypatch.undo()
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", "restart-token")

        second = build_app("processors", same)
        async with running(second):
            ctx = ProcessorsContext.of(second.state.runtime)
            left = await worker._drain(ctx, "activecampaign", None)
            assert left == 0, "claimed by a worker that may still be at it: left alone"
            await asyncio.sleep(2.2)
            assert await worker._drain(ctx, "activecampaign", None) == people
            async with second.state.runtime.db.read() as s:
                states = dict(
                    (
                        await s.execute(
                            text(
                                "SELECT state, count(*) FROM processor_tasks WHERE processor = 'activecampaign' "
                                "GROUP BY state"
                            )
                        )
                    ).all()
                )
                entries = (await s.execute(text("SELECT entry FROM ledger_entries"))).scalars().all()
        assert states == {"done": people - 5, "nothing_held": 5}, states
        assert not ac.state.fake.contacts, "every person erased"
        deletes = sum(1 for m, _ in ac.state.fake.seen if m == "DELETE") - deletes_before
        assert deletes == people - 5, "no second erasure of anyone"
        settled = [
            json.loads(e)["data"]["task_id"]
            for e in entries
            if json.loads(e)["type"].endswith("processors.task.settled")
            and json.loads(e)["data"]["processor"] == "activecampaign"
        ]
        assert len(settled) == len(set(settled)) == people, "each task's outcome recorded once"
