"""GDPR 21: an objection is not a withdrawal of everything.

- Direct marketing (`direct_marketing` in purposes.json: the newsletter, leads, tracking for tailored ads)
  stops for good, whatever its basis (21(2), (3)): recorded as a withdrawal with that reason, published.
- What rests on legitimate interest is weighed by a person (21(1)): the company may go on only with
  compelling grounds that override the person's. The answer names those purposes for the privacy officer.
- Consents are withdrawn by the person themselves (one click in the centre); a contract and a legal
  obligation are not open to objection. None of these is touched."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts import Outcome
from services.common.errors import FieldError
from services.common.mail import queue_mail
from services.consent import decisions, mails, service
from services.consent.context import ConsentContext
from services.consent.domain import LegalBasis, State
from services.consent.events import ObjectionWeighed

OBJECTED = "objection to direct marketing (GDPR 21(3))"  # words.REASONS says it in words
UPHELD = "objection upheld (GDPR 21(1))"


async def apply(ctx: ConsentContext, s: AsyncSession, subject: str) -> tuple[Outcome, str]:
    """In the caller's transaction: stop direct marketing, name what is to be weighed. (outcome, reason)."""
    marketing = {p.id for p in ctx.catalogue.purposes.values() if p.direct_marketing}
    stopped = await service.withdraw_in(ctx, s, subject, marketing, None, "dsar", None, OBJECTED)
    if stopped:
        await decisions.publish_state(ctx, s, subject)
    states = await decisions.current_states(s, subject)
    # what rests on legitimate interest is processed without a state of the person's (no consent was asked):
    # every such purpose is to be weighed, unless an earlier weighing already stopped it for them
    weighed = sorted(
        p.id
        for p in ctx.catalogue.purposes.values()
        if p.legal_basis is LegalBasis.LEGITIMATE_INTEREST
        and not p.direct_marketing
        and states.get(p.id) != State.WITHDRAWN.value
    )
    said = []
    if stopped:
        said.append(
            "direct marketing stopped for good (GDPR 21(3)): " + ", ".join(sorted({r.ref.purpose for r in stopped}))
        )
    if weighed:
        said.append("on legitimate interest, to be weighed by the privacy officer (GDPR 21(1)): " + ", ".join(weighed))
    if not said:
        return Outcome.NOTHING_HELD, "nothing of yours rests on legitimate interest or is direct marketing"
    return Outcome.APPLIED, "; ".join(said)


async def weigh(
    ctx: ConsentContext, email: str, purpose_id: str, *, upheld: bool, grounds: str, by: str, lang: str
) -> bool:
    """GDPR 21(1): a privacy officer weighs a person's objection to a purpose on legitimate interest. Upheld:
    that processing stops for them (recorded as withdrawn with the reason, and published, so other systems
    and the processors stop too). Not upheld: the company shows compelling legitimate grounds that override
    the person's interests; nothing changes. Either way the person is mailed the outcome and the grounds,
    with the AP and the courts, and the ledger keeps the decision (the grounds sealed). Returns whether a
    state changed."""
    purpose = ctx.catalogue.purpose(purpose_id)
    if purpose is None or purpose.legal_basis is not LegalBasis.LEGITIMATE_INTEREST:
        raise FieldError(
            ("purpose",),
            f"{purpose_id!r} does not rest on legitimate interest: an objection to it is not weighed (GDPR 21(1))"
            " (direct marketing ends on an objection at once; a consent is withdrawn)",
        )
    subject = ctx.rt.recorder.pseudonym(email)
    now = datetime.now(UTC)
    changed = False
    async with ctx.rt.db.transaction() as s:
        if upheld:
            item = decisions.Item(
                subject=subject,
                channel="dsar",
                categories=[],
                notice_version="",
                notice_hash="",
                personal={"email": email},
                actor=by,
                decisions=[decisions.Decision(purpose, "", State.WITHDRAWN, UPHELD)],
                at=now,
                kind="email",
            )
            changed = bool(await decisions.decide(ctx, s, [item]))
        await ctx.rt.recorder.record(
            s,
            ObjectionWeighed(subject=subject, purpose=purpose.id, upheld=upheld, by=by),
            subject=subject,
            personal={"grounds": grounds},
            publish=False,
        )
        mail = mails.objection_weighed(
            to=email,
            lang=lang,
            purpose=purpose.described(lang),
            upheld=upheld,
            grounds=grounds,
            centre_url=ctx.settings.privacy_centre_url,
        )
        await queue_mail(s, ctx.rt.vault, subject=subject, purpose="objection-weighed", mail=mail)
    return changed
