"""Group commit: many concurrent captures share transactions, yet every record, ledger entry and event is
there once, the ledger verifies, and a failing item fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from services.common.auth import create_site_key
from services.common.batch import GroupCommit
from services.common.ledger.verify import verify_export
from tests.conftest import build_app, running
from tests.notices import NOTICE


async def test_concurrent_captures_are_batched_and_sound(make_settings: Any, db_url: str) -> None:
    app = build_app("consent", make_settings("consent", db_url, rate_limit_per_minute=100000, relay_enabled=False))
    rt = app.state.runtime
    async with running(app) as client:
        key = await create_site_key(rt.db, "w", ["https://www.example.nl"])

        async def one(i: int) -> Any:
            return await client.post(
                "/v1/consents",
                headers={"x-site-key": key},
                json={
                    "browser_id": f"b_group{i % 40:08d}",  # a refusal by a browser id is its own
                    "channel": "contact_form",
                    "notice": NOTICE,
                    "purposes": [{"purpose": "contact", "granted": i % 3 != 0}, {"purpose": "chat", "granted": True}],
                },
            )

        responses = await asyncio.gather(*(one(i) for i in range(200)))
        assert [r.status_code for r in responses] == [201] * 200
        seqs = [ref["seq"] for r in responses for ref in r.json()["receipt"]["ledger"]]
        assert sorted(seqs) == list(range(min(seqs), min(seqs) + 400)), "no gap, no double"
        commit = rt.extension.captures
        assert commit.items == 200 and commit.batches < 200, "requests shared transactions"
        async with rt.db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM consent_records"))).scalar_one() == 400
            assert (await s.execute(text("SELECT count(*) FROM consent_state"))).scalar_one() == 80
            assert (await s.execute(text("SELECT count(*) FROM subject_keys"))).scalar_one() == 40
            # 400 decisions + one state snapshot per subject per batch
            assert (await s.execute(text("SELECT count(*) FROM outbox"))).scalar_one() >= 440
        vkey = (await client.get("/ledger/public-key")).json()["vkey"]
        report = verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)
        assert report.entries == 400 + 1, "the decisions, and the form text put on file (tests/notices.py)"


async def test_a_failing_item_fails_alone(sqlite_url: str) -> None:
    from services.common.db import Database

    db = Database(sqlite_url)

    async def flush(_tx: Any, items: Any) -> list[int]:
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return [i * 2 for i in items]

    commit: GroupCommit[int] = GroupCommit(db, flush)
    results = await asyncio.gather(*(commit.submit(i) for i in (1, 2, -3, 4)), return_exceptions=True)
    assert results[:2] == [2, 4] and isinstance(results[2], ValueError) and results[3] == 8
    await commit.close()
    await db.dispose()


async def test_batches_overlap_but_never_share_a_subject(pg_url: str) -> None:
    """Two batches run at once (PostgreSQL: SQLite has one writer); items with the same key wait for the
    batch that holds it, in order."""
    from services.common.db import Database

    db = Database(pg_url)
    running: list[set[str]] = []
    seen: list[list[tuple[str, int]]] = []
    most_at_once = 0
    gate = asyncio.Event()

    async def flush(_tx: Any, items: Any) -> list[int]:
        nonlocal most_at_once
        keys = {k for k, _ in items}
        assert all(not (keys & other) for other in running), f"a subject in two running batches: {items} {running}"
        running.append(keys)
        most_at_once = max(most_at_once, len(running))
        seen.append(list(items))
        await gate.wait()
        running.remove(keys)
        return [n for _, n in items]

    commit: GroupCommit[tuple[str, int]] = GroupCommit(db, flush, in_flight=2, key=lambda item: item[0])
    items = [("a", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)]
    pending = asyncio.gather(*(commit.submit(i) for i in items))
    await asyncio.sleep(0.05)
    assert most_at_once == 2, "a second batch started while the first was still open"
    gate.set()
    assert await pending == [1, 2, 3, 4, 5]
    order_of_a = [n for batch in seen for k, n in batch if k == "a"]
    assert seen[:2] == [[("a", 1)], [("b", 3)]], "the second batch skipped the subject the first one holds"
    assert order_of_a == [1, 2, 5], "one subject's items are committed in the order they came"
    await commit.close()
    await db.dispose()


async def test_close_cancels_what_is_still_queued(sqlite_url: str) -> None:
    from services.common.db import Database

    db = Database(sqlite_url)
    forever = asyncio.Event()

    async def flush(_tx: Any, items: Any) -> list[int]:
        await forever.wait()
        return list(items)

    commit: GroupCommit[int] = GroupCommit(db, flush, in_flight=1)
    waiting = [asyncio.ensure_future(commit.submit(i)) for i in range(3)]
    await asyncio.sleep(0.05)
    await commit.close()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results), results
    await db.dispose()


async def test_captures_go_on_after_the_database_dropped_every_connection(make_settings: Any, pg_url: str) -> None:
    """PostgreSQL restarted or a proxy cut the connections: the next captures, sent at once, are committed
    as before. Each pooled connection fails at BEGIN, before anything ran, and `Database.unit` takes
    another (without that, 2 runs in 5 answered 500 here)."""
    import asyncpg

    app = build_app("consent", make_settings("consent", pg_url, rate_limit_per_minute=100000, relay_enabled=False))
    rt = app.state.runtime
    async with running(app) as client:
        key = await create_site_key(rt.db, "w", ["https://www.example.nl"])

        async def capture(i: int) -> Any:
            body = {
                "email": f"drop{i}@example.nl",
                "channel": "contact_form",
                "notice": NOTICE,
                "purposes": [{"purpose": "contact", "granted": True}],
            }
            return await client.post("/v1/consents", headers={"x-site-key": key}, json=body)

        assert [r.status_code for r in await asyncio.gather(*(capture(i) for i in range(20)))] == [201] * 20
        admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert killed >= 2, "the sessions' pool and the group commit's pool both had connections"
        after = await asyncio.gather(*(capture(i) for i in range(20, 40)))
        assert [r.status_code for r in after] == [201] * 20, [r.text[:200] for r in after if r.status_code != 201]
        async with rt.db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM consent_records"))).scalar_one() == 40
