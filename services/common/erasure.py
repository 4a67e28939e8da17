"""How any of our services answers an erasure request: shred the subject's key, say so."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts import DataSubjectRequestStarted, HolderAnswered, Outcome, SubjectShredded


async def answer_erasure(
    runtime: Any, session: AsyncSession, request: DataSubjectRequestStarted, *, holder: str, topic: str
) -> HolderAnswered:
    """Destroy the subject's key (crypto-shredding), append the "shredded" entry, answer the request.
    Old ledger entries keep their ciphertext, so every proof still verifies; the plaintext is gone."""
    key_id = await runtime.vault.shred(session, request.subject)
    await runtime.recorder.record(
        session,
        SubjectShredded(subject=request.subject, key_id=key_id, reason=f"erasure request {request.request_id}"),
        subject=request.subject,
        topic=topic,
    )
    answer = HolderAnswered(
        request_id=request.request_id,
        holder=holder,
        kind=request.kind,
        subject=request.subject,
        outcome=Outcome.ERASED if key_id else Outcome.NOTHING_HELD,
    )
    await runtime.recorder.record(session, answer, subject=request.subject, topic=topic)
    return answer
