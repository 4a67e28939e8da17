"""A processor's documented rate limit, shared by every worker and replica (the limit is per account, not per
process): the send times of the last `requests` calls live in one row per connector, locked while a worker
takes its turn. As processors count it, a sliding window: a call may leave `margin` after the one `requests`
back left a window ago (5 % of the window, at least 100 ms, for a call delayed on the way). A task reserves
its moment in one short transaction and waits for it outside every lock, so the next task reserves the
moment after at once: the calls leave at the limit's pace, whatever the database's latency."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from services.common.db import insert_ignoring_duplicates
from services.common.models import table_of
from services.processors.models import RateWindow

MARGIN = 0.1  # seconds at least between a call and the window it must stay out of (5 % of longer windows): a
# busy machine delayed a call by more than 75 ms on its way (1 of 2,000 over the limit in the fan-out benchmark)


class SharedWindow:
    def __init__(self, db: Any, key: str, requests: int, per_seconds: float, margin: float | None = None) -> None:
        self.db, self.key, self.requests, self.per_seconds = db, key, requests, per_seconds
        self.margin = margin if margin is not None else max(MARGIN, 0.05 * per_seconds)
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Reserve the next moment a call may leave (one short transaction), then wait for it outside every
        lock: the next task reserves the moment after while this one waits."""
        async with self._lock:
            at = await self._reserve()
        delay = at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _reserve(self) -> float:
        async with self.db.transaction(span=None) as s:
            row = {"key": self.key, "sent": "[]", "updated_at": datetime.now(UTC)}
            await s.execute(insert_ignoring_duplicates(s, table_of(RateWindow), row))
            query = select(RateWindow).where(col(RateWindow.key) == self.key).with_for_update()
            window = (await s.execute(query)).scalar_one()
            now = time.time()  # the wall clock: the one every process on every host shares
            horizon = now - self.per_seconds - self.margin
            sent = sorted(float(t) for t in json.loads(window.sent) if float(t) > horizon)  # reservations too
            at = now
            if len(sent) >= self.requests:  # the window holds `requests` already: after the oldest of them leaves it
                at = max(at, sent[-self.requests] + self.per_seconds + self.margin)
            if sent:
                at = max(at, sent[-1])  # in order
            sent.append(at)
            window.sent, window.updated_at = json.dumps(sent[-self.requests :]), datetime.now(UTC)
            s.add(window)
            return at
