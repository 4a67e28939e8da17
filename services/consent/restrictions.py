"""GDPR 18: restriction of processing, as the law has it (not a withdrawal).

- `restrict`: what the person has given or pending reads `restricted` (kept, not used: published on
  consent.state.v1 and to webhooks, so other systems and processors stop too, GDPR 19), and while the
  restriction stands no retention clock of theirs runs: a person who restricts because they need the data
  for a legal claim (18(1)(c)) or contest its accuracy (18(1)(a)) must not see it erased meanwhile.
- `announce_lift`: a privacy officer decides to lift it. The person is told first (18(3)), by mail, with
  the date and the reason; the lift takes effect no sooner than RESTRICTION_LIFT_NOTICE_DAYS later.
- `lift_due` (run by the retention job): gives back exactly the states the restriction replaced."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common import words
from services.common.contracts import seal_fragment
from services.common.errors import ServiceError
from services.common.mail import queue_mail
from services.consent import mails
from services.consent.context import ConsentContext
from services.consent.decisions import Decision, Evidence, Item, current_states, decide, key_of
from services.consent.domain import GIVEN_OR_PENDING, State
from services.consent.events import MinorDataReported, RestrictionLiftAnnounced
from services.consent.models import ConsentState, Restriction
from services.consent.schemas import MinorReportIn

LIFTED = "restriction lifted (GDPR 18(3))"  # words.REASONS says it in words


async def restrict(ctx: ConsentContext, s: AsyncSession, subject: str, reason: str, ev: Evidence, channel: str) -> int:
    """Restrict the subject's processing in the caller's transaction (again: a lift that was announced is
    called off, and what was there before the first restriction is what a lift gives back)."""
    row = await s.get(Restriction, subject)
    if row is None:
        states = await current_states(s, subject)
        given = {k: v for k, v in states.items() if v in {x.value for x in GIVEN_OR_PENDING}}
        s.add(Restriction(subject=subject, reason=reason, previous=json.dumps(given, sort_keys=True), since=ev.at))
    else:
        row.lift_at = row.lift_told_at = row.lifted_by = None
        s.add(row)
    return await _restrict_states(ctx, s, subject, reason, ev, channel=channel)


async def restricted_subjects(s: AsyncSession, candidates: set[str]) -> set[str]:
    if not candidates:
        return set()
    query = select(col(Restriction.subject)).where(col(Restriction.subject).in_(candidates))
    return set((await s.execute(query)).scalars())


async def announce_lift(ctx: ConsentContext, email: str, why: str, by: str, lang: str) -> datetime:
    """Tell the person the restriction is lifted on a date at least RESTRICTION_LIFT_NOTICE_DAYS away, and
    why (GDPR 18(3)); recorded in the ledger. 404 when the address has no restriction."""
    subject = ctx.rt.recorder.pseudonym(email)
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        row = await s.get(Restriction, subject)
        if row is None:
            raise ServiceError(404, "this address has no restriction of processing")
        lift_at = now + timedelta(days=ctx.settings.restriction_lift_notice_days)
        row.lift_told_at, row.lift_at, row.lifted_by = now, lift_at, by
        s.add(row)
        purposes = [p for p in (ctx.catalogue.purpose(k.split(":")[0]) for k in json.loads(row.previous)) if p]
        mail = mails.restriction_lift(
            to=email,
            lang=lang,
            lift_on=words.day(lift_at, lang),
            why=why,
            centre_url=ctx.settings.privacy_centre_url,
            purposes=list({p.id: p for p in purposes}.values()),
        )
        await queue_mail(s, ctx.rt.vault, subject=subject, purpose="restriction-lift", mail=mail)
        await ctx.rt.recorder.record(
            s,
            RestrictionLiftAnnounced(subject=subject, lift_at=lift_at, by=by),
            subject=subject,
            personal={"why": why},
            publish=False,
        )
    return lift_at


async def lift_due(ctx: ConsentContext, now: datetime) -> int:
    """Lift every restriction whose announced date has come: each state it replaced comes back, recorded
    and published. Returns how many people's restrictions were lifted."""
    lifted = 0
    async with ctx.rt.db.transaction() as s:
        due = (await s.execute(select(Restriction).where(col(Restriction.lift_at) <= now))).scalars().all()
        for row in due:
            current = await current_states(s, row.subject)
            items = []
            for key, before in sorted(json.loads(row.previous).items()):
                purpose_id, _, third_party = key.partition(":")
                purpose = ctx.catalogue.purpose(purpose_id)
                if purpose is None or current.get(key_of(purpose_id, third_party)) != State.RESTRICTED:
                    continue
                items.append(
                    Item(
                        subject=row.subject,
                        channel="dsar",
                        categories=[],
                        notice_version="",
                        notice_hash="",
                        personal=None,
                        actor=row.lifted_by,
                        decisions=[Decision(purpose, third_party, State(before), LIFTED)],
                        at=datetime.now(UTC),
                    )
                )
            await decide(ctx, s, items)
            await s.delete(row)
            lifted += 1
    return lifted


async def report_minor(ctx: ConsentContext, body: MinorReportIn, ev: Evidence) -> str:
    """Statement Art. 3.5: a report that data of a child under 16 is held without a parent's consent. Anyone
    holding a site key can send one, so nothing irreversible follows from it: what the address has given or
    has pending is restricted at once (GDPR 18(1): kept, not used; published as `restricted`, so no mail
    goes out and nothing tracks; no retention clock runs, and lifting it is told first), and the report
    starts an erasure request at dsar that waits for the person's mailed confirmation or a privacy
    officer's decision. The answer is the same for any address."""
    report_id = "mr_" + uuid.uuid4().hex
    subject = ctx.rt.recorder.pseudonym(str(body.email))
    personal = {
        **ev.personal(),
        "reporter_email": str(body.reporter_email) if body.reporter_email else None,
        "details": body.details,
    }
    contact = seal_fragment(ctx.rt.sealing, report_id, {"email": str(body.email), "language": body.language})
    async with ctx.rt.db.transaction() as s:
        await restrict(ctx, s, subject, MINOR_RESTRICTED, ev, "minor_report")  # lifted only as 18(3) says
        await ctx.rt.recorder.record(
            s,
            MinorDataReported(subject=subject, report_id=report_id, contact=contact),
            subject=subject,
            personal={k: v for k, v in personal.items() if v},
            digest_only=("contact",),
        )
    return report_id


MINOR_RESTRICTED = "minor report: restricted until decided (GDPR 18(1))"  # words.REASONS says it in words


async def _restrict_states(
    ctx: ConsentContext, s: AsyncSession, subject: str, reason: str, ev: Evidence, *, channel: str = "minor_report"
) -> int:
    """Restrict what the subject has given or has pending (GDPR 18), in the caller's transaction; published.
    (`restrict` also keeps what it replaced and pauses the person's retention: call that.)"""
    rows = (
        (
            await s.execute(
                select(ConsentState)
                .where(col(ConsentState.subject) == subject)
                .where(col(ConsentState.state).in_([x.value for x in GIVEN_OR_PENDING]))
            )
        )
        .scalars()
        .all()
    )
    items = []
    for row in rows:
        purpose = ctx.catalogue.purpose(row.purpose)
        if purpose is None:
            continue
        items.append(
            Item(
                subject=subject,
                channel=channel,
                categories=[],
                notice_version="",
                notice_hash="",
                personal=ev.personal(),
                actor=None,
                decisions=[Decision(purpose, row.third_party, State.RESTRICTED, reason)],
                at=ev.at,
            )
        )
    await decide(ctx, s, items)
    return len(items)
