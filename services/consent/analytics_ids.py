"""The Google Analytics client id a browser presents once it consented to analytics (issue 32): GA erases
only by such an id, never by an email, so an erasure can reach Google Analytics only if the id was recorded.

Kept sealed for the browser (gone with its key), once per id, and only when analytics is granted. Carried
to the processors service sealed on `consent.analytics_id.recorded`, under the person the browser belongs to,
once it is linked to one (when it is linked later, then): an anonymous browser's id stays here, since no one
can ask to erase it by an address, and the processors keep nothing that no erasure could ever reach. The
public answer is the same whatever happened: the caller learns nothing it did not send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.contracts import AnalyticsIdRecorded, seal_fragment
from services.common.crypto import ShreddedError
from services.common.db import insert_ignoring_duplicates
from services.common.events import CONSENT_EVENTS
from services.common.models import table_of
from services.consent.context import ConsentContext
from services.consent.decisions import current_states, key_of
from services.consent.domain import State
from services.consent.models import AnalyticsId, ConsentSubject

PURPOSE = "analytics_cookies"
PER_BROWSER = 10  # ids kept per browser at most: a browser has one, a cleared cookie gives another; no flood


async def record(ctx: ConsentContext, browser_id: str, client_id: str) -> None:
    """Keep the id the browser presents, if it consented to analytics (and it is new): sealed for it, and
    carried to the processors when the browser belongs to a person."""
    browser = ctx.browser_pseudonym(browser_id)
    async with ctx.rt.db.transaction() as s:
        states = await current_states(s, browser)
        if states.get(key_of(PURPOSE, "")) != State.GRANTED.value:
            return  # no consent to analytics: nothing is kept (and the caller is told nothing)
        held = await s.execute(select(func.count()).select_from(AnalyticsId).where(col(AnalyticsId.subject) == browser))
        if held.scalar_one() >= PER_BROWSER:
            return
        key_id, sealed = await ctx.rt.vault.encrypt(s, browser, {"ga_client_id": client_id})
        row = {
            "subject": browser,
            "digest": ctx.rt.recorder.pseudonym("ga:" + client_id),
            "key_id": key_id,
            "sealed": sealed,
            "recorded_at": datetime.now(UTC),
        }
        added = await s.execute(insert_ignoring_duplicates(s, table_of(AnalyticsId), row))
        if not added.rowcount:  # type: ignore[attr-defined]
            return  # presented before (every page view presents it)
        owner = await s.get(ConsentSubject, browser)
        if owner is not None and owner.person:  # an anonymous browser's wait here: no one can ask to erase it
            await _carry(ctx, s, owner.person, client_id)


async def linked(ctx: ConsentContext, s: AsyncSession, person: str, browser: str) -> None:
    """A browser now belongs to a person: the ids it presented are carried again, under the person."""
    rows = (await s.execute(select(AnalyticsId).where(col(AnalyticsId.subject) == browser))).scalars().all()
    for row in rows:
        try:
            opened = await ctx.rt.vault.decrypt(s, browser, row.key_id, row.sealed)
        except ShreddedError:
            continue
        await _carry(ctx, s, person, str(opened["ga_client_id"]))


async def _carry(ctx: ConsentContext, s: AsyncSession, subject: str, client_id: str) -> None:
    record_id = "ga_" + uuid.uuid4().hex[:24]
    event = AnalyticsIdRecorded(
        subject=subject,
        record_id=record_id,
        contact=seal_fragment(ctx.rt.sealing, record_id, {"ga_client_id": client_id}),
    )
    await ctx.rt.recorder.record(s, event, subject=subject, topic=CONSENT_EVENTS.name, digest_only=("contact",))
