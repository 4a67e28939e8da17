"""What consent holds about a person, read back (history with evidence) or destroyed (crypto-shredding)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.contracts import SubjectShredded
from services.common.crypto import ShreddedError
from services.common.events import CONSENT_EVENTS, CONSENT_STATE
from services.common.models import LedgerEntry, SubjectKey
from services.common.outbox import enqueue_tombstones
from services.consent import notices, purpose_shredding, pushes, rectification
from services.consent.context import ConsentContext
from services.consent.decisions import current_states
from services.consent.domain import LegalBasis
from services.consent.models import (
    AnalyticsId,
    ConsentRecord,
    ConsentState,
    ConsentSubject,
    Correction,
    OptInToken,
    RekeyedEvidence,
    Restriction,
    RetainedEvidence,
)


async def knows(s: AsyncSession, subject: str) -> bool:
    return await s.get(ConsentSubject, subject) is not None


async def history(ctx: ConsentContext, subject: str) -> dict[str, Any]:
    """Every decision about a subject (and its linked browsers) with the evidence, readable while not erased."""
    async with ctx.rt.db.read() as s:
        browsers = list(
            (
                await s.execute(select(col(ConsentSubject.subject)).where(col(ConsentSubject.person) == subject))
            ).scalars()
        )
        subjects = [subject, *browsers]
        records = (
            (
                await s.execute(
                    select(ConsentRecord)
                    .where(col(ConsentRecord.subject).in_(subjects))
                    .order_by(col(ConsentRecord.created_at))
                )
            )
            .scalars()
            .all()
        )
        # one query for the ledger entries (they hold the encrypted evidence), one for the keys
        entries = dict(
            (
                await s.execute(
                    select(col(LedgerEntry.event_id), col(LedgerEntry.entry)).where(
                        col(LedgerEntry.event_id).in_([r.event_id for r in records])
                    )
                )
            ).all()
        )
        keys = {
            k.subject: k
            for k in (await s.execute(select(SubjectKey).where(col(SubjectKey.subject).in_(subjects)))).scalars()
        }
        retained = {
            row.record_id: row
            for row in (
                await s.execute(select(RetainedEvidence).where(col(RetainedEvidence.subject).in_(subjects)))
            ).scalars()
        }
        corrected = await rectification.current(ctx, s, set(subjects))
        rekeyed = await purpose_shredding.rekeyed_of(s, set(subjects))
        filed = await notices.on_file(s, {r.notice_hash for r in records})
        out = []
        for r in records:
            leaf = json.loads(entries[r.event_id]) if r.event_id in entries else {}
            evidence: dict[str, Any] | str | None = None
            if leaf.get("ciphertext"):
                key = keys.get(r.subject)
                sealed = purpose_shredding.evidence_of(leaf, rekeyed.get(r.id), key.key_id if key else None)
                if key is not None and sealed is not None:
                    evidence = ctx.rt.vault.open_row(r.subject, key.key_id, key.wrapped_key, sealed.ciphertext)
                elif r.id in retained:  # erased, but kept for a legal obligation until its period ends
                    kept = retained[r.id]
                    try:
                        opened = await ctx.rt.vault.decrypt(
                            s, retained_key_subject(r.subject), kept.key_id, kept.ciphertext
                        )
                        evidence = {**opened, "kept_until": kept.until}  # in words: words.evidence
                    except ShreddedError:
                        evidence = "erased"
                else:
                    evidence = "erased"
            if isinstance(evidence, dict) and r.subject in corrected:
                evidence = rectification.overlay(evidence, corrected[r.subject])  # GDPR 16: as it reads now
            out.append(
                {
                    "record_id": r.id,
                    "purpose": r.purpose,
                    "third_party": r.third_party or None,
                    "state": r.state,
                    "legal_basis": r.legal_basis,
                    "channel": r.channel,
                    "categories": json.loads(r.categories),
                    "notice_version": r.notice_version or None,
                    "notice_hash": r.notice_hash or None,
                    # GDPR 7(1): whether the text it names can be shown (a staff capture may name one not on file)
                    "notice_on_file": r.notice_hash.removeprefix("sha256:") in filed if r.notice_hash else None,
                    "reason": r.reason,
                    "recorded_at": r.created_at,
                    "recorded_by": r.actor,
                    "browser": r.subject != subject,
                    "evidence": evidence,
                    "ledger": {"event_id": r.event_id, "seq": r.ledger_seq},
                }
            )
        states = await current_states(s, subject)
        for b in browsers:
            states.update({f"browser:{k}": v for k, v in (await current_states(s, b)).items()})
    return {
        "subject": subject,
        "states": states,
        "corrections": {k: v for k, v in corrected.get(subject, {}).items()},
        "records": out,
        "linked_browsers": len(browsers),
        "generated_at": datetime.now(UTC),
    }


def retained_key_subject(subject: str) -> str:
    """Whose key seals what is kept of an erased person for a legal obligation (a key apart from theirs)."""
    return hashlib.sha256(f"retained:{subject}".encode()).hexdigest()


async def retain_in(ctx: ConsentContext, s: AsyncSession, subject: str, now: datetime) -> list[str]:
    """Before a person's key goes: the evidence of their records kept for a legal obligation (GDPR 17(3)(b);
    invoicing: the fiscal retention period) is sealed again under a key of its own, until the purpose's
    retention period ends. Returns what is kept, in words, for the answer to the request."""
    records = (
        (
            await s.execute(
                select(ConsentRecord)
                .where(col(ConsentRecord.subject) == subject)
                .where(col(ConsentRecord.legal_basis) == LegalBasis.LEGAL_OBLIGATION.value)
            )
        )
        .scalars()
        .all()
    )
    kept: dict[str, datetime] = {}
    current = (
        await s.execute(select(col(SubjectKey.key_id)).where(col(SubjectKey.subject) == subject))
    ).scalar_one_or_none()
    for record in records:
        purpose = ctx.catalogue.purpose(record.purpose)
        created = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=UTC)
        until = created + timedelta(days=purpose.retention_days) if purpose else now
        if until <= now or await s.get(RetainedEvidence, record.id) is not None:
            continue
        entry = (
            await s.execute(select(col(LedgerEntry.entry)).where(col(LedgerEntry.event_id) == record.event_id))
        ).scalar()
        leaf = json.loads(entry) if entry else {}
        found = purpose_shredding.evidence_of(leaf, await s.get(RekeyedEvidence, record.id), current)
        if found is None:
            continue
        try:
            evidence = await ctx.rt.vault.decrypt(s, subject, found.key_id, found.ciphertext)
        except ShreddedError:
            continue
        why = _kept(record.purpose, until)
        key_id, sealed = await ctx.rt.vault.encrypt(s, retained_key_subject(subject), evidence)
        s.add(
            RetainedEvidence(
                record_id=record.id, subject=subject, key_id=key_id, ciphertext=sealed, reason=why, until=until
            )
        )
        kept[record.purpose] = max(until, kept.get(record.purpose, until))
    return [_kept(purpose, until) for purpose, until in sorted(kept.items())]


def _kept(purpose: str, until: datetime) -> str:
    return f"{purpose}: legal obligation (GDPR 17(3)(b)), kept until {until.date().isoformat()}"


async def erase_in(
    ctx: ConsentContext, s: AsyncSession, subject: str, reason: str, *, kept: list[str] | None = None
) -> str | None:
    """Crypto-shred a person and their linked browsers in the caller's transaction; tombstones on the
    compacted topic. Returns the person's destroyed key id (None when nothing was held). What must be kept
    for a legal obligation is sealed apart first (`retain_in`); `kept` receives it, in words."""
    browsers = list(
        (await s.execute(select(col(ConsentSubject.subject)).where(col(ConsentSubject.person) == subject))).scalars()
    )
    retained = await retain_in(ctx, s, subject, datetime.now(UTC))
    if kept is not None:
        kept.extend(retained)
    key_id = None
    for who in [subject, *browsers]:
        destroyed = await ctx.rt.vault.shred(s, who)
        if who == subject:
            key_id = destroyed
        await ctx.rt.recorder.record(
            s, SubjectShredded(subject=who, key_id=destroyed, reason=reason), subject=who, topic=CONSENT_EVENTS.name
        )
        await forget_in(ctx, s, who)
    return key_id


async def forget_in(ctx: ConsentContext, s: AsyncSession, who: str) -> None:
    """What an erasure removes besides the key: the subject's rows, its state (a tombstone on the compacted
    topic) and the webhooks' copies."""
    await forget_many(ctx, s, [who])


async def forget_many(ctx: ConsentContext, s: AsyncSession, who: list[str]) -> None:
    """`forget_in` for many subjects at once (also what a restore re-applies for shredded subjects, recovery.py)."""
    for table in (ConsentState, OptInToken, ConsentSubject, RekeyedEvidence, Restriction, Correction, AnalyticsId):
        await s.execute(delete(table).where(col(table.subject).in_(who)))
    await enqueue_tombstones(s, ctx.settings.kafka_topic_prefix + CONSENT_STATE.name, who)
    await pushes.enqueue_erased(ctx, s, who)
