"""The PostgreSQL server the benchmarks run against: scripts/postgres.sh's, at the port it reads (`PGPORT`),
so that one variable points every benchmark at another server (say, a durable one, `PG_DURABLE=1`)."""

from __future__ import annotations

import os

import asyncpg

PG = f"127.0.0.1:{os.environ.get('PGPORT', '5432')}"


def url(database: str, driver: str = "postgresql+asyncpg") -> str:
    """The benchmark role's URL of `database` (`driver` "postgresql" for asyncpg itself)."""
    return f"{driver}://privacy:privacy@{PG}/{database}"


ADMIN = url("postgres", "postgresql")


async def analyze(database: str) -> None:
    """Table statistics as autovacuum keeps them in a running system. A database created a moment ago
    has none: PostgreSQL then plans the lookups by subject as sequential scans, asyncpg's prepared
    statements keep those plans until the next ANALYZE, and the run would measure a table scan per
    batch that no deployment older than a minute does."""
    conn = await asyncpg.connect(url(database, "postgresql"))
    await conn.execute("ANALYZE")
    await conn.close()


async def commits_flushed() -> str:
    """Whether the server flushes each commit to disk (what makes a write durable, and what the naive write
    waits for once per request while a group commit waits once per batch)."""
    admin = await asyncpg.connect(ADMIN)
    fsync = await admin.fetchval("SHOW fsync")
    synchronous = await admin.fetchval("SHOW synchronous_commit")
    await admin.close()
    if fsync == "on" and synchronous != "off":
        return f"commits flushed to disk (fsync on, synchronous_commit {synchronous})"
    return (
        f"commits NOT flushed to disk (fsync {fsync}, synchronous_commit {synchronous}); for a durable server:"
        " PGPORT=5433 PG_DURABLE=1 scripts/postgres.sh start"
    )
