"""Use-cases of the privacy centre (statement Art. 10, 11, 15; GDPR 7(3), 15-21): sign in with a single-use
mailed link, see consent per purpose with its history and recipients, withdraw or give it, and make
requests through dsar. Each change is one transaction; nothing here reads another service's tables."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select

from services.common import words
from services.common.crypto import ShreddedError
from services.common.errors import FieldError
from services.common.links import new_single_use_token, token_hash
from services.common.mail import queue_mail
from services.consent import decisions, mails, notices, service, subjects
from services.consent.context import ConsentContext
from services.consent.decisions import Evidence
from services.consent.domain import Channel, Purpose, State
from services.consent.dsar_client import DsarUnavailable
from services.consent.models import CentreSession, CentreSignIn, ConsentSubject
from services.consent.schemas import CaptureIn, Notice, PurposeChoice

log = logging.getLogger(__name__)
NOTICE_VERSION = "privacy-centre-1"
WITHDRAWABLE = frozenset({State.GRANTED, State.PENDING_CONFIRMATION, State.PENDING_PARENT})


class TooManyMails(Exception):
    """Too many sign-in mails for this address or this IP (the answer looks the same as success)."""


class LinkRefused(Exception):
    """The sign-in link is unknown, used, expired, or its person was erased since."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


# --- signing in -----------------------------------------------------------------------------------------


async def send_sign_in(ctx: ConsentContext, email: str, lang: str, ip: str) -> None:
    """Mail a single-use, expiring sign-in link to `email`, known to us or not (nothing tells them apart)."""
    subject = ctx.rt.recorder.pseudonym(email)
    per_address, per_ip = ctx.sign_in_limits
    if per_ip.take(ip) or per_address.take(subject):
        raise TooManyMails
    token, digest = new_single_use_token()
    minutes = ctx.settings.centre_link_minutes
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        key_id, sealed = await ctx.rt.vault.encrypt(s, subject, {"email": email})
        s.add(
            CentreSignIn(
                token_hash=digest,
                subject=subject,
                key_id=key_id,
                sealed=sealed,
                language=words.language(lang),
                created_at=now,
                expires_at=now + timedelta(minutes=minutes),
            )
        )
        mail = mails.sign_in(
            to=email,
            lang=lang,
            url=ctx.url(f"/privacy/sign-in/{token}?lang={words.language(lang)}"),
            minutes=minutes,
            controller=ctx.catalogue.controller.get("controller", ""),
        )
        await queue_mail(s, ctx.rt.vault, subject=subject, purpose="centre-sign-in", mail=mail)


async def open_sign_in(ctx: ConsentContext, token: str) -> dict[str, str]:
    """Use the link once; returns the session's content (subject, address, language)."""
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        row = await s.get(CentreSignIn, token_hash(token))
        if row is None:
            raise LinkRefused("unknown")
        if row.used_at is not None:
            raise LinkRefused("used")
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < now:
            raise LinkRefused("expired")
        try:
            email = (await ctx.rt.vault.decrypt(s, row.subject, row.key_id, row.sealed))["email"]
        except ShreddedError:
            raise LinkRefused("erased") from None
        row.used_at = now
        s.add(row)
    return {"s": row.subject, "e": email, "l": row.language}


async def session_started(ctx: ConsentContext, sid: str) -> None:
    """A new session; sessions past their absolute lifetime (their cookies open nothing) are forgotten."""
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        expired = now - timedelta(hours=ctx.settings.centre_session_max_hours)
        await s.execute(delete(CentreSession).where(col(CentreSession.created_at) < expired))
        s.add(CentreSession(sid_hash=token_hash(sid), created_at=now))


async def session_live(ctx: ConsentContext, sid: object) -> bool:
    """Whether the session `sid` was started and not ended (the cookie's own expiries are checked apart)."""
    if not isinstance(sid, str) or not sid:
        return False
    async with ctx.rt.db.read() as s:
        row = await s.get(CentreSession, token_hash(sid))
    return row is not None and row.ended_at is None


async def session_ended(ctx: ConsentContext, sid: object) -> None:
    """Signing out: the session ends for every copy of its cookie, on every worker."""
    if not isinstance(sid, str) or not sid:
        return
    async with ctx.rt.db.transaction() as s:
        row = await s.get(CentreSession, token_hash(sid))
        if row is not None and row.ended_at is None:
            row.ended_at = datetime.now(UTC)
            s.add(row)


# --- what the person sees ---------------------------------------------------------------------------------


def _notice_text(purpose: Purpose, lang: str) -> str:
    return " ".join(
        [
            purpose.described(lang),
            words.word(words.BASES, purpose.legal_basis.value, lang),
            words.days(purpose.retention_days, lang),
        ]
    )


def grantable(purpose: Purpose) -> bool:
    """A standing consent a person can give here (the newsletter); others belong to a form or a browser."""
    return purpose.requires_consent and purpose.standing and not purpose.per_third_party


