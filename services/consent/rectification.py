"""GDPR 16: a rectification changes what is read, not only the ledger.

The evidence recorded in the ledger stays as it was (proof of what was given, when). Each corrected field is
kept sealed with the person's own key (`corrections`), and everything read from now on overlays it: the
person's history and access export, the contact details a breach notice goes to. The ledger records the
fact, which fields, and a digest of the new values; never a value, old or new."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.crypto import canonical_json
from services.consent.context import ConsentContext
from services.consent.events import SubjectRectified
from services.consent.models import Correction

CORRECTABLE = frozenset({"name", "email", "phone", "address", "company_name", "date_of_birth"})


async def apply(
    ctx: ConsentContext, s: AsyncSession, subject: str, request_id: str, corrections: dict[str, Any]
) -> list[str]:
    """Store each corrected field sealed for the person (a later correction of a field replaces it); record
    the fact. Returns the fields applied."""
    fields = sorted(f for f in corrections if f in CORRECTABLE and str(corrections[f]).strip())
    if not fields:
        return []
    key_id, key = await ctx.rt.vault.key_for(s, subject)
    now = datetime.now(UTC)
    for name in fields:
        sealed = ctx.rt.vault.seal(subject, key_id, key, {"value": str(corrections[name]).strip()})
        row = await s.get(Correction, (subject, name))
        if row is None:
            s.add(Correction(subject=subject, field=name, key_id=key_id, sealed=sealed, request_id=request_id))
        else:
            row.key_id, row.sealed, row.request_id, row.applied_at = key_id, sealed, request_id, now
            s.add(row)
    digest = hashlib.sha256(canonical_json({f: str(corrections[f]).strip() for f in fields})).hexdigest()
    await ctx.rt.recorder.record(
        s, SubjectRectified(subject=subject, request_id=request_id, fields=fields, digest=digest), subject=subject
    )
    return fields


async def current(ctx: ConsentContext, s: AsyncSession, subjects: set[str]) -> dict[str, dict[str, Any]]:
    """Per subject, the corrected values that still open (an erased person's do not): field -> value, with
    `_at` the latest correction's time."""
    if not subjects:
        return {}
    rows = (await s.execute(select(Correction).where(col(Correction.subject).in_(subjects)))).scalars().all()
    keys = await ctx.rt.vault.keys_for_many(s, {r.subject for r in rows}, create=False) if rows else {}
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.subject not in keys or keys[r.subject][0] != r.key_id:
            continue
        value = ctx.rt.vault.open(r.subject, r.key_id, keys[r.subject][1], r.sealed)["value"]
        mine = out.setdefault(r.subject, {})
        mine[r.field] = value
        mine["_at"] = max(mine.get("_at", r.applied_at), r.applied_at)
    return out


def overlay(evidence: dict[str, Any], corrected: dict[str, Any]) -> dict[str, Any]:
    """Evidence as it reads now: a corrected field shows its new value, and says it was corrected (when)."""
    changed = sorted(f for f in corrected if f != "_at" and f in evidence)
    if not changed:
        return evidence
    return {**evidence, **{f: corrected[f] for f in changed}, "corrected_at": corrected["_at"]}
