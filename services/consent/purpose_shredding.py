"""GDPR 5(1)(e), statement Art. 7: shredding per purpose, not only per person. A person's evidence is sealed
with one key of theirs; when one purpose's retention ends while another still holds, what the purposes still
held need is sealed again under a new key of theirs (`rekeyed_evidence`, and every other row sealed for them),
and the old key is destroyed. The expired purpose's evidence in the ledger can then no longer be read by
anyone, though the person is not erased. The ledger keeps that it happened (`consent.evidence.rekeyed`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from services.common.crypto import ShreddedError
from services.common.mail import MailMessage
from services.common.models import LedgerEntry, SubjectKey
from services.consent.context import ConsentContext
from services.consent.domain import State, key_of
from services.consent.events import EvidenceRekeyed
from services.consent.models import (
    CentreSignIn,
    ConsentRecord,
    ConsentState,
    Correction,
    KvkCheck,
    PushDelivery,
    RekeyedEvidence,
)

# every other row sealed with the person's key: (table, the column holding the ciphertext)
SEALED_FOR_THEM: tuple[tuple[type[SQLModel], str], ...] = (
    (MailMessage, "ciphertext"),
    (Correction, "sealed"),
    (CentreSignIn, "sealed"),
    (KvkCheck, "sealed"),
    (PushDelivery, "sealed_email"),
)


@dataclass(frozen=True)
class Sealed:
    """Where a record's evidence can be read: the key id it was sealed with and the ciphertext."""

    key_id: str
    ciphertext: str


def evidence_of(
    leaf: dict[str, Any], rekeyed: Sealed | RekeyedEvidence | None, current_key_id: str | None
) -> Sealed | None:
    """A record's evidence under the person's current key: sealed again after a purpose was shredded, or as
    the ledger entry holds it. None when it was sealed with a key that is gone (erased, or its purpose's)."""
    if rekeyed is not None and rekeyed.key_id == current_key_id:
        return Sealed(rekeyed.key_id, rekeyed.ciphertext)
    if leaf.get("ciphertext") and leaf.get("key_id") == current_key_id:
        return Sealed(leaf["key_id"], leaf["ciphertext"])
    return None


async def rekeyed_of(s: AsyncSession, subjects: set[str]) -> dict[str, RekeyedEvidence]:
    """Every record's evidence that was sealed again, by record id, for these subjects (one query)."""
    if not subjects:
        return {}
    rows = await s.execute(select(RekeyedEvidence).where(col(RekeyedEvidence.subject).in_(subjects)))
    return {row.record_id: row for row in rows.scalars()}


async def shred_expired_purposes(ctx: ConsentContext, s: AsyncSession, subject: str, expired: set[str]) -> bool:
    """In the caller's transaction: keep what the subject's purposes still held need under a new key, and
    destroy the key that also opened the evidence of `expired` (purpose or purpose:third party keys).
    Returns False when the subject has no key (nothing sealed, or erased)."""
    vault = ctx.rt.vault
    row = (await s.execute(select(SubjectKey).where(col(SubjectKey.subject) == subject))).scalar_one_or_none()
    if row is None or not expired:
        return False
    old_id = row.key_id
    old_key = vault.open_key(row)
    held = {
        key_of(p, t)
        for p, t, state in (
            await s.execute(
                select(col(ConsentState.purpose), col(ConsentState.third_party), col(ConsentState.state)).where(
                    col(ConsentState.subject) == subject
                )
            )
        ).all()
        if state != State.EXPIRED.value
    }
    records = (await s.execute(select(ConsentRecord).where(col(ConsentRecord.subject) == subject))).scalars().all()
    kept = [r for r in records if key_of(r.purpose, r.third_party) in held]
    entries = dict(
        (
            await s.execute(
                select(col(LedgerEntry.event_id), col(LedgerEntry.entry)).where(
                    col(LedgerEntry.event_id).in_([r.event_id for r in kept])
                )
            )
        ).all()
    )
    rekeyed = await rekeyed_of(s, {subject})
    opened: dict[str, dict[str, Any]] = {}
    for r in kept:
        sealed = evidence_of(json.loads(entries.get(r.event_id) or "{}"), rekeyed.get(r.id), old_id)
        if sealed is not None:
            opened[r.id] = vault.open(subject, old_id, old_key, sealed.ciphertext)
    await s.execute(delete(RekeyedEvidence).where(col(RekeyedEvidence.subject) == subject))
    await vault.shred(s, subject)
    new_id, new_key = await vault.key_for(s, subject)
    for record_id, evidence in opened.items():
        s.add(
            RekeyedEvidence(
                record_id=record_id,
                subject=subject,
                key_id=new_id,
                ciphertext=vault.seal(subject, new_id, new_key, evidence),
            )
        )
    resealed = 0
    for table, column in SEALED_FOR_THEM:
        for other in (
            await s.execute(
                select(table).where(col(table.subject) == subject).where(col(table.key_id) == old_id)  # type: ignore[attr-defined]
            )
        ).scalars():
            value = getattr(other, column)
            if value is None:
                continue
            try:
                plain = vault.open(subject, old_id, old_key, value)
                setattr(other, column, vault.seal(subject, new_id, new_key, plain))
                other.key_id = new_id
                resealed += 1
            except ShreddedError:
                continue
    await ctx.rt.recorder.record(
        s,
        EvidenceRekeyed(
            subject=subject,
            purposes=sorted(expired),
            destroyed_key_id=old_id,
            key_id=new_id,
            records_kept=len(opened),
            rows_resealed=resealed,
        ),
        subject=subject,
        publish=False,
    )
    return True
