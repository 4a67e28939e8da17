"""Use-cases of the record of processing activities (GDPR 30): keep its versions in step with the
configuration and the processor register, each version in the ledger; serve it as it stood on a date."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.common.errors import ServiceError
from services.consent import register
from services.consent.context import ConsentContext
from services.consent.events import ProcessingRegisterVersioned
from services.consent.models import ProcessorEntry, RegisterVersion

log = logging.getLogger(__name__)


async def current(ctx: ConsentContext, *, only_changes: bool = False) -> RegisterVersion | None:
    """The register as it is now; a new version (and ledger entry) first when it changed since the last.
    `only_changes`: record nothing while no version exists yet (the first is recorded when first asked)."""
    for attempt in range(3):
        try:
            return await _record_if_changed(ctx, only_changes)
        except IntegrityError:  # another process recorded the same version number at the same moment
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _record_if_changed(ctx: ConsentContext, only_changes: bool) -> RegisterVersion | None:
    async with ctx.rt.db.transaction() as s:
        agreements = {p.name: p.agreement for p in (await s.execute(select(ProcessorEntry))).scalars()}
        now = register.build(ctx.catalogue, agreements)
        digest = register.digest(now)
        latest = (
            await s.execute(select(RegisterVersion).order_by(col(RegisterVersion.version).desc()).limit(1))
        ).scalar_one_or_none()
        if latest is not None and latest.sha256 == digest:
            return latest
        if latest is None and only_changes:
            return None
        version = (latest.version + 1) if latest else 1
        event, seq = await ctx.rt.recorder.record(
            s,
            ProcessingRegisterVersioned(
                version=version,
                sha256=digest,
                records=len(now["records"]),
                flagged_processors=now["processors_without_signed_agreement"],
            ),
            publish=False,  # a fact for the ledger (the proof), not for other systems' consumers
        )
        row = RegisterVersion(
            version=version,
            sha256=digest,
            content=register.canonical(now).decode(),
            recorded_at=event.time,
            event_id=event.id,
            ledger_seq=seq,
        )
        s.add(row)
    log.info("register of processing activities: version %s", version, extra={"sha256": digest})
    return row


async def processors(ctx: ConsentContext) -> list[ProcessorEntry]:
    async with ctx.rt.db.read() as s:
        return list((await s.execute(select(ProcessorEntry))).scalars().all())


async def set_agreement(ctx: ConsentContext, processor_id: str, agreement: str) -> ProcessorEntry:
    """Record a processor's agreement status (statement Art. 8); the register then names it, in a new version."""
    async with ctx.rt.db.transaction() as s:
        row = await s.get(ProcessorEntry, processor_id)
        if row is None:
            raise ServiceError(404, "no such processor")
        row.agreement, row.updated_at = agreement, datetime.now(UTC)
        s.add(row)
    await current(ctx)
    return row


async def at(ctx: ConsentContext, moment: datetime) -> RegisterVersion | None:
    """The version in force at `moment` (the last one recorded before it), if any was."""
    async with ctx.rt.db.read() as s:
        row: RegisterVersion | None = (
            await s.execute(
                select(RegisterVersion)
                .where(col(RegisterVersion.recorded_at) <= moment)
                .order_by(col(RegisterVersion.version).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    return row


def served(row: RegisterVersion, ctx: ConsentContext) -> dict[str, Any]:
    """The version with how to prove it: its SHA-256 is in the consent ledger at `ledger.seq`."""
    content: dict[str, Any] = json.loads(row.content)
    return {
        **content,
        "version": row.version,
        "recorded_at": row.recorded_at.isoformat(),
        "sha256": row.sha256,
        "ledger": {
            "event_id": row.event_id,
            "seq": row.ledger_seq,
            "inclusion_proof": ctx.url(f"/ledger/proof/inclusion?event_id={row.event_id}"),
        },
    }


async def worker(ctx: ConsentContext) -> None:
    """At start: a new version if a changed configuration changed the register (the first version is
    recorded when the register is first asked for, so a new database's ledger starts empty)."""
    await current(ctx, only_changes=True)
