"""Console sessions that were signed out of, shared by every worker and host of the console through a
database (SQLite by default, PostgreSQL in production): a copy of a signed-out cookie opens nothing,
whichever process it reaches. Only the SHA-256 of a session id is kept, until its cookie would have
expired anyway. This is the console's only table; it holds no personal data."""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import BigInteger, Column, MetaData, String, Table, delete, select

from services.common.db import Database, insert_ignoring_duplicates

METADATA = MetaData()
ENDED = Table(
    "console_ended_sessions",
    METADATA,
    Column("sid_hash", String(64), primary_key=True),
    Column("until", BigInteger, nullable=False, index=True),  # unix seconds: past it the cookie is dead anyway
)


class EndedSessions:
    def __init__(self, url: str) -> None:
        self.db = Database(url, pool_size=2)

    async def start(self) -> None:
        async with self.db.engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)

    async def close(self) -> None:
        await self.db.dispose()

    @staticmethod
    def _digest(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    async def end(self, sid: str, until: float) -> None:
        async with self.db.transaction(span=None) as s:
            await s.execute(delete(ENDED).where(ENDED.c.until < int(time.time())))  # expired anyway
            await s.execute(insert_ignoring_duplicates(s, ENDED, {"sid_hash": self._digest(sid), "until": int(until)}))

    async def is_ended(self, sid: str) -> bool:
        async with self.db.read() as s:
            row = (await s.execute(select(ENDED.c.until).where(ENDED.c.sid_hash == self._digest(sid)))).first()
        return row is not None