async def overview(ctx: ConsentContext, subject: str, lang: str) -> dict[str, Any]:
    """Consent per purpose (the person's and their linked browsers'), the history with its evidence,
    and who receives the data."""
    data = await subjects.history(ctx, subject)
    latest: dict[str, dict[str, Any]] = {}
    for r in data["records"]:
        key = ("browser:" if r["browser"] else "") + r["purpose"] + (f":{r['third_party']}" if r["third_party"] else "")
        latest[key] = r
    consents = []
    for key, state in sorted(data["states"].items()):
        browser = key.startswith("browser:")
        purpose_id, _, third_party = key.removeprefix("browser:").partition(":")
        purpose = ctx.catalogue.purpose(purpose_id)
        if purpose is None:
            continue
        consents.append(
            {
                "purpose": purpose,
                "third_party": third_party or None,
                "browser": browser,
                "state": state,
                "since": latest.get(key, {}).get("recorded_at"),
                "can_withdraw": state in WITHDRAWABLE and purpose.requires_consent,
                "can_grant": grantable(purpose) and not browser and state not in WITHDRAWABLE,
            }
        )
    held = {c["purpose"].id for c in consents}
    for purpose in ctx.catalogue.purposes.values():
        if grantable(purpose) and purpose.id not in held:
            consents.append(
                {
                    "purpose": purpose,
                    "third_party": None,
                    "browser": False,
                    "state": None,
                    "since": None,
                    "can_withdraw": False,
                    "can_grant": True,
                }
            )
    used = {c["purpose"].id for c in consents if c["state"] is not None}
    names = {n for pid in used for n in ctx.catalogue.purposes[pid].processors}
    return {
        "consents": consents,
        "history": [
            {
                **r,
                "name": _name(ctx, r["purpose"], lang),
                "basis": _basis(ctx, r["purpose"]),
                "sentences": words.evidence(r["evidence"], lang),
            }
            for r in reversed(data["records"])
        ],
        "recipients": [p for p in ctx.catalogue.processors if p.name in names],
        "other_recipients": sorted({n for pid in used for n in ctx.catalogue.purposes[pid].other_recipients}),
    }


def _basis(ctx: ConsentContext, purpose_id: str) -> str:
    purpose = ctx.catalogue.purpose(purpose_id)
    return purpose.legal_basis.value if purpose else "consent"


def _name(ctx: ConsentContext, purpose_id: str, lang: str) -> str:
    purpose = ctx.catalogue.purpose(purpose_id)
    return purpose.described(lang) if purpose else purpose_id


async def requests(ctx: ConsentContext, email: str) -> list[dict[str, Any]] | None:
    """The person's requests from dsar; None when dsar cannot be asked now."""
    try:
        return await ctx.dsar.requests(email)
    except DsarUnavailable as exc:
        log.warning("privacy centre: requests not shown: %s", exc)
        return None


# --- what the person changes ------------------------------------------------------------------------------


def _purpose(ctx: ConsentContext, purpose_id: str) -> Purpose:
    purpose = ctx.catalogue.purpose(purpose_id)
    if purpose is None:
        raise FieldError(("purpose",), f"unknown purpose {purpose_id!r}")
    return purpose


async def withdraw(
    ctx: ConsentContext, subject: str, purpose_id: str, third_party: str | None, ev: Evidence
) -> list[str]:
    """GDPR 7(3): one click, for the person and every browser linked to them, in one transaction."""
    _purpose(ctx, purpose_id)
    async with ctx.rt.db.transaction() as s:
        browsers = (
            await s.execute(select(col(ConsentSubject.subject)).where(col(ConsentSubject.person) == subject))
        ).scalars()
        done = []
        for who in [subject, *browsers]:
            changed = await service.withdraw_in(
                ctx, s, who, {purpose_id}, third_party, Channel.PREFERENCE_PAGE, ev.personal(), "privacy centre"
            )
            if changed:
                await decisions.publish_state(ctx, s, who)
            done += [d.ref.purpose for d in changed]
    return done


async def grant(ctx: ConsentContext, email: str, purpose_id: str, ev: Evidence, lang: str) -> str | None:
    """Give a standing consent; the words shown are its notice (their SHA-256 recorded). Returns the
    confirmation sent (`newsletter`: double opt-in by mail) or None when it is granted at once."""
    purpose = _purpose(ctx, purpose_id)
    if not grantable(purpose):
        raise FieldError(("purpose",), f"{purpose_id!r} is given on its own form, not in the privacy centre")
    shown = {"purpose": purpose.id, "text": _notice_text(purpose, lang)}  # GDPR 7(1): on file before it is named
    sha = await notices.archive_text(ctx, version=NOTICE_VERSION, lang=lang, content=shown)
    cmd = CaptureIn(
        email=email,
        purposes=[PurposeChoice(purpose=purpose.id, granted=True)],
        channel=Channel.PREFERENCE_PAGE,
        notice=Notice(version=NOTICE_VERSION, hash=sha),
        page=ctx.settings.privacy_centre_url,
        language="en" if lang == "en" else "nl",
    )
    _done, _subject, confirmation = await service.capture(ctx, cmd, ev, public=False)  # the signed-in person
    return confirmation


async def make_request(
    ctx: ConsentContext, email: str, *, kind: str, text: str, lang: str, corrections: dict[str, str]
) -> str:
    """Ask dsar; `started` or `linked`. DsarUnavailable when dsar cannot be reached (nothing was made)."""
    return await ctx.dsar.make(email, kind=kind, text=text, language=lang, corrections=corrections or None)
