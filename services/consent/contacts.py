"""The address a consent change is carried to the processors with (issue 32): a withdrawal made by a
browser, a link or the centre names only the pseudonym, so the person's address is read back from what
consent holds of them: the corrected one (GDPR 16), else the newest evidence that holds one. Sealed for
the processors service on the event (`contact`); the ledger keeps a digest."""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.crypto import ShreddedError
from services.common.models import LedgerEntry, SubjectKey, table_of
from services.consent import domain, purpose_shredding, rectification
from services.consent.context import ConsentContext
from services.consent.decisions import Item
from services.consent.models import ConsentRecord

NEWEST = 20  # records read back per person at most: the address is in nearly every one


async def carried(ctx: ConsentContext, s: AsyncSession, items: list[Item]) -> list[Item]:
    """The items, those carried to the processors (a withdrawal, a confirmation) with the person's address
    when the change itself names none."""
    wanted = {
        i.subject
        for i in items
        if not (i.personal and i.personal.get("email"))
        and any(d.purpose.processors and domain.carried_to_processors(d.state, d.reason) for d in i.decisions)
    }
    if not wanted:
        return items
    found = await addresses(ctx, s, wanted)
    return [replace(i, address=found.get(i.subject)) if i.subject in wanted else i for i in items]


async def addresses(ctx: ConsentContext, s: AsyncSession, subjects: set[str]) -> dict[str, str]:
    """Per subject, the address consent holds now (none for a browser, or a person erased)."""
    if not subjects:
        return {}
    corrected = await rectification.current(ctx, s, subjects)
    found = {who: str(v["email"]) for who, v in corrected.items() if v.get("email")}
    r, e, k = table_of(ConsentRecord).c, table_of(LedgerEntry).c, table_of(SubjectKey).c
    for subject in sorted(subjects - found.keys()):
        rows = (
            await s.execute(
                select(r.id, e.entry, k.key_id, k.wrapped_key)
                .join_from(table_of(ConsentRecord), table_of(LedgerEntry), e.event_id == r.event_id)
                .join(table_of(SubjectKey), k.subject == r.subject)
                .where(r.subject == subject)
                .order_by(r.created_at.desc())
                .limit(NEWEST)
            )
        ).all()
        rekeyed = await purpose_shredding.rekeyed_of(s, {subject}) if rows else {}
        for record_id, entry, key_id, wrapped in rows:
            sealed = purpose_shredding.evidence_of(json.loads(entry), rekeyed.get(record_id), key_id)
            if sealed is None:
                continue
            try:
                evidence = ctx.rt.vault.open_row(subject, key_id, wrapped, sealed.ciphertext)
            except ShreddedError:
                continue
            if evidence.get("email"):
                found[subject] = str(evidence["email"])
                break
    return found
