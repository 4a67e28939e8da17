"""The DPO's decisions and the scheduled jobs: extend, refuse, close manual tasks, remind, expire, forget."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.contracts import (
    HolderAnswered,
    Outcome,
    RequestKind,
    SubjectShredded,
)
from services.common.errors import ServiceError
from services.common.events import DSAR_EVENTS
from services.common.links import new_single_use_token
from services.common.mail import MailMessage
from services.common.models import SubjectKey
from services.dsar import domain, mails
from services.dsar.domain import State
from services.dsar.events import (
    DsarRequestExpired,
    DsarRequestExtended,
    DsarRequestRefused,
)
from services.dsar.models import DsarRequest, Holder
from services.dsar.service import DsarContext, load_request, personal_details, record_answer, send_mail


async def close_task(
    ctx: DsarContext, request_id: str, *, holder: str, outcome: Outcome, reason: str | None, staff: str
) -> None:
    """Staff close a manual holder's task (a processor answered by mail, say)."""
    if outcome == Outcome.REFUSED and not reason:
        raise ServiceError(422, "a refusal needs its legal reason (e.g. GDPR 17(3)(b), statement Art. 11.3)")
    async with ctx.rt.db.transaction() as s:
        request = await load_request(s, request_id)
        kind = await s.get(Holder, holder)
        if kind is None or kind.kind != "manual":
            raise ServiceError(422, f"{holder} is not a manual holder; Kafka holders answer with events")
        if holder not in json.loads(request.holders):
            raise ServiceError(409, f"{holder} was not asked to answer this request")
        answer = HolderAnswered(
            request_id=request_id,
            holder=holder,
            kind=RequestKind(request.kind),
            subject=request.subject,
            outcome=outcome,
            reason=reason,
        )
        if not await record_answer(ctx, s, answer, by=staff):
            raise ServiceError(409, f"{holder} already answered, or the request is no longer open")


async def extend(ctx: DsarContext, request_id: str, *, months: int, reason: str, staff: str) -> DsarRequest:
    now = datetime.now(UTC)
    async with ctx.rt.db.transaction() as s:
        request = await load_request(s, request_id)
        try:
            request.deadline = domain.extended_deadline(request.received_at, now, months, State(request.state))
        except domain.RuleError as exc:
            raise ServiceError(409, str(exc)) from exc
        request.extension_reason = reason
        if request.state in domain.ANSWERING:
            request.state = State.EXTENDED.value
        s.add(request)
        await ctx.rt.recorder.record(
            s,
            DsarRequestExtended(
                request_id=request.id, subject=request.subject, deadline=request.deadline, months=months
            ),
            subject=request.subject,
            personal={"reason": reason, "by": staff},
        )
        details = await personal_details(ctx, s, request)
        if details.get("email"):
            await send_mail(
                ctx,
                s,
                request,
                "extended",
                mails.extended(
                    to=details["email"],
                    lang=request.language,
                    centre_url=ctx.settings.privacy_centre_url,
                    deadline=request.deadline,
                    reason=reason,
                ),
            )
    return request


async def refuse(ctx: DsarContext, request_id: str, *, reason: str, staff: str) -> DsarRequest:
    async with ctx.rt.db.transaction() as s:
        request = await load_request(s, request_id)
        if request.state not in domain.OPEN:
            raise ServiceError(409, f"a {request.state} request cannot be refused")
        now = datetime.now(UTC)
        late = domain.refusal_late(request.received_at, now)
        request.state, request.refusal_reason, request.completed_at = State.REFUSED.value, reason, now
        s.add(request)
        await ctx.rt.recorder.record(
            s,
            DsarRequestRefused(request_id=request.id, subject=request.subject, late=late),
            subject=request.subject,
            personal={"reason": reason, "by": staff},
        )
        details = await personal_details(ctx, s, request)
        if details.get("email"):
            await send_mail(
                ctx,
                s,
                request,
                "refused",
                mails.refused(
                    to=details["email"],
                    lang=request.language,
                    centre_url=ctx.settings.privacy_centre_url,
                    reason=reason,
                    late_since=domain.response_deadline(request.received_at) if late else None,
                ),
            )
    return request


