"""Delivery status notifications (RFC 3464) for mail we sent.

An SMTP server that accepted a message may still fail to deliver it later; it then mails a DSN back to the
envelope sender. Such a notice is handed to `POST /admin/mail/bounces` (by the mailbox's delivery script,
or whatever reads the bounce address). It is matched to our mail by the VERP envelope sender
(`bounces+<mail id>@...`, when `MAIL_BOUNCE_ADDRESS` is set) or by the original Message-ID the DSN quotes.
A failed delivery marks the mail `bounced` and enters the ledger, so that "we tried to tell this person,
and it did not arrive" can be shown (GDPR 34: another channel is then needed)."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from typing import Any

from pydantic import Field
from sqlalchemy import update
from sqlmodel import col, select

from services.common.errors import ServiceError
from services.common.events import EventData
from services.common.mail import MailMessage

MAIL_ID = re.compile(r"\bm_[0-9a-f]{32}\b")
ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


class BounceError(ValueError):
    """The body is not a delivery status notification we can read; the message says why."""


@dataclass(frozen=True)
class Notice:
    """What a DSN says: the mail ids it names, and for the first recipient its action and status."""

    mail_ids: tuple[str, ...]
    action: str  # failed, delayed, delivered, relayed, expanded (RFC 3464 2.3.3)
    status: str  # e.g. 5.1.1
    diagnostic: str  # the remote server's words, recipient addresses replaced


class MailBounced(EventData):
    """A mail we sent was not delivered (a DSN came back). A ledger entry only, never published (so not in
    the event registry): the proof that a notice did not arrive. The address is never in it."""

    event_type = "mail.bounced"
    topic = None  # a ledger entry only, never published
    mail_id: str
    purpose: str = Field(description="What the mail was for, e.g. breach-notification")
    status: str = Field(description="RFC 3463 status code, e.g. 5.1.1")
    diagnostic: str = Field(description="The remote server's reason, with addresses removed")


def read_notice(raw: bytes) -> Notice:
    """Parse a DSN (multipart/report; report-type=delivery-status); BounceError with the reason if not."""
    if not raw.strip():
        raise BounceError("empty body: send the notification as it arrived (message/rfc822)")
    message = email.message_from_bytes(raw, policy=policy.default)
    report_type = str(message.get_param("report-type") or "").lower()
    if message.get_content_type() != "multipart/report" or report_type != "delivery-status":
        raise BounceError(
            f"not a delivery status notification: Content-Type is {message.get_content_type()}, "
            "expected multipart/report; report-type=delivery-status (RFC 3464)"
        )
    fields = _recipient_fields(message)
    action = str(fields.get("Action", "")).strip().lower()
    status = str(fields.get("Status", "")).strip().split(" ")[0]
    if not action or not STATUS.match(status):
        raise BounceError("the delivery-status part has no recipient with an Action and a Status (x.y.z)")
    ids = _mail_ids(message)
    if not ids:
        raise BounceError("names none of our mails (no bounces+m_... address and no quoted Message-ID of ours)")
    diagnostic = ADDRESS.sub("<address>", str(fields.get("Diagnostic-Code", "")).strip())[:300]
    return Notice(ids, action, status, diagnostic)


def _recipient_fields(message: Message) -> Message:
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            if isinstance(blocks, list) and len(blocks) > 1:
                recipients = [b for b in blocks[1:] if isinstance(b, Message)]
                failed = [b for b in recipients if str(b.get("Action", "")).strip().lower() == "failed"]
                if recipients:
                    return (failed or recipients)[0]
            raise BounceError("the delivery-status part has no per-recipient fields")
    raise BounceError("no message/delivery-status part")


def _mail_ids(message: Message) -> tuple[str, ...]:
    """VERP recipient first (our own envelope sender), then the quoted original's Message-ID."""
    found: list[str] = []
    for header in ("To", "X-Original-To", "Delivered-To", "Envelope-To"):
        for value in message.get_all(header, []):
            found += MAIL_ID.findall(str(value))
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            originals = inner if isinstance(inner, list) else [inner]
            for original in originals:
                if isinstance(original, Message):
                    found += MAIL_ID.findall(str(original.get("Message-ID", "")))
        elif kind == "text/rfc822-headers":
            content: Any = part.get_content() if isinstance(part, EmailMessage) else part.get_payload()
            headers = email.message_from_string(str(content), policy=policy.default)
            found += MAIL_ID.findall(str(headers.get("Message-ID", "")))
    return tuple(dict.fromkeys(found))


async def record_notice(rt: Any, raw: bytes) -> dict[str, str]:
    """Apply a DSN to the service's mail outbox (one transaction): `failed` marks the mail bounced and
    enters the ledger once; `delayed` notes it; anything else changes nothing. 404 if no mail is ours."""
    try:
        notice = read_notice(raw)
    except BounceError as exc:
        raise ServiceError(422, str(exc)) from None
    async with rt.db.transaction() as s:
        rows = (await s.execute(select(MailMessage).where(col(MailMessage.id).in_(notice.mail_ids)))).scalars().all()
        if not rows:
            raise ServiceError(404, "no mail of this service matches the notification")
        by_id = {row.id: row for row in rows}
        mail = next(by_id[i] for i in notice.mail_ids if i in by_id)  # VERP before quoted Message-IDs
        outcome = "unchanged"
        if notice.action == "failed":
            # conditional, so that the same notice handed over twice at once is recorded once
            changed: Any = await s.execute(
                update(MailMessage)
                .where(col(MailMessage.id) == mail.id, col(MailMessage.status) != "bounced")
                .values(status="bounced", last_error=f"{notice.status} {notice.diagnostic}"[:500])
            )
            if changed.rowcount:
                payload = MailBounced(
                    mail_id=mail.id, purpose=mail.purpose, status=notice.status, diagnostic=notice.diagnostic
                )
                await rt.recorder.record(s, payload, subject=mail.subject, publish=False)
                rt.metrics.inc(rt.metrics.mail, "bounced")
            outcome = "bounced"
        elif notice.action == "delayed" and mail.status == "sent":
            await s.execute(
                update(MailMessage)
                .where(col(MailMessage.id) == mail.id)
                .values(last_error=f"delayed {notice.status} {notice.diagnostic}"[:500])
            )
            outcome = "delayed"
    return {"mail_id": mail.id, "action": notice.action, "status": notice.status, "outcome": outcome}
