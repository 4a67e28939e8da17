"""What the privacy centre asks of dsar for the person signed in there: their requests with state and legal
deadline (and the export of a finished access request), and a new request. The centre's signed assertion
(`common.links.centre_assertion`) says which address; it checked the person with a single-use mailed link,
so that counts as the identity check and is recorded as its method."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from services.common.contracts import RequestKind
from services.dsar import domain, service
from services.dsar.models import DsarRequest
from services.dsar.service import DsarContext

METHOD = "privacy centre sign-in (single-use link mailed to the address)"


async def requests_of(ctx: DsarContext, email: str) -> list[dict[str, Any]]:
    """The person's requests, newest first, with what the centre shows of each."""
    subject = ctx.rt.recorder.pseudonym(email)
    now = datetime.now(UTC)
    async with ctx.rt.db.read() as s:
        rows = (
            (
                await s.execute(
                    select(DsarRequest)
                    .where(col(DsarRequest.subject) == subject)
                    .order_by(col(DsarRequest.received_at).desc())
                    .limit(100)
                )
            )
            .scalars()
            .all()
        )
    out = []
    for r in rows:
        export_url = None
        readable = r.kind in (RequestKind.ACCESS, RequestKind.PORTABILITY)
        if readable and r.state == domain.State.COMPLETED and r.completed_at is not None:
            left = ctx.settings.export_link_days * 86400 - (now - r.completed_at).total_seconds()
            if left > 0:  # the same lifetime as the mailed link, counted from completion
                export_url = ctx.url("/v1/exports/" + ctx.links.sign("export", int(left), r=r.id))
        out.append(
            {
                "kind": r.kind,
                "state": r.state,
                "open": r.state in {x.value for x in domain.OPEN},
                "received_at": r.received_at,
                "deadline": r.deadline,
                "overdue": r.state in {x.value for x in domain.OPEN} and r.deadline < now,
                "completed_at": r.completed_at,
                "extension_reason": r.extension_reason,
                "refusal_reason": r.refusal_reason,
                "export_url": export_url,
            }
        )
    return out


async def make_request(
    ctx: DsarContext, email: str, *, kind: RequestKind, text: str, language: str, corrections: dict[str, str] | None
) -> str:
    """`started` (identity counted as checked, fanned out) or `linked` (the same kind was already open)."""
    request = await service.intake(
        ctx,
        kind=kind,
        email=email,
        text=text,
        channel="privacy_centre",
        language=language,
        corrections=corrections,
        verified_method=METHOD,
    )
    return "started" if request is not None else "linked"
