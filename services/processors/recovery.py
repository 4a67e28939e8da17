"""What a processors ledger entry rebuilt after a restore records, done again (services/common/ledger/recovery.py):
a request's task the ledger shows settled is made again, settled, so that when dsar's request is read again
(the consumer group replays from the backup's time) that processor is not asked twice; a task without such an
entry is made by that replay and sent. A shredded person's key is destroyed again (common's handler)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_duplicates
from services.common.ledger.journal import Lost
from services.common.ledger.recovery import Reapply
from services.common.models import table_of
from services.processors.events import ProcessorActed
from services.processors.models import ProcessorTask


async def settled_again(_rt: Any, s: AsyncSession, lost: list[Lost]) -> int:
    rows = [row for row in (_row(entry) for entry in lost) if row is not None]
    if not rows:
        return 0
    result = await s.execute(insert_ignoring_duplicates(s, table_of(ProcessorTask), rows))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _row(lost: Lost) -> dict[str, Any] | None:
    entry = lost.parsed
    data = entry["data"]
    if not data.get("request_id") or lost.subject is None:
        return None  # a withdrawal's sync: sent again at worst, which a processor takes as the same change
    at = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
    calls = [c.rsplit(" ", 2) for c in data.get("calls", [])]
    return {
        "id": data["task_id"],
        "dedupe": f"{data['request_id']}:{data['processor']}",
        "request_id": data["request_id"],
        "kind": data["action"],
        "action": data["action"],
        "processor": data["processor"],
        "subject": lost.subject,
        "key_id": None,
        "sealed": None,
        "state": data["state"],
        "attempts": 1,
        "next_attempt_at": None,
        "claimed_until": None,
        "deadline": None,
        "outcome": data.get("outcome"),
        "calls": json.dumps([[m, p, int(c) if c.isdigit() else c] for m, p, c in (x for x in calls if len(x) == 3)]),
        "answer": None,
        "created_at": at,
        "settled_at": at,
    }


REAPPLY: dict[str, Reapply] = {ProcessorActed.type_name(): settled_again}
