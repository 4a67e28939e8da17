"""What the privacy officer's console shows of each service's machinery (GET /admin/operations): the
outbox backlog, dead letters, the ledger's size and its latest signed checkpoint, and mail by status.
The same figures as GET /metrics, in JSON for a page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.ledger import recovery
from services.common.ledger.witness import standing
from services.common.mail import MailMessage
from services.common.models import table_of
from services.common.outbox import OUTBOX
from services.common.outbox_dead import figures as dead_figures

if TYPE_CHECKING:
    from services.common.runtime import Runtime

MAIL_STATES = ("queued", "sent", "bounced", "failed", "dropped")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class Figures:
    """One reading of a service's machinery, for GET /metrics and for the console alike."""

    backlog: int
    oldest_unpublished: datetime | None
    dead: int  # outbox rows moved aside (outbox_dead), waiting for a requeue
    held: int  # unpublished rows waiting behind a dead row of their key
    ledger_size: int
    checkpoint: Any  # LedgerCheckpoint | None
    checkpoint_signed_at: datetime | None
    mail: dict[str, int]


async def figures(runtime: Runtime) -> Figures:
    """One reading in a session of its own (GET /metrics)."""
    async with runtime.db.read() as s:
        return await read(runtime, s)


async def read(runtime: Runtime, s: AsyncSession) -> Figures:
    mails = table_of(MailMessage).c
    backlog, oldest = (
        await s.execute(select(func.count(), func.min(OUTBOX.c.created_at)).where(OUTBOX.c.published_at.is_(None)))
    ).one()
    size, _root = await runtime.ledger.head(s)
    checkpoint = await runtime.ledger.latest_checkpoint(s)
    rows = (await s.execute(select(mails.status, func.count()).group_by(mails.status))).all()
    by_status = {status: 0 for status in MAIL_STATES} | {status: count for status, count in rows}
    signed = _aware(checkpoint.created_at) if checkpoint is not None else None
    dead = await dead_figures(s)
    return Figures(backlog, _aware(oldest), dead.dead, dead.held, size, checkpoint, signed, by_status)


async def summary(runtime: Runtime) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with runtime.db.read() as s:
        f = await read(runtime, s)
        restore = await recovery.latest(s)
        witnesses = await standing(s, runtime.witnesses)
    checkpoint, signed = f.checkpoint, f.checkpoint_signed_at
    oldest = f.oldest_unpublished
    return {
        "service": runtime.name,
        "outbox": {
            "backlog": f.backlog,
            "oldest_seconds": (now - oldest).total_seconds() if oldest else 0.0,
            "dead": f.dead,
            "held": f.held,
        },
        "dead_letters_since_start": sum(c.dead_lettered for c in runtime.consumers),
        "consumers": [{"group": c.group, "ready": c.ready.is_set()} for c in runtime.consumers],
        "ledger": {
            "size": f.ledger_size,
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
        "mail": {status: f.mail.get(status, 0) for status in MAIL_STATES},
        "integrity": {"state": runtime.integrity.state, "reason": runtime.integrity.reason},
        "restore": None
        if restore is None
        else {
            "outcome": restore.outcome,
            "at": restore.at.astimezone(UTC).isoformat() if restore.at else None,
            "restored_size": restore.restored_size,
            "published_size": restore.published_size,
            "recovered": restore.recovered,
            "reapplied": restore.reapplied,
            "epoch": restore.epoch,
            "detail": restore.detail,
        },
        "witnesses": [
            {
                **w,
                "uncosigned_since": w["uncosigned_since"].isoformat() if w["uncosigned_since"] else None,
                "checked_at": w["checked_at"].isoformat() if w["checked_at"] else None,
            }
            for w in witnesses
        ],
    }
