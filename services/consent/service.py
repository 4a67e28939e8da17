"""Use-cases of the consent service: capture, withdraw, confirm, history, erase. One transaction each."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.errors import FieldError, ServiceError
from services.common.links import new_single_use_token, token_hash
from services.common.mail import MailMessage, queue_mail
from services.common.telemetry import current_traceparent
from services.consent import analytics_ids, contacts, domain, kvk, mails, notices
from services.consent.context import ConsentContext
from services.consent.decisions import (
    Decision,
    Evidence,
    Item,
    Recorded,
    RecordView,
    current_states,
    decide,
    history_link,
    key_of,
    publish_state,
    unsubscribe_link,
)
from services.consent.domain import Channel, State
from services.consent.events import BrowserLinked
from services.consent.kvk_rules import Given
from services.consent.models import ConsentRecord, ConsentState, ConsentSubject, OptInToken
from services.consent.receipts import receipt
from services.consent.schemas import CaptureIn, CaptureOut, WithdrawIn

# --- capture -----------------------------------------------------------------------------------------


async def capture(
    ctx: ConsentContext, cmd: CaptureIn, ev: Evidence, *, actor: str | None = None, public: bool = True
) -> tuple[list[Recorded], str, str | None]:
    """Record one decision per purpose; returns the records, the subject and the confirmation asked for.

    `public`: through a route anyone can call (a site key, any address). Such a capture may give or ask,
    never lower what the person gave (`domain.held_for_person`): the person confirms by mail. Its answer
    is the same whatever the address already had, and so is what it asks for (`confirmation`)."""
    staff = actor is not None
    public = public and not staff
    if not staff and cmd.channel not in domain.PUBLIC_CHANNELS:
        raise FieldError(("channel",), f"channel {cmd.channel.value} is recorded by staff through the admin API")
    if not staff:
        await _require_served(ctx, cmd.notice.hash)
    choices = _validated_choices(ctx, cmd)
    minor = domain.needs_parent(age=cmd.age, date_of_birth=cmd.date_of_birth, today=ev.at.date())
    if minor and cmd.parent_email is None:
        raise FieldError(("parent_email",), "under 16: a parent's or guardian's email is required (statement Art. 3.5)")
    person = ctx.rt.recorder.pseudonym(str(cmd.email)) if cmd.email else None
    browser = ctx.browser_pseudonym(cmd.browser_id) if cmd.browser_id else None
    subject = person or browser
    assert subject is not None
    personal = {
        **ev.personal(),
        "email": str(cmd.email) if cmd.email else None,
        "name": cmd.name,
        "date_of_birth": cmd.date_of_birth.isoformat() if cmd.date_of_birth else None,
        "age": cmd.age,
        "parent_email": str(cmd.parent_email) if cmd.parent_email else None,
        "note": cmd.note,
        "kvk_number": cmd.kvk_number,
        "company_name": cmd.company_name,
        "postcode": cmd.postcode,
        "house_number": cmd.house_number,
    }
    personal = {k: v for k, v in personal.items() if v is not None}
    item = Item(
        subject=subject,
        kind="email" if person else "browser",
        channel=cmd.channel.value,
        categories=[c.value for c in cmd.data_categories],
        notice_version=cmd.notice.version,
        notice_hash=cmd.notice.hash,
        personal=personal,
        actor=actor,
        decisions=[
            Decision(
                purpose,
                third_party,
                *domain.initial_state(
                    purpose, granted=granted, minor=minor, gpc=ev.gpc, staff=staff, over_gpc=over_gpc
                ),
            )
            for purpose, third_party, granted, over_gpc in choices
        ],
        at=ev.at,
        public=public and person is not None,
        traceparent=current_traceparent(),
    )
    confirmation = _asked(item.decisions)
    if confirmation == "newsletter" and cmd.email is None:
        raise FieldError(("email",), "a confirmation by mail needs an email address")
    if not (person and browser) and all(d.state in (State.GRANTED, State.DENIED) for d in item.decisions):
        # the common case: group-committed with other requests (the same unit of work, in a shared flush)
        done = await ctx.captures.submit(item)
    else:
        async with ctx.rt.db.transaction() as s:
            await _ensure_subject(ctx, s, person, browser)
            done = await decide(ctx, s, [item])
            states = await current_states(s, subject)
            # only what now waits (a grant held over a given one has nothing to confirm)
            waiting = [
                d.record for d in done if states.get(key_of(d.record.purpose, d.record.third_party)) == d.record.state
            ]
            parent = [r for r in waiting if r.state == State.PENDING_PARENT]
            if parent:
                assert cmd.parent_email is not None
                await _send_confirmation(ctx, s, subject, "parent", str(cmd.parent_email), parent, cmd.language)
            mailed = [r for r in waiting if r.state == State.PENDING_CONFIRMATION]
            if mailed:
                assert cmd.email is not None
                await _send_confirmation(ctx, s, subject, "newsletter", str(cmd.email), mailed, cmd.language)
    if item.public:
        refused = [key_of(d.record.purpose, d.record.third_party) for d in done if d.record.state == State.DENIED]
        if refused and cmd.email is not None:
            await ask_to_confirm_withdrawal(ctx, subject, str(cmd.email), refused, cmd.language)
    return done, subject, confirmation


async def _require_served(ctx: ConsentContext, sha: str) -> None:
    try:
        await notices.require_served(ctx, sha)
    except notices.NoticeNotServed:
        raise FieldError(
            ("notice", "hash"),
            "this service never served a notice with this hash, so nobody could show what the person read "
            "(GDPR 7(1)): send the hash GET /v1/banner gives, or put the form's own text on file first "
            "(POST /admin/notices)",
        ) from None


def _asked(decisions: list[Decision]) -> str | None:
    """Which confirmation a capture asks for, from what was asked alone (never from what the person had)."""
    states = {d.state for d in decisions}
    if State.PENDING_PARENT in states:
        return "parent"
    return "newsletter" if State.PENDING_CONFIRMATION in states else None


async def ask_to_confirm_withdrawal(ctx: ConsentContext, subject: str, email: str, keys: list[str], lang: str) -> bool:
    """A withdrawal asked for an address through a public route: of what the person has given among `keys`
    (purpose or purpose:third party), nothing changes until they press the mailed one-click link. Nothing
    mailed when nothing is given or the address's mail cap is reached; the caller answers the same."""
    async with ctx.rt.db.transaction() as s:
        states = await current_states(s, subject)
        given = sorted({key.split(":", 1)[0] for key in keys if states.get(key) == State.GRANTED})
        if not given or not ctx.mail_cap_allows(email):
            return False
        purposes = [p for p in (ctx.catalogue.purpose(x) for x in given) if p is not None]
        mail = mails.withdrawal_confirmation(
            to=email,
            lang=lang,
            unsubscribe_url=unsubscribe_link(ctx, subject, given),
            centre_url=ctx.settings.privacy_centre_url,
            purposes=purposes,
        )
        await queue_mail(s, ctx.rt.vault, subject=subject, purpose="withdrawal-confirmation", mail=mail)
    return True


