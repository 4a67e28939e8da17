"""bulk_insert and Database.unit: the group commit's writer (one unnest statement on PostgreSQL, SQLAlchemy
on SQLite) inserts, skips duplicates, upserts, stays inside the caller's transaction and refuses unknown
columns; a unit reads its own writes, rolls back whole and wakes the relays only after a commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import bulk_insert
from services.common.db import Database
from services.common.models import UtcDateTime

META = MetaData()
ITEMS = Table(
    "bulk_items",
    META,
    Column("id", String(20), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
)

VALUES = Table(
    "bulk_values",
    META,
    Column("id", Integer, primary_key=True),
    Column("big", BigInteger, nullable=True),
    Column("blob", LargeBinary, nullable=True),
    Column("flag", Boolean, nullable=True),
    Column("naive", DateTime(timezone=False), nullable=True),
    Column("at", UtcDateTime(), nullable=True),
    Column("body", Text, nullable=True),
)
DOCUMENTS = Table("bulk_documents", META, Column("id", Integer, primary_key=True), Column("doc", JSON))


class Boom(Exception):
    pass


async def rows(s: AsyncSession) -> dict[str, tuple[str, datetime]]:
    result = await s.execute(select(ITEMS.c.id, ITEMS.c.state, ITEMS.c.changed_at))
    return {i: (state, at) for i, state, at in result}


async def test_insert_skip_upsert_and_rollback(db_url: str) -> None:
    db = Database(db_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(META.create_all)
    t0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    t1 = datetime(2026, 2, 1, tzinfo=UTC)
    try:
        async with db.transaction() as s:
            await bulk_insert(s, ITEMS, [{"id": "a", "state": "granted", "changed_at": t0}])
            await bulk_insert(s, ITEMS, [{"id": f"n{i}", "state": "denied", "changed_at": t0} for i in range(300)])
        async with db.transaction() as s:
            # duplicates skipped: the stored row keeps its values
            await bulk_insert(
                s,
                ITEMS,
                [{"id": "a", "state": "x", "changed_at": t1}, {"id": "b", "state": "granted", "changed_at": t1}],
                on_conflict=("id",),
            )
        async with db.read() as s:
            stored = await rows(s)
        assert len(stored) == 302
        assert stored["a"] == ("granted", t0)  # microseconds and zone kept on both backends
        assert stored["b"] == ("granted", t1)

        async with db.transaction() as s:
            await bulk_insert(
                s, ITEMS, [{"id": "a", "state": "withdrawn", "changed_at": t1}], on_conflict=("id",), update=("state",)
            )
        async with db.read() as s:
            assert (await rows(s))["a"] == ("withdrawn", t0)  # only the named column changed

        # the first statement of a transaction that fails: nothing of it stays (it ran inside the transaction)
        with pytest.raises(Boom):
            async with db.transaction() as s:
                await bulk_insert(s, ITEMS, [{"id": "c", "state": "granted", "changed_at": t1}])
                raise Boom
        async with db.read() as s:
            assert "c" not in await rows(s)

        with pytest.raises(ValueError, match="no column"):
            async with db.transaction() as s:
                await bulk_insert(s, ITEMS, [{"id": "d", "state": "granted", "changed_at": t1, "evil": "1"}])
        async with db.transaction() as s:
            await bulk_insert(s, ITEMS, [])  # nothing to do is not an error
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(META.drop_all)
        await db.dispose()


async def test_unit_reads_writes_commits_and_rolls_back(db_url: str) -> None:
    """`Database.unit` (asyncpg itself on PostgreSQL, a session on SQLite): the hot paths' reads see the
    unit's own writes, a raising block leaves nothing, and the relays are woken only after a commit that
    queued outbox rows."""
    db = Database(db_url)
    woken: list[str] = []
    db.commit_hooks.append(lambda: woken.append("wake"))
    async with db.engine.begin() as conn:
        await conn.run_sync(META.create_all)
    t0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    try:
        async with db.unit() as tx:
            await bulk_insert(tx, ITEMS, [{"id": f"u{i}", "state": "granted", "changed_at": t0} for i in range(5)])
            found = await tx.rows_in(ITEMS, ("id", "state"), "id", {"u1", "u3", "nope"})
            assert sorted(tuple(r) for r in found) == [("u1", "granted"), ("u3", "granted")]
            assert tuple(await tx.row_for_update(ITEMS, ("state", "changed_at"), "id", "u2")) == ("granted", t0)
            with pytest.raises(LookupError, match="no row"):
                await tx.row_for_update(ITEMS, ("state",), "id", "nope")
        assert woken == [], "nothing queued for the relays"

        with pytest.raises(Boom):
            async with db.unit() as tx:
                await bulk_insert(tx, ITEMS, [{"id": "gone", "state": "granted", "changed_at": t0}])
                tx.wake()
                raise Boom
        assert woken == [], "a rolled-back unit wakes nobody"

        async with db.unit() as tx:
            assert await tx.rows_in(ITEMS, ("id",), "id", ["gone"]) == []
            with pytest.raises(ValueError, match="no column"):
                await tx.rows_in(ITEMS, ("id", "evil; drop"), "id", ["u1"])
            tx.wake()
        assert woken == ["wake"]
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(META.drop_all)
        await db.dispose()


async def test_cancelled_units_give_their_connections_back(pg_url: str) -> None:
    """Requests cancelled at any point of a unit (beginning, working, committing) return its connection:
    the pool (4 connections) still serves, and closing does not wait for one that never comes back."""
    import asyncio
    import random

    db = Database(pg_url)

    async def one() -> None:
        async with db.unit() as tx:
            await (await tx.driver()).fetchval("SELECT pg_sleep(0.005)")

    for _ in range(4):
        tasks = [asyncio.ensure_future(one()) for _ in range(40)]
        await asyncio.sleep(random.uniform(0, 0.01))
        for task in tasks:
            task.cancel()
            await asyncio.sleep(random.uniform(0, 0.0005))
        await asyncio.gather(*tasks, return_exceptions=True)
    async with asyncio.timeout(10):  # with a leaked connection, acquiring would wait for ever
        for _ in range(8):
            await one()
    started = asyncio.get_running_loop().time()
    await db.dispose()
    assert asyncio.get_running_loop().time() - started < 5, "closing waited for a connection that never came back"


async def test_every_column_type_comes_back_as_it_was_written(db_url: str) -> None:
    """PostgreSQL reads a unit's rows as one JSON document per table: every type the stores write must
    come back exactly (bytes with every byte value, text that looks like JSON, bytea or an escape, the
    largest bigint, microseconds, NULL), and a JSON column, which would keep a string as a JSON string,
    is refused before anything is sent."""
    db = Database(db_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(META.create_all)
    at = datetime(2026, 12, 2, 23, 59, 59, 999999, tzinfo=UTC)
    written = [
        {
            "id": 1,
            "big": 2**63 - 1,
            "blob": bytes(range(256)),
            "flag": True,
            "naive": datetime(2026, 1, 2, 3, 4, 5, 6),
            "at": at,
            "body": 'é 😀 "quoted" \\x41 \\u0041 \n\t\x01 {"a": [1]} null',
        },
        {"id": 2, "big": -(2**63), "blob": b"", "flag": False, "naive": None, "at": None, "body": ""},
        {"id": 3, "big": None, "blob": None, "flag": None, "naive": None, "at": None, "body": None},
    ]
    try:
        async with db.transaction() as s:
            await bulk_insert(s, VALUES, written)
        async with db.read() as s:
            stored = [dict(r._mapping) for r in await s.execute(select(VALUES).order_by(VALUES.c.id))]
        assert stored == written
        with pytest.raises(TypeError, match=r"bulk_documents\.doc: a unit writes plain values"):
            async with db.transaction() as s:
                await bulk_insert(s, DOCUMENTS, [{"id": 1, "doc": '{"a": 1}'}])
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(META.drop_all)
        await db.dispose()
