"""A unit's writes (services/common/bulk.py): many units' rows join one insert per table and shape, in order;
an upsert keeps the last row of a key and a skip the first; the store gets them once. And the store for a URL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table

from services.common.bulk import Writes
from services.common.db import store_for
from services.common.store import InsertRows, Store, Tx, UpdateRow

META = MetaData()
ITEMS = Table("items", META, Column("id", String, primary_key=True), Column("state", String))
LOG = Table("log", META, Column("id", String, primary_key=True), Column("line", String))


class Recording(Store):
    name = "recording"

    def __init__(self) -> None:  # no engine: only `execute` is called
        self.sent: list[list[InsertRows | UpdateRow]] = []

    async def execute(self, tx: Tx, parts: Any) -> None:
        self.sent.append(
            [
                InsertRows(p.table, list(p.rows), p.on_conflict, p.update) if isinstance(p, InsertRows) else p
                for p in parts
            ]
        )


async def test_units_join_one_insert_per_table_in_order() -> None:
    one, two, all_ = Writes(), Writes(), Writes()
    one.insert(LOG, [{"id": "1", "line": "a"}])
    one.insert(ITEMS, [{"id": "x", "state": "granted"}], on_conflict=("id",), update=("state",))
    two.insert(LOG, [{"id": "2", "line": "b"}])
    two.insert(
        ITEMS,
        [{"id": "x", "state": "withdrawn"}, {"id": "y", "state": "denied"}],
        on_conflict=("id",),
        update=("state",),
    )
    two.insert(ITEMS, [{"id": "y", "state": "ignored"}], on_conflict=("id",))  # skip duplicates: another shape
    two.update(ITEMS, {"id": "z"}, {"state": "expired"})
    all_.extend(one)
    all_.extend(two)
    store = Recording()
    await all_.execute(Tx(store))
    (sent,) = store.sent
    assert [type(p).__name__ for p in sent] == ["InsertRows", "InsertRows", "InsertRows", "UpdateRow"]
    log, upsert, skip, update = sent
    assert isinstance(log, InsertRows) and [r["id"] for r in log.rows] == ["1", "2"], "in the order given"
    assert isinstance(upsert, InsertRows) and upsert.rows == [
        {"id": "x", "state": "withdrawn"},
        {"id": "y", "state": "denied"},
    ], "one row per key, the last one wins"
    assert isinstance(skip, InsertRows) and skip.rows == [{"id": "y", "state": "ignored"}]
    assert isinstance(update, UpdateRow) and update.key == {"id": "z"}
    assert all_.parts == [], "sent once"
    await all_.execute(Tx(store))
    assert len(store.sent) == 1, "nothing left to send"


def test_rows_are_checked_against_the_table() -> None:
    with pytest.raises(ValueError, match="no column"):
        Writes().insert(ITEMS, [{"id": "x", "evil; drop": "1"}])


def test_a_url_names_its_store(tmp_path: Any) -> None:
    assert store_for(f"sqlite+aiosqlite:///{tmp_path}/a.db").name == "sqlite"
    assert store_for("postgresql+asyncpg://u:p@127.0.0.1:5432/db").name == "postgresql"
    with pytest.raises(ValueError, match="unsupported database URL 'mysql://u:\\*\\*\\*@h/db'"):
        store_for("mysql://u:secret@h/db")
