"""Other systems ask "may I mail this person?" without holding a key (issue 35): POST /v1/lookup answers per
address its pseudonym (the key on consent.state.v1) and what its given consents allow now.

What the answer holds is only what a given consent allows: a person who refused, withdrew, never answered
or is unknown to us reads the same (nothing tells one from another). Each call is a processing of the
addresses it names and is recorded in the ledger as one (which system, how many, when; not the addresses)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.db import Tx
from services.common.errors import ServiceError
from services.consent.context import ConsentContext
from services.consent.decisions import states_of
from services.consent.domain import ACTIONS, LegalBasis, State
from services.consent.events import LookupPerformed
from services.consent.schemas import LookupAnswer, LookupIn, LookupOut

GIVEN = State.GRANTED.value


def answer(ctx: ConsentContext, pseudonym: str, states: dict[str, str]) -> LookupAnswer:
    """What one subject's states allow, in the shape that is the same for anyone without consent."""
    purposes: dict[str, bool] = {}
    parties: dict[str, list[str]] = {}
    for purpose in ctx.catalogue.purposes.values():
        if not purpose.requires_consent or purpose.legal_basis is not LegalBasis.CONSENT:
            continue  # on another basis (a legal obligation, a contract) it is no one's to allow
        if purpose.per_third_party:
            prefix = purpose.id + ":"
            given = sorted(k[len(prefix) :] for k, v in states.items() if k.startswith(prefix) and v == GIVEN)
            purposes[purpose.id] = bool(given)
            if given:
                parties[purpose.id] = given
        else:
            purposes[purpose.id] = states.get(purpose.id) == GIVEN
    may = {
        action: any(purposes[p.id] for p in ctx.catalogue.purposes.values() if action in p.allows) for action in ACTIONS
    }
    return LookupAnswer(pseudonym=pseudonym, may=may, purposes=purposes, third_parties=parties)


async def look_up(ctx: ConsentContext, system: str, body: LookupIn) -> LookupOut:
    """One read for the whole batch, one ledger entry for the call."""
    wait = ctx.lookup_limit.take(system, cost=len(body.emails) + len(body.browser_ids))
    if wait:
        per_minute = ctx.settings.lookup_addresses_per_minute
        raise ServiceError(
            429,
            f"this token may look up {per_minute} addresses and browser ids a minute; try again in {wait:.0f} s",
            headers={"retry-after": str(max(1, round(wait)))},
        )
    named: list[tuple[str, str | None, str | None]] = [(ctx.rt.recorder.pseudonym(e), e, None) for e in body.emails]
    named += [(ctx.browser_pseudonym(b), None, b) for b in body.browser_ids]
    async with ctx.rt.db.transaction() as s:
        states = await states_of(Tx.of(s), {p for p, _, _ in named})
        await ctx.rt.recorder.record(
            s,
            LookupPerformed(system=system, addresses=len(body.emails), browser_ids=len(body.browser_ids)),
            publish=False,
        )
    results = []
    for pseudonym, email, browser in named:
        one = answer(ctx, pseudonym, states[pseudonym])
        one.email, one.browser_id = email, browser
        results.append(one)
    ctx.metrics.looked_up(system, len(named))
    return LookupOut(results=results, as_of=datetime.now(UTC))
