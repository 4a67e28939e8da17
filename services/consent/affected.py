"""Who is touched by a breach (GDPR 34): the breach service asks, consent answers from its records.

People are found by the purposes the breached processors work on, the data categories and the time window.
By default (`reach` "held") that is everyone whose data was held at any moment of the window: recorded
before it ended, and not erased since (only people whose key still exists are returned, so an erased person
is never brought back). A leak of stored data reaches people who signed up years before it began. With
`reach` "collected", only data collected during the window counts (a form that leaked as it was sent). A
record that names no categories has its purpose's. Contact details travel sealed for the breach service,
in chunks."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts import AffectedSubjectsFound, AffectedSubjectsRequested, seal_fragment
from services.common.events import CONSENT_EVENTS
from services.common.models import LedgerEntry, SubjectKey, table_of
from services.consent import purpose_shredding, rectification
from services.consent.context import ConsentContext
from services.consent.models import ConsentRecord, ConsentSubject, RekeyedEvidence

CHUNK = 1000


async def answer(ctx: ConsentContext, s: AsyncSession, q: AffectedSubjectsRequested) -> int:
    wanted = {p.casefold() for p in q.processors}
    purposes = {
        p.id: set(p.categories)
        for p in ctx.catalogue.purposes.values()
        if not wanted or wanted & {x.casefold() for x in p.processors}
    }
    r, e, k, who, again = (
        table_of(ConsentRecord).c,
        table_of(LedgerEntry).c,
        table_of(SubjectKey).c,
        table_of(ConsentSubject).c,
        table_of(RekeyedEvidence).c,
    )
    query = (
        select(r.subject, r.purpose, r.categories, e.entry, k.key_id, k.wrapped_key, again.key_id, again.ciphertext)
        .join_from(table_of(ConsentRecord), table_of(LedgerEntry), e.event_id == r.event_id)
        .join(table_of(SubjectKey), k.subject == r.subject)
        .outerjoin(table_of(RekeyedEvidence), again.record_id == r.id)
        .join(table_of(ConsentSubject), and_(who.subject == r.subject, who.kind == "email"))
        .where(r.purpose.in_(list(purposes)), r.created_at <= q.window_end)
        .order_by(r.subject, r.created_at.desc())
    )
    if q.reach == "collected":
        query = query.where(r.created_at >= q.window_start)
    categories = set(q.categories)
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    shared = ctx.rt.sealing
    stream = await s.stream(query.execution_options(yield_per=CHUNK))
    async for subject, purpose, record_categories, entry, key_id, wrapped, again_key, again_sealed in stream:
        if subject in seen:
            continue
        rekeyed = purpose_shredding.Sealed(again_key, again_sealed) if again_key else None
        held = set(json.loads(record_categories)) or purposes[purpose]  # what consent.js sends names none
        if categories and not categories & held:
            continue
        sealed = purpose_shredding.evidence_of(json.loads(entry), rekeyed, key_id)
        if sealed is None:  # sealed with a key that is gone: its purpose was shredded
            continue
        evidence = ctx.rt.vault.open_row(subject, key_id, wrapped, sealed.ciphertext)
        if not evidence.get("email"):
            continue
        seen.add(subject)
        found.append({"subject": subject, "email": evidence["email"], "name": evidence.get("name")})
    corrected = await rectification.current(ctx, s, {p["subject"] for p in found})  # GDPR 16: as it reads now
    for p in found:
        now = corrected.get(p["subject"], {})
        p["email"], p["name"] = now.get("email", p["email"]), now.get("name", p["name"])
    total = max(1, -(-len(found) // CHUNK))
    for i in range(total):
        part = found[i * CHUNK : (i + 1) * CHUNK]
        await ctx.rt.recorder.record(
            s,
            AffectedSubjectsFound(
                breach_id=q.breach_id,
                query_id=q.query_id,
                holder="consent",
                chunk=i,
                chunks=total,
                count=len(part),
                sealed=seal_fragment(shared, q.query_id, {"people": part}) if part else None,
            ),
            topic=CONSENT_EVENTS.name,
            digest_only=("sealed",),
        )
    return len(found)