async def record_capture(ctx: ConsentContext, cmd: CaptureIn, ev: Evidence, *, actor: str | None) -> CaptureOut:
    """A capture with what the caller is given back: its receipt, the states of what it recorded and, once
    the capture is safely recorded, the KvK check of the company named (statement Art. 4).

    A public caller (`actor` None: a site key, which every page shows) learns nothing it did not send: no
    history link (the person reaches their history through their own mailbox, the privacy centre), no
    pseudonym (the receipt names the person by what the caller gave), no state of another purpose.
    Staff get the person's history link."""
    done, subject, confirmation = await capture(ctx, cmd, ev, actor=actor)
    history_url = history_link(ctx, subject) if actor is not None else None
    principal = subject if actor is not None else str(cmd.email or cmd.browser_id)
    given = receipt(
        ctx, principal=principal, recorded=done, channel=cmd.channel.value, at=ev.at, history_url=history_url
    )
    checked = None
    if cmd.kvk_number and cmd.company_name:
        company = Given(cmd.kvk_number, cmd.company_name, cmd.postcode, cmd.house_number)
        checked = await kvk.check(ctx, subject, company, given.get("consentReceiptID"))
    return CaptureOut(
        receipt=given,
        states={d.ref.purpose: d.record.state for d in done},
        history_url=history_url,
        confirmation=confirmation,
        kvk_check=checked,
    )


