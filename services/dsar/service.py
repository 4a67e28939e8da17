"""Use-cases of the dsar service; each runs in one transaction."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.contracts import DataSubjectRequestStarted, HolderAnswered, RequestKind
from services.common.runtime import Runtime
from services.dsar import domain
from services.dsar.events import DsarAnswerRecorded, DsarRequestCompleted, DsarRequestReceived
from services.dsar.models import DsarRequest, HolderAnswer


class RequestState:
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


def new_request_id() -> str:
    """Unguessable: 128 random bits."""
    return "dsr_" + secrets.token_urlsafe(16)


async def open_staff_request(
    rt: Runtime, *, kind: RequestKind, email: str, channel: str, text: str, received_at: datetime | None, staff: str
) -> DsarRequest:
    """Record a request staff received and verified, and fan it out to every holder."""
    now = datetime.now(UTC)
    received = received_at or now
    subject = rt.recorder.pseudonym(email)
    deadline = domain.response_deadline(received)
    async with rt.db.transaction() as session:
        request = DsarRequest(
            id=new_request_id(),
            kind=kind.value,
            subject=subject,
            channel=channel,
            state=RequestState.IN_PROGRESS,
            received_at=received,
            verified_at=now,
            deadline=deadline,
        )
        request.key_id, request.details = await rt.vault.encrypt(
            session, subject, {"email": email, "text": text, "verified_by": staff}
        )
        session.add(request)
        await rt.recorder.record(
            session,
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
        await rt.recorder.record(
            session,
            DataSubjectRequestStarted(request_id=request.id, kind=kind, subject=subject, deadline=deadline),
            subject=subject,
        )
    return request


async def open_from_report(rt: Runtime, session: AsyncSession, *, subject: str, report_id: str) -> DsarRequest:
    """Statement Art. 3.5: a report of a minor's data without parental consent starts an erasure request
    across every holder (the reporting service has already erased its own copy)."""
    now = datetime.now(UTC)
    deadline = domain.response_deadline(now)
    request = DsarRequest(
        id=new_request_id(),
        kind=RequestKind.ERASURE.value,
        subject=subject,
        channel="minor_report",
        state=RequestState.IN_PROGRESS,
        received_at=now,
        verified_at=now,
        deadline=deadline,
    )
    session.add(request)
    await rt.recorder.record(
        session,
        DsarRequestReceived(
            request_id=request.id,
            kind=RequestKind.ERASURE,
            subject=subject,
            channel="minor_report",
            received_at=now,
            deadline=deadline,
        ),
        subject=subject,
    )
    await rt.recorder.record(
        session,
        DataSubjectRequestStarted(request_id=request.id, kind=RequestKind.ERASURE, subject=subject, deadline=deadline),
        subject=subject,
    )
    return request


async def record_answer(rt: Runtime, session: AsyncSession, answer: HolderAnswered) -> None:
    """A holder answered; the request completes when every expected holder has."""
    request = await session.get(DsarRequest, answer.request_id)
    if request is None or request.subject != answer.subject:
        return  # not ours (another deployment's request id) or forged: nothing to record
    if await session.get(HolderAnswer, (request.id, answer.holder)) is not None:
        return
    session.add(
        HolderAnswer(request_id=request.id, holder=answer.holder, outcome=answer.outcome.value, reason=answer.reason)
    )
    await session.flush()
    await rt.recorder.record(
        session,
        DsarAnswerRecorded(request_id=request.id, holder=answer.holder, outcome=answer.outcome.value),
        subject=request.subject,
    )
    answered = set(
        (
            await session.execute(select(col(HolderAnswer.holder)).where(col(HolderAnswer.request_id) == request.id))
        ).scalars()
    )
    if request.state != RequestState.COMPLETED and domain.is_complete(set(rt.settings.holders), answered):  # type: ignore[attr-defined]
        request.state = RequestState.COMPLETED
        request.completed_at = datetime.now(UTC)
        session.add(request)
        await rt.recorder.record(
            session,
            DsarRequestCompleted(
                request_id=request.id,
                kind=RequestKind(request.kind),
                subject=request.subject,
                completed_at=request.completed_at,
            ),
            subject=request.subject,
        )


async def get_request(rt: Runtime, request_id: str) -> tuple[DsarRequest, list[HolderAnswer]] | None:
    async with rt.db.read() as session:
        request = await session.get(DsarRequest, request_id)
        if request is None:
            return None
        answers = list(
            (await session.execute(select(HolderAnswer).where(col(HolderAnswer.request_id) == request_id))).scalars()
        )
    return request, answers