async def run_jobs(ctx: DsarContext, now: datetime | None = None) -> dict[str, int]:
    """One reminder for unverified requests; unverified requests close when their link expires."""
    now = now or datetime.now(UTC)
    reminded = expired = 0
    async with ctx.rt.db.transaction() as s:
        waiting = (
            (await s.execute(select(DsarRequest).where(col(DsarRequest.state) == State.RECEIVED.value).limit(1000)))
            .scalars()
            .all()
        )
        for request in waiting:
            if request.verify_expires_at is not None and request.verify_expires_at < now:
                request.state = State.EXPIRED.value  # the links stay known, so a late click gets 410
                request.completed_at = now
                s.add(request)
                await ctx.rt.recorder.record(
                    s, DsarRequestExpired(request_id=request.id, subject=request.subject), subject=request.subject
                )
                expired += 1
            elif domain.reminder_due(request.received_at, now, request.reminded_at is not None):
                details = await personal_details(ctx, s, request)
                token, digest = new_single_use_token()
                request.reminder_hash, request.reminded_at = digest, now
                s.add(request)
                left = max(1, (request.verify_expires_at - now).days) if request.verify_expires_at else 1
                await send_mail(
                    ctx,
                    s,
                    request,
                    "reminder",
                    mails.verify(
                        to=details["email"],
                        lang=request.language,
                        centre_url=ctx.settings.privacy_centre_url,
                        kind=request.kind,
                        url=ctx.url(f"/v1/verify/{token}"),
                        days=left,
                        reminder=True,
                    ),
                )
                reminded += 1
        shredded = await _shred_after_erasure(ctx, s)
    return {"reminded": reminded, "expired": expired, "shredded": shredded}


async def _shred_after_erasure(ctx: DsarContext, s: AsyncSession) -> int:
    """Once the person was told the outcome of an erasure, dsar destroys its own key for them too: the
    request's facts stay in the ledger, the email and free text become unreadable."""
    done = (
        (
            await s.execute(
                select(DsarRequest)
                .where(col(DsarRequest.kind) == RequestKind.ERASURE.value)
                .where(col(DsarRequest.state) == State.COMPLETED.value)
                .where(col(DsarRequest.subject).in_(select(col(SubjectKey.subject))))
                .limit(500)
            )
        )
        .scalars()
        .all()
    )
    shredded = 0
    for request in done:
        pending = (
            (
                await s.execute(
                    select(MailMessage)
                    .where(col(MailMessage.subject) == request.subject)
                    .where(col(MailMessage.status) == "queued")
                )
            )
            .scalars()
            .first()
        )
        if pending is not None:
            continue  # the outcome mail has not left yet
        key_id = await ctx.rt.vault.shred(s, request.subject)
        await ctx.rt.recorder.record(
            s,
            SubjectShredded(
                subject=request.subject, key_id=key_id, reason=f"erasure request {request.id} completed and told"
            ),
            subject=request.subject,
            topic=DSAR_EVENTS.name,  # subject.shredded has no topic of its own (issue 30: '' jammed the outbox)
        )
        shredded += 1
    return shredded


async def holders(ctx: DsarContext) -> list[Holder]:
    """The systems that must answer requests."""
    async with ctx.rt.db.read() as s:
        return list((await s.execute(select(Holder))).scalars().all())


async def register_holder(ctx: DsarContext, name: str, *, kind: str, description: str, active: bool) -> Holder:
    """Register (or change) a holder: a Kafka consumer, or a manual task someone closes by hand."""
    async with ctx.rt.db.transaction() as s:
        row = await s.get(Holder, name) or Holder(name=name, kind=kind)
        row.kind, row.description, row.active = kind, description, active
        s.add(row)
    return row
