"""What the privacy officer's console shows of each service's machinery (GET /admin/operations): the
outbox backlog, dead letters, the ledger's size and its latest signed checkpoint, and mail by status.
The same figures as GET /metrics, in JSON for a page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.common.mail import MailMessage
from services.common.models import table_of
from services.common.outbox import OUTBOX
from services.common.runtime import Runtime


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


async def summary(runtime: Runtime) -> dict[str, Any]:
    now = datetime.now(UTC)
    mails = table_of(MailMessage).c
    async with runtime.db.read() as s:
        backlog, oldest = (
            await s.execute(select(func.count(), func.min(OUTBOX.c.created_at)).where(OUTBOX.c.published_at.is_(None)))
        ).one()
        size, _root = await runtime.ledger.head(s)
        checkpoint = await runtime.ledger.latest_checkpoint(s)
        rows = (await s.execute(select(mails.status, func.count()).group_by(mails.status))).all()
        by_status: dict[str, int] = {status: count for status, count in rows}
    oldest = _aware(oldest)
    signed = _aware(checkpoint.created_at) if checkpoint is not None else None
    return {
        "service": runtime.name,
        "outbox": {"backlog": backlog, "oldest_seconds": (now - oldest).total_seconds() if oldest else 0.0},
        "dead_letters_since_start": sum(c.dead_lettered for c in runtime.consumers),
        "consumers": [{"group": c.group, "ready": c.ready.is_set()} for c in runtime.consumers],
        "ledger": {
            "size": size,
            "checkpoint": None
            if checkpoint is None
            else {
                "size": checkpoint.size,
                "signed_at": signed.isoformat() if signed else None,
                "age_seconds": (now - signed).total_seconds() if signed else None,
                "signer": runtime.signer.verifier_key,
                "origin": runtime.signer.name,
            },
        },
        "mail": {status: by_status.get(status, 0) for status in ("queued", "sent", "bounced", "failed", "dropped")},
    }
