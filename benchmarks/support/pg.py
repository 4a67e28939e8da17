"""The PostgreSQL server the benchmarks run against: scripts/postgres.sh's, at the port it reads (`PGPORT`),
so that one variable points every benchmark at another server (say, a durable one, `PG_DURABLE=1`)."""

from __future__ import annotations

import os

PG = f"127.0.0.1:{os.environ.get('PGPORT', '5432')}"


def url(database: str, driver: str = "postgresql+asyncpg") -> str:
    """The benchmark role's URL of `database` (`driver` "postgresql" for asyncpg itself)."""
    return f"{driver}://privacy:privacy@{PG}/{database}"


ADMIN = url("postgres", "postgresql")
