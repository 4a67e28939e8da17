"""The Alembic env.py body shared by the services: run on the connection the service hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `privacyctl migrate <service>` or at service start")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
