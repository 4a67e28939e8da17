"""Console sessions that were signed out of, shared by every worker and host of the console through a
database (SQLite by default, PostgreSQL in production): a copy of a signed-out cookie opens nothing,
whichever process it reaches. Only the SHA-256 of a session id is kept, until its cookie would have
expired anyway. This is the console's only table; it holds no personal data."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from sqlalchemy import BigInteger, Column, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

METADATA = MetaData()
ENDED = Table(
    "console_ended_sessions",
    METADATA,
    Column("sid_hash", String(64), primary_key=True),
    Column("until", BigInteger, nullable=False, index=True),  # unix seconds: past it the cookie is dead anyway
)


class EndedSessions:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite") and ":///" in url:
            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=True)

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    @staticmethod
    def _digest(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    async def end(self, sid: str, until: float) -> None:
        now = int(time.time())
        async with self.engine.begin() as conn:
            await conn.execute(delete(ENDED).where(ENDED.c.until < now))  # forget what has expired anyway
            dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
            row = {"sid_hash": self._digest(sid), "until": int(until)}
            await conn.execute(dialect.insert(ENDED).values(row).on_conflict_do_nothing())

    async def is_ended(self, sid: str) -> bool:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ENDED.c.until).where(ENDED.c.sid_hash == self._digest(sid)))).first()
        return row is not None
