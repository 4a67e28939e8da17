"""GDPR 21: an objection is not a withdrawal of everything.

- Direct marketing (`direct_marketing` in purposes.json: the newsletter, leads, tracking for tailored ads)
  stops for good, whatever its basis (21(2), (3)): recorded as a withdrawal with that reason, published.
- What rests on legitimate interest is weighed by a person (21(1)): the company may go on only with
  compelling grounds that override the person's. The answer names those purposes for the privacy officer.
- Consents are withdrawn by the person themselves (one click in the centre); a contract and a legal
  obligation are not open to objection. None of these is touched."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts import Outcome
from services.consent import decisions, service
from services.consent.context import ConsentContext
from services.consent.domain import LegalBasis, State

OBJECTED = "objection to direct marketing (GDPR 21(3))"  # words.REASONS says it in words


async def apply(ctx: ConsentContext, s: AsyncSession, subject: str) -> tuple[Outcome, str]:
    """In the caller's transaction: stop direct marketing, name what is to be weighed. (outcome, reason)."""
    marketing = {p.id for p in ctx.catalogue.purposes.values() if p.direct_marketing}
    stopped = await service.withdraw_in(ctx, s, subject, marketing, None, "dsar", None, OBJECTED)
    if stopped:
        await decisions.publish_state(ctx, s, subject)
    states = await decisions.current_states(s, subject)
    weighed = sorted(
        {
            key.split(":")[0]
            for key, state in states.items()
            if state == State.GRANTED
            and (purpose := ctx.catalogue.purpose(key.split(":")[0])) is not None
            and purpose.legal_basis is LegalBasis.LEGITIMATE_INTEREST
            and not purpose.direct_marketing
        }
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
