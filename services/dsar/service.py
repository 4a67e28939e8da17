"""Use-cases of the dsar service; each runs in one transaction."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.auth import RateLimiter
from services.common.contracts import (
    DataSubjectRequestStarted,
    HolderAnswered,
    Outcome,
    RequestKind,
    open_fragment,
    seal_fragment,
)
from services.common.crypto import ShreddedError
from services.common.errors import FieldError, ServiceError
from services.common.links import LinkSigner, new_single_use_token, token_hash
from services.common.mail import Mail, queue_mail
from services.common.runtime import Runtime
from services.dsar import domain, mails
from services.dsar.domain import State
from services.dsar.events import (
    DsarAnswerRecorded,
    DsarIdentityVerified,
    DsarRequestCompleted,
    DsarRequestLinked,
    DsarRequestReceived,
)
from services.dsar.models import DsarRequest, Holder, HolderAnswer
from services.dsar.settings import DsarSettings


@dataclass
class DsarContext:
    rt: Runtime
    settings: DsarSettings
    links: LinkSigner
    mail_caps: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.mail_caps = RateLimiter(self.settings.public_mails_per_hour, window=3600)

    @classmethod
    def of(cls, rt: Runtime) -> DsarContext:
        if rt.extension is None:
            assert isinstance(rt.settings, DsarSettings)
            rt.extension = cls(rt, rt.settings, LinkSigner(rt.settings.secret_bytes("link_signing_key")))
        context: DsarContext = rt.extension
        return context

    def url(self, path: str) -> str:
        return self.settings.public_base_url.rstrip("/") + path

    def mail_cap_allows(self, subject: str) -> bool:
        """Whether one more mail that a public call asks for may go to this subject's address this hour
        (per process: N workers allow up to N times the cap)."""
        return not self.mail_caps.take(subject)


def new_request_id() -> str:
    """Unguessable: 128 random bits."""
    return "dsr_" + secrets.token_urlsafe(16)


# --- intake and identity --------------------------------------------------------------------------------


async def intake(
    ctx: DsarContext,
    *,
    kind: RequestKind,
    email: str,
    text: str,
    channel: str,
    language: str,
    corrections: dict[str, str] | None = None,
    received_at: datetime | None = None,
    verified_by: str | None = None,
    verified_method: str | None = None,
) -> DsarRequest | None:
    """Record a request. Unless staff verified the person (`verified_by`) or the privacy centre vouches for
    them (`verified_method`), an emailed single-use link checks identity.
    A second open request of the same kind for the same person is linked to the first (returns None)."""
    now = datetime.now(UTC)
    if received_at is not None and domain.in_the_future(received_at, now):
        # the clock starts at receipt: a later date would move the legal deadline with it
        raise FieldError(("received_at",), "a request cannot have been received in the future")
    if received_at is not None and domain.before_the_gdpr(received_at):
        raise FieldError(("received_at",), "a request under the GDPR cannot have been received before 25 May 2018")
    received = received_at or now
    subject = ctx.rt.recorder.pseudonym(email)
    verified = verified_by is not None or verified_method is not None
    # a verified request joins only a request already verified: an unverified one (anyone can make one for
    # any address) never holds up the person's own
    open_states = domain.OPEN - {State.RECEIVED} if verified else domain.OPEN
    async with ctx.rt.db.transaction() as s:
        first = (
            (
                await s.execute(
                    select(DsarRequest)
                    .where(col(DsarRequest.subject) == subject)
                    .where(col(DsarRequest.kind) == kind.value)
                    .where(col(DsarRequest.state).in_([x.value for x in open_states]))
                    .order_by(col(DsarRequest.received_at))
                )
            )
            .scalars()
            .first()
        )
        if first is not None:
            first.linked_requests += 1
            s.add(first)
            await ctx.rt.recorder.record(
                s,
                DsarRequestLinked(request_id=first.id, subject=subject, channel=channel),
                subject=subject,
                personal={"text": text, "channel": channel},
            )
            return None
        deadline = domain.response_deadline(received)
        request = DsarRequest(
            id=new_request_id(),
            kind=kind.value,
            subject=subject,
            channel=channel,
            state=State.RECEIVED.value,
            language=language,
            received_at=received,
            deadline=deadline,
        )
        request.key_id, request.details = await ctx.rt.vault.encrypt(
            s, subject, {"email": email, "text": text, "corrections": corrections or {}, "staff": verified_by}
        )
        s.add(request)
        await ctx.rt.recorder.record(
            s,
            DsarRequestReceived(
                request_id=request.id,
                kind=kind,
                subject=subject,
                channel=channel,
                received_at=received,
                deadline=deadline,
            ),
            subject=subject,
        )
        if verified:
            await start_verified(ctx, s, request, now, method=verified_method or f"staff: {verified_by}")
        elif not ctx.mail_cap_allows(subject):
            pass  # the address's cap of verification mails this hour: recorded, not mailed (the same answer)
        else:
            token, digest = new_single_use_token()
            request.verify_hash, request.verify_expires_at = digest, domain.verification_expires(now)
            await send_mail(
                ctx,
                s,
                request,
                "verify",
                mails.verify(
                    to=email,
                    lang=language,
                    centre_url=ctx.settings.privacy_centre_url,
                    kind=kind.value,
                    url=ctx.url(f"/v1/verify/{token}"),
                    days=domain.VERIFY_LINK_DAYS,
                ),
            )
    return request


async def verify(ctx: DsarContext, token: str, at: datetime) -> DsarRequest:
    digest = token_hash(token)
    async with ctx.rt.db.transaction() as s:
        request = (
            (
                await s.execute(
                    select(DsarRequest).where(
                        (col(DsarRequest.verify_hash) == digest) | (col(DsarRequest.reminder_hash) == digest)
                    )
                )
            )
            .scalars()
            .first()
        )
        if request is None:
            raise ServiceError(404, "unknown or already used link")
        if request.state != State.RECEIVED or (request.verify_expires_at and request.verify_expires_at < at):
            raise ServiceError(410, "this link has expired; please make your request again")
        await start_verified(ctx, s, request, at, method="emailed single-use link")
    return request


async def start_verified(ctx: DsarContext, s: AsyncSession, request: DsarRequest, at: datetime, *, method: str) -> None:
    """Identity established: fan out to every active holder in the registry."""
    request.verify_hash = request.reminder_hash = None
    request.verified_at = at
    request.state = State.IDENTITY_VERIFIED.value
    await ctx.rt.recorder.record(
        s,
        DsarIdentityVerified(request_id=request.id, subject=request.subject, verified_at=at, method=method),
        subject=request.subject,
    )
    holders = (await s.execute(select(col(Holder.name)).where(col(Holder.active)))).scalars().all()
    request.holders = json.dumps(sorted(holders))
    details = await personal_details(ctx, s, request)
    sealed = None
    if request.kind == RequestKind.RECTIFICATION and details.get("corrections"):
        sealed = seal_fragment(ctx.rt.sealing, request.id, details["corrections"])
    contact = None
    if details.get("email"):  # sealed for the holders: the processors find the person by it
        contact = seal_fragment(ctx.rt.sealing, request.id, {"email": details["email"], "language": request.language})
    request.state = State.IN_PROGRESS.value
    s.add(request)
    await ctx.rt.recorder.record(
        s,
        DataSubjectRequestStarted(
            request_id=request.id,
            kind=RequestKind(request.kind),
            subject=request.subject,
            deadline=request.deadline,
            details=sealed,
            contact=contact,
        ),
        subject=request.subject,
        digest_only=("details", "contact"),
    )


# --- answers ----------------------------------------------------------------------------------------------


async def record_answer(ctx: DsarContext, s: AsyncSession, answer: HolderAnswered, *, by: str | None = None) -> bool:
    """A holder answered (Kafka, or staff closing a manual task). Completes the request when all did."""
    request = await s.get(DsarRequest, answer.request_id)
    if request is None or request.subject != answer.subject or request.state not in domain.ANSWERING:
        return False  # not ours, forged, or no longer waiting
    if answer.holder not in json.loads(request.holders):
        return False
    if await s.get(HolderAnswer, (request.id, answer.holder)) is not None:
        return False
    row = HolderAnswer(
        request_id=request.id, holder=answer.holder, outcome=answer.outcome.value, reason=answer.reason, answered_by=by
    )
    if answer.fragment:
        fragment = open_fragment(ctx.rt.sealing, request.id, answer.fragment)
        row.key_id, row.fragment = await ctx.rt.vault.encrypt(s, request.subject, fragment)
    s.add(row)
    await s.flush()
    await ctx.rt.recorder.record(
        s,
        DsarAnswerRecorded(request_id=request.id, holder=answer.holder, outcome=answer.outcome.value),
        subject=request.subject,
    )
    answers = (await s.execute(select(HolderAnswer).where(col(HolderAnswer.request_id) == request.id))).scalars().all()
    if domain.is_complete(set(json.loads(request.holders)), {a.holder for a in answers}):
        await _complete(ctx, s, request, list(answers))
    return True


async def _complete(ctx: DsarContext, s: AsyncSession, request: DsarRequest, answers: list[HolderAnswer]) -> None:
    now = datetime.now(UTC)
    request.state, request.completed_at = State.COMPLETED.value, now
    s.add(request)
    details = await personal_details(ctx, s, request)
    email = details.get("email")
    if email:
        common = {"to": email, "lang": request.language, "centre_url": ctx.settings.privacy_centre_url}
        if request.kind in (RequestKind.ACCESS, RequestKind.PORTABILITY):
            link = ctx.url(
                "/v1/exports/" + ctx.links.sign("export", ctx.settings.export_link_days * 86400, r=request.id)
            )
            mail = mails.access_ready(**common, url=link, days=ctx.settings.export_link_days, kind=request.kind)
        elif request.kind == RequestKind.ERASURE:
            erased = [a.holder for a in answers if a.outcome in (Outcome.ERASED, Outcome.NOTHING_HELD)]
            kept = [(a.holder, a.reason or "-") for a in answers if a.outcome == Outcome.REFUSED]
            # erased, except what a legal obligation keeps (and until when): the person is told that too
            kept += [(a.holder, a.reason) for a in answers if a.outcome == Outcome.ERASED and a.reason]
            mail = mails.erasure_done(**common, erased=erased, kept=kept)
        elif request.kind == RequestKind.RECTIFICATION:
            mail = mails.rectified(**common, holders=[a.holder for a in answers if a.outcome == Outcome.RECTIFIED])
        else:
            mail = mails.closed(**common, kind=request.kind)
        await send_mail(ctx, s, request, "completed", mail)
    await ctx.rt.recorder.record(
        s,
        DsarRequestCompleted(
            request_id=request.id, kind=RequestKind(request.kind), subject=request.subject, completed_at=now
        ),
        subject=request.subject,
    )


# --- the DPO's decisions -----------------------------------------------------------------------------------


# --- reading ---------------------------------------------------------------------------------------------


async def load_request(s: AsyncSession, request_id: str) -> DsarRequest:
    request = await s.get(DsarRequest, request_id)
    if request is None:
        raise ServiceError(404, "no such request")
    return request


async def personal_details(ctx: DsarContext, s: AsyncSession, request: DsarRequest) -> dict[str, Any]:
    if not request.details or not request.key_id:
        return {}
    try:
        return await ctx.rt.vault.decrypt(s, request.subject, request.key_id, request.details)
    except ShreddedError:
        return {}


async def send_mail(ctx: DsarContext, s: AsyncSession, request: DsarRequest, what: str, mail: Mail) -> None:
    await queue_mail(s, ctx.rt.vault, subject=request.subject, purpose=f"dsar-{what}:{request.id}", mail=mail)


async def get_request(ctx: DsarContext, request_id: str) -> tuple[DsarRequest, list[HolderAnswer]] | None:
    async with ctx.rt.db.read() as s:
        request = await s.get(DsarRequest, request_id)
        if request is None:
            return None
        answers = list(
            (await s.execute(select(HolderAnswer).where(col(HolderAnswer.request_id) == request_id))).scalars()
        )
    return request, answers


async def queue(
    ctx: DsarContext, *, kind: str | None, state: str | None, overdue: bool | None, limit: int = 200
) -> list[tuple[DsarRequest, list[HolderAnswer]]]:
    now = datetime.now(UTC)
    async with ctx.rt.db.read() as s:
        query = select(DsarRequest).order_by(col(DsarRequest.deadline)).limit(limit)
        if kind:
            query = query.where(col(DsarRequest.kind) == kind)
        if state:
            query = query.where(col(DsarRequest.state) == state)
        else:
            query = query.where(col(DsarRequest.state).in_([x.value for x in domain.OPEN]))
        if overdue is not None:
            query = (
                query.where(col(DsarRequest.deadline) < now)
                if overdue
                else query.where(col(DsarRequest.deadline) >= now)
            )
        requests = (await s.execute(query)).scalars().all()
        ids = [r.id for r in requests]
        answers = (await s.execute(select(HolderAnswer).where(col(HolderAnswer.request_id).in_(ids)))).scalars().all()
    by_request: dict[str, list[HolderAnswer]] = {}
    for a in answers:
        by_request.setdefault(a.request_id, []).append(a)
    return [(r, by_request.get(r.id, [])) for r in requests]
