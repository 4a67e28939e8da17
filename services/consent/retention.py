"""Statement Art. 7: nothing is kept longer than its purpose needs. Expired decisions are marked, and a
subject with nothing left to keep is crypto-shredded. Recorded in the ledger and published."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlmodel import col, select

from services.consent import decisions, purpose_shredding, restrictions, subjects
from services.consent.context import ConsentContext
from services.consent.domain import State
from services.consent.models import ConsentRecord, ConsentState, RetainedEvidence

log = logging.getLogger(__name__)
REASON = "retention period over (statement Art. 7)"


async def run(ctx: ConsentContext, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    expired = shredded = rekeyed = 0
    await restrictions.lift_due(ctx, now)  # told at least RESTRICTION_LIFT_NOTICE_DAYS before (GDPR 18(3))
    async with ctx.rt.db.transaction() as s:
        due = (await s.execute(select(ConsentState).where(col(ConsentState.expires_at) <= now))).scalars().all()
        held = await restrictions.restricted_subjects(s, {row.subject for row in due})
        due = [row for row in due if row.subject not in held]  # GDPR 18: no retention clock runs meanwhile
        touched = sorted({row.subject for row in due})
        items = []
        for row in due:
            purpose = ctx.catalogue.purpose(row.purpose)
            if purpose is None:
                continue
            previous = await s.get(ConsentRecord, row.record_id)
            items.append(
                decisions.Item(
                    subject=row.subject,
                    channel=previous.channel if previous else "retention",
                    categories=[],
                    notice_version=previous.notice_version if previous else "",
                    notice_hash="",
                    personal=None,
                    actor="retention job",
                    decisions=[decisions.Decision(purpose, row.third_party, State.EXPIRED, REASON)],
                    at=datetime.now(UTC),  # when it was recorded (`now` only says what is due)
                )
            )
        await decisions.decide(ctx, s, items, publish=False)
        expired = len(items)
        for subject in touched:
            remaining = (
                (
                    await s.execute(
                        select(ConsentState)
                        .where(col(ConsentState.subject) == subject)
                        .where(col(ConsentState.state) != State.EXPIRED.value)
                    )
                )
                .scalars()
                .all()
            )
            if remaining:  # one purpose over, another still held: its evidence goes, the person stays
                gone = {decisions.key_of(row.purpose, row.third_party) for row in due if row.subject == subject}
                if await purpose_shredding.shred_expired_purposes(ctx, s, subject, gone):
                    rekeyed += 1
                await decisions.publish_state(ctx, s, subject)
            else:
                await subjects.erase_in(ctx, s, subject, REASON)
                shredded += 1
    shredded += await _end_retained(ctx, now)
    if shredded:
        ctx.metrics.m.inc(ctx.metrics.retention_erasures, amount=shredded)
    if expired:
        log.info("retention: %d decisions expired, %d subjects shredded, %d re-keyed", expired, shredded, rekeyed)
    return {"expired": expired, "shredded": shredded, "rekeyed": rekeyed}


async def _end_retained(ctx: ConsentContext, now: datetime) -> int:
    """What an erased person's legal obligation kept, once its period is over: the rows go, and the key that
    sealed them is destroyed when none of that person's is left. Returns the keys destroyed."""
    async with ctx.rt.db.transaction() as s:
        due = (await s.execute(select(RetainedEvidence).where(col(RetainedEvidence.until) <= now))).scalars().all()
        people = {row.subject for row in due}
        for row in due:
            await s.delete(row)
        await s.flush()
        destroyed = 0
        for subject in sorted(people):
            left = await s.execute(select(RetainedEvidence.record_id).where(col(RetainedEvidence.subject) == subject))
            if left.first() is None and await ctx.rt.vault.shred(s, subjects.retained_key_subject(subject)):
                destroyed += 1
    return destroyed


async def worker(ctx: ConsentContext) -> None:
    while True:
        await asyncio.sleep(ctx.settings.retention_interval_seconds)
        try:
            await run(ctx)
        except Exception:
            log.exception("retention round failed")