def _validated_choices(ctx: ConsentContext, cmd: CaptureIn) -> list[tuple[domain.Purpose, str, bool, bool]]:
    out = []
    seen = set()
    for i, choice in enumerate(cmd.purposes):
        purpose = ctx.catalogue.purpose(choice.purpose)
        if purpose is None:
            known = ", ".join(sorted(ctx.catalogue.purposes))
            raise FieldError(("purposes", i, "purpose"), f"unknown purpose {choice.purpose!r}; known: {known}")
        if choice.legal_basis is not None and choice.legal_basis != purpose.legal_basis:
            raise FieldError(
                ("purposes", i, "legal_basis"),
                f"{purpose.id} rests on {purpose.legal_basis.value}, not {choice.legal_basis.value}",
            )
        if not purpose.requires_consent and not choice.granted:
            raise FieldError(
                ("purposes", i, "granted"),
                f"{purpose.id} rests on {purpose.legal_basis.value}, not on consent: there is no consent to refuse. "
                "A person may object, or ask for restriction or rectification, in the privacy centre",
            )
        third_party = (choice.third_party or "").strip()
        if purpose.per_third_party and not third_party:
            raise FieldError(("purposes", i, "third_party"), "name the third party the data would be shared with")
        if purpose.per_third_party and ctx.catalogue.is_processor(third_party):
            raise FieldError(
                ("purposes", i, "third_party"),
                f"{third_party} is one of our processors (Art. 8): no sharing consent is asked for it",
            )
        if not purpose.per_third_party and third_party:
            raise FieldError(("purposes", i, "third_party"), f"{purpose.id} is not about a third party")
        if (purpose.id, third_party) in seen:
            raise FieldError(("purposes", i, "purpose"), f"{purpose.id} is listed twice")
        seen.add((purpose.id, third_party))
        out.append((purpose, third_party, choice.granted, choice.over_gpc))
    return out


async def _ensure_subject(ctx: ConsentContext, s: AsyncSession, person: str | None, browser: str | None) -> None:
    if person is not None and await s.get(ConsentSubject, person) is None:
        s.add(ConsentSubject(subject=person, kind="email"))
    if browser is not None:
        row = await s.get(ConsentSubject, browser)
        if row is None:
            s.add(ConsentSubject(subject=browser, kind="browser", person=person))
            linked = person is not None
        else:
            linked = person is not None and row.person != person
            if linked:
                row.person = person
                s.add(row)
        if linked:
            assert person is not None
            await ctx.rt.recorder.record(s, BrowserLinked(subject=person, browser=browser), subject=person)
            await analytics_ids.linked(ctx, s, person, browser)
    await s.flush()


async def _send_confirmation(
    ctx: ConsentContext,
    s: AsyncSession,
    subject: str,
    kind: str,
    to: str,
    records: list[RecordView],
    lang: str = "nl",
) -> None:
    """Art. 15 double opt-in (or the parent's confirmation, Art. 3.5): a single-use, expiring link."""
    if not ctx.mail_cap_allows(to):
        return  # the records wait as they are; a later sign-up mails again (the caller's answer is the same)
    token, digest = new_single_use_token()
    confirm_url = ctx.url(f"/v1/confirm/{token}")
    purposes = [r.purpose for r in records]
    unsubscribe_url = unsubscribe_link(ctx, subject, purposes)
    mail = mails.confirmation(
        kind,
        to=to,
        lang=lang,
        confirm_url=confirm_url,
        unsubscribe_url=unsubscribe_url,
        centre_url=ctx.settings.privacy_centre_url,
        purposes=[p for p in (ctx.catalogue.purpose(x) for x in dict.fromkeys(purposes)) if p is not None],
        hours=ctx.settings.optin_token_hours,
    )
    mail_id = await queue_mail(s, ctx.rt.vault, subject=subject, purpose=f"{kind}-confirmation", mail=mail)
    s.add(
        OptInToken(
            token_hash=digest,
            subject=subject,
            kind=kind,
            record_ids=json.dumps([r.id for r in records]),
            mail_id=mail_id,
            expires_at=datetime.now(UTC) + timedelta(hours=ctx.settings.optin_token_hours),
        )
    )


# --- confirmation (double opt-in, parents) --------------------------------------------------------------


async def confirm(ctx: ConsentContext, token: str, ev: Evidence) -> list[Recorded]:
    async with ctx.rt.db.transaction() as s:
        row = await s.get(OptInToken, token_hash(token))
        if row is None:
            raise ServiceError(404, "unknown confirmation link")
        if row.used_at is not None:
            raise ServiceError(410, "this confirmation link was already used")
        if row.expires_at < ev.at:
            raise ServiceError(410, "this confirmation link has expired; please sign up again")
        row.used_at = ev.at
        s.add(row)
        mail = await s.get(MailMessage, row.mail_id)
        evidence = {
            **ev.personal(),
            "mail_sent_at": mail.sent_at.isoformat() if mail and mail.sent_at else None,
            "clicked_at": ev.at.isoformat(),
            "confirmed_by": row.kind,
        }
        items = []
        for record_id in json.loads(row.record_ids):
            pending = await s.get(ConsentRecord, record_id)
            purpose = ctx.catalogue.purpose(pending.purpose) if pending else None
            current = (
                await s.get(ConsentState, (row.subject, pending.purpose, pending.third_party)) if pending else None
            )
            if pending is None or purpose is None or current is None or current.record_id != record_id:
                continue  # withdrawn or changed since: the click does not revive it
            reason = domain.PARENT_CONFIRMED if row.kind == "parent" else domain.DOI_CONFIRMED
            if row.kind == "parent" and purpose.double_opt_in:
                reason = domain.PARENT_CONFIRMED_NEWSLETTER
            items.append(
                Item(
                    subject=row.subject,
                    channel=pending.channel,
                    categories=json.loads(pending.categories),
                    notice_version=pending.notice_version,
                    notice_hash=pending.notice_hash,
                    personal=evidence,
                    actor=None,
                    decisions=[Decision(purpose, pending.third_party, State.GRANTED, reason)],
                    at=ev.at,
                )
            )
        done = await decide(ctx, s, await contacts.carried(ctx, s, items))
    return done


