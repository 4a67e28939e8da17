"""Statement Art. 3.5: a report that data of a child under 16 is held without a parent's consent. Anyone
can send one through consent's public route, so it is no identity check: the erasure request it opens
waits for the address's owner (a mailed single-use link) or a privacy officer's decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts import RequestKind, open_fragment
from services.common.errors import ServiceError
from services.common.links import new_single_use_token
from services.dsar import domain, mails
from services.dsar.domain import State
from services.dsar.events import DsarRequestReceived
from services.dsar.models import DsarRequest
from services.dsar.service import DsarContext, load_request, new_request_id, send_mail, start_verified


async def open_from_report(
    ctx: DsarContext, s: AsyncSession, *, subject: str, report_id: str, contact: str | None
) -> DsarRequest:
    """Statement Art. 3.5: a report of a minor's data without parental consent opens an erasure request. Anyone
    can send a report, so it is not an identity check: the request waits for the address's owner to confirm
    through a mailed single-use link, or for a privacy officer's decision (`decide_report`). Consent has
    restricted the data meanwhile."""
    now = datetime.now(UTC)
    deadline = domain.response_deadline(now)
    details: dict[str, Any] = {}
    if contact:
        details = open_fragment(ctx.rt.sealing, report_id, contact)
    request = DsarRequest(
        id=new_request_id(),
        kind=RequestKind.ERASURE.value,
        subject=subject,
        channel="minor_report",
        state=State.RECEIVED.value,
        language=str(details.get("language", "nl")),
        received_at=now,
        deadline=deadline,
    )
    if details.get("email"):
        request.key_id, request.details = await ctx.rt.vault.encrypt(
            s, subject, {"email": details["email"], "text": f"minor report {report_id}", "corrections": {}}
        )
    s.add(request)
    await ctx.rt.recorder.record(
        s,
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
    if details.get("email") and ctx.mail_cap_allows(subject):
        token, digest = new_single_use_token()
        request.verify_hash, request.verify_expires_at = digest, domain.verification_expires(now)
        mail = mails.minor_report(
            to=details["email"],
            lang=request.language,
            centre_url=ctx.settings.privacy_centre_url,
            url=ctx.url(f"/v1/verify/{token}"),
            days=domain.VERIFY_LINK_DAYS,
        )
        await send_mail(ctx, s, request, "verify", mail)
    return request


async def decide_report(ctx: DsarContext, request_id: str, *, staff: str, note: str) -> DsarRequest:
    """A privacy officer decides a request that waits for its identity check (a minor report): it starts,
    with the officer and their note as the method, recorded in the ledger."""
    async with ctx.rt.db.transaction() as s:
        request = await load_request(s, request_id)
        if request.state != State.RECEIVED:
            raise ServiceError(409, f"the request is {request.state}, not waiting for a decision")
        await start_verified(ctx, s, request, datetime.now(UTC), method=f"privacy officer {staff}: {note}")
    return request
