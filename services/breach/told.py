"""What the people affected by a breach were actually told (GDPR 34): counted from the mail outbox, not
taken from the risk decision. The AP form's "people informed" and the recipients summary both read it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.breach.models import Recipient
from services.common.mail import MailMessage


async def tally(s: AsyncSession, breach_id: str) -> dict[str, int]:
    """People found and how their notification stands (sent, bounced, queued ...), from the mail outbox."""
    rows = (
        await s.execute(
            select(col(Recipient.status), col(MailMessage.status), func.count())
            .select_from(Recipient)
            .join(MailMessage, col(MailMessage.id) == col(Recipient.mail_id), isouter=True)
            .where(col(Recipient.breach_id) == breach_id)
            .group_by(col(Recipient.status), col(MailMessage.status))
        )
    ).all()
    summary = {"found": 0, "queued": 0, "sent": 0, "bounced": 0, "failed": 0, "dropped": 0}
    for recipient_status, mail_status, n in rows:
        summary["found"] += n
        key = mail_status or recipient_status
        if key in summary and key != "found":
            summary[key] += n
    return summary


def informed(told: dict[str, int], public: list[dict[str, Any]], required: bool) -> dict[str, Any]:
    """The AP form's "have the people been informed?", from what was sent: yes, partly, publicly, not yet, or
    not required (no high risk, or an exemption of GDPR 34(3)). Pure."""
    if told["sent"]:
        answer = "yes" if told["sent"] == told["found"] else "partly"
    elif public:
        answer = "publicly"
    elif not required:
        answer = "not required"
    else:
        answer = "not yet"
    return {
        "answer": answer,
        "mailed": told["sent"],
        "found": told["found"],
        "waiting": told["queued"],
        "undeliverable": told["bounced"] + told["failed"],
    }
