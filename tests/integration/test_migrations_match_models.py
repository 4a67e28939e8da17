"""The models say what the migrations made: Alembic's autogenerate comparison of each service's models with a
database migrated from nothing finds no difference (tables, columns, types, indexes), on SQLite and on
PostgreSQL. A model changed without its migration, or a migration without its model, fails here."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlmodel import SQLModel

import services.common.ledger.tables
import services.common.mail
import services.common.models
from tests.conftest import build_app


def declared_in(module: ModuleType) -> list[Any]:
    return [
        obj.__table__
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, SQLModel) and hasattr(obj, "__table__")
        and obj.__module__ == module.__name__
    ]  # fmt: skip


def metadata_of(service: str) -> MetaData:
    """Every table the service's models declare: the common ones and its own."""
    metadata = MetaData()
    common = [services.common.models, services.common.mail, services.common.ledger.tables]
    modules = [*common, importlib.import_module(f"services.{service}.models")]
    for module in modules:
        for table in declared_in(module):
            table.to_metadata(metadata)
    return metadata


@pytest.mark.parametrize("service", ["consent", "dsar", "breach", "processors"])
async def test_the_models_and_the_migrated_schema_agree(service: str, make_settings: Any, db_url: str) -> None:
    runtime = build_app(service, make_settings(service, db_url)).state.runtime
    await runtime.db.migrate(runtime.migrations)
    expected = metadata_of(service)

    def compare(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, expected))

    engine = runtime.db.engine
    async with engine.connect() as connection:
        differences = await connection.run_sync(compare)
    await runtime.db.dispose()
    assert not differences, "\n".join(str(d) for d in differences)