# --- withdrawal ------------------------------------------------------------------------------------------


async def withdraw(ctx: ConsentContext, cmd: WithdrawIn, ev: Evidence, *, reason: str | None = None) -> list[Recorded]:
    """The public withdrawal (a site key, which anyone holds). For the browser id the caller presents (its own
    first-party cookie): at once, published at once. For an address: a one-click confirmation is mailed to
    it when it has given any of these (`ask_to_confirm_withdrawal`); the answer is the same either way."""
    wanted = None if cmd.all else set(cmd.purposes or [])
    for i, purpose_id in enumerate([] if cmd.all else cmd.purposes or []):
        if ctx.catalogue.purpose(purpose_id) is None:
            known = ", ".join(sorted(ctx.catalogue.purposes))
            raise FieldError(("purposes", i), f"unknown purpose {purpose_id!r}; known: {known}")
    done: list[Recorded] = []
    if cmd.browser_id is not None:
        browser = ctx.browser_pseudonym(cmd.browser_id)
        async with ctx.rt.db.transaction() as s:
            done = await withdraw_in(ctx, s, browser, wanted, cmd.third_party, cmd.channel, ev.personal(), reason)
            await publish_state(ctx, s, browser)
    if cmd.email is not None:
        person = ctx.rt.recorder.pseudonym(str(cmd.email))
        async with ctx.rt.db.read() as s:
            held = await current_states(s, person)
        keys = [
            key
            for key in held
            if (wanted is None or key.split(":", 1)[0] in wanted)
            and (cmd.third_party is None or key.partition(":")[2] == cmd.third_party)
        ]
        await ask_to_confirm_withdrawal(ctx, person, str(cmd.email), keys, cmd.language)
    return done


async def unsubscribe(ctx: ConsentContext, subject: str, purposes: set[str] | None, ev: Evidence) -> list[str]:
    """The unsubscribe link (statement Art. 15.2): withdraw `purposes` (None: everything) in one transaction."""
    async with ctx.rt.db.transaction() as s:
        done = await withdraw_in(
            ctx, s, subject, purposes, None, Channel.UNSUBSCRIBE_LINK, ev.personal(), "unsubscribe link"
        )
        await publish_state(ctx, s, subject)
    return [d.ref.purpose for d in done]


async def withdraw_in(
    ctx: ConsentContext,
    s: AsyncSession,
    subject: str,
    purposes: set[str] | None,
    third_party: str | None,
    channel: Channel | str,
    personal: dict[str, Any] | None,
    reason: str | None,
    at: datetime | None = None,
) -> list[Recorded]:
    """Withdraw what is given or pending (all of it when `purposes` is None), in the caller's transaction."""
    query = select(ConsentState).where(col(ConsentState.subject) == subject).execution_options(populate_existing=True)
    rows = (await s.execute(query)).scalars().all()
    items = []
    for row in rows:
        if purposes is not None and row.purpose not in purposes:
            continue
        if third_party is not None and row.third_party != third_party:
            continue
        if row.state not in (State.GRANTED, State.PENDING_CONFIRMATION, State.PENDING_PARENT):
            continue
        purpose = ctx.catalogue.purpose(row.purpose)
        if purpose is None or not purpose.requires_consent:
            continue
        previous = await s.get(ConsentRecord, row.record_id)
        items.append(
            Item(
                subject=subject,
                channel=channel.value if isinstance(channel, Channel) else channel,
                categories=json.loads(previous.categories) if previous else [],
                notice_version="",
                notice_hash="",
                personal=personal,
                actor=None,
                decisions=[Decision(purpose, row.third_party, State.WITHDRAWN, reason)],
                at=at or datetime.now(UTC),
            )
        )
    # the caller publishes the state once it has done all it does in this transaction
    return await decide(ctx, s, await contacts.carried(ctx, s, items), publish=False)
