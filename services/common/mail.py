"""Mail through the outbox: a message is written (encrypted for its subject) in the use-case's transaction
and sent by SMTP afterwards. A subject erased before sending is never mailed: the key is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy import Column, Index, Integer, Text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from services.common.crypto import ShreddedError, SubjectVault
from services.common.db import Database, Tx
from services.common.metrics import Metrics
from services.common.models import ts_column, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class MailMessage(SQLModel, table=True):
    __tablename__ = "mail_outbox"
    id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=100, index=True, description="The recipient's pseudonym")
    key_id: str = Field(max_length=40)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str = Field(max_length=60, description="What the mail is for, e.g. newsletter-confirmation")
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    sent_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True, index=True))
    status: str = Field(default="queued", max_length=20)
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    last_error: str | None = Field(default=None, sa_column=Column(Text))

    __table_args__ = (Index("ix_mail_outbox_status", "status", "created_at"),)  # the relay's queue


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


async def queue_mail(session: AsyncSession, vault: SubjectVault, *, subject: str, purpose: str, mail: Mail) -> str:
    """Queue a mail in the caller's transaction; returns its id (also the Message-ID's left part)."""
    key_id, ciphertext = await vault.encrypt(
        session,
        subject,
        {"to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html, "headers": mail.headers},
    )
    mail_id = "m_" + uuid.uuid4().hex
    session.add(MailMessage(id=mail_id, subject=subject, key_id=key_id, ciphertext=ciphertext, purpose=purpose))
    Tx.of(session).wake()
    return mail_id


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    sender_name: str = ""
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    bounce_address: str | None = None  # envelope sender; each mail goes out as <local>+<mail id>@<domain>


class MailRelay:
    """Sends queued mail by SMTP; marks each message sent, retried, or dropped (subject erased)."""

    def __init__(
        self,
        db: Database,
        vault: SubjectVault,
        smtp: SmtpSettings,
        *,
        poll_seconds: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics("mail", enabled=False)
        self.vault = vault
        self.smtp = smtp
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self.sent = 0
        db.commit_hooks.append(self._wake.set)

    async def run(self) -> None:
        while True:
            try:
                await self.send_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail relay round failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wait ends, and the loop would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def send_once(self, limit: int = 50) -> int:
        async with self.db.read() as session:
            queued = list(
                (
                    await session.execute(
                        select(MailMessage)
                        .where(col(MailMessage.status) == "queued")
                        .order_by(col(MailMessage.created_at))
                        .limit(limit)
                    )
                ).scalars()
            )
        done = 0
        for message in queued:
            async with self.db.read() as session:
                try:
                    content = await self.vault.decrypt(session, message.subject, message.key_id, message.ciphertext)
                except ShreddedError:
                    await self._mark(message.id, status="dropped", error="subject erased before sending")
                    continue
            try:
                await asyncio.to_thread(self._send, message.id, content)
            except smtplib.SMTPRecipientsRefused as exc:  # the server refused the address: a hard bounce
                await self._mark(message.id, status="bounced", error=repr(exc)[:500], attempts=message.attempts + 1)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                attempts = message.attempts + 1
                await self._mark(
                    message.id,
                    status="queued" if attempts < MAX_ATTEMPTS else "failed",
                    error=repr(exc)[:500],
                    attempts=attempts,
                )
                # the class and SMTP code only: an SMTP error's text can name the address
                code = getattr(exc, "smtp_code", "")
                log.warning("mail %s not sent (attempt %d): %s %s", message.id, attempts, type(exc).__name__, code)
                continue
            await self._mark(message.id, status="sent", sent_at=datetime.now(UTC))
            self.sent += 1
            done += 1
        return done

    async def _mark(
        self,
        mail_id: str,
        *,
        status: str,
        error: str | None = None,
        attempts: int | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        if status != "queued":
            self.metrics.inc(self.metrics.mail, status)
        values: dict[str, object] = {"status": status, "last_error": error}
        if attempts is not None:
            values["attempts"] = attempts
        if sent_at is not None:
            values["sent_at"] = sent_at
        async with self.db.transaction() as session:
            await session.execute(update(MailMessage).where(col(MailMessage.id) == mail_id).values(**values))

    def _send(self, mail_id: str, content: dict[str, object]) -> None:
        msg = EmailMessage()
        msg["From"] = (
            formataddr((self.smtp.sender_name, self.smtp.sender)) if self.smtp.sender_name else self.smtp.sender
        )
        msg["To"] = str(content["to"])
        msg["Subject"] = str(content["subject"])
        msg["Message-ID"] = make_msgid(idstring=mail_id, domain=self.smtp.sender.rpartition("@")[2] or None)
        headers = content.get("headers") or {}
        assert isinstance(headers, dict)
        for name, value in headers.items():
            msg[name] = value
        msg.set_content(str(content["text"]))
        if content.get("html"):
            msg.add_alternative(str(content["html"]), subtype="html")
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=30) as client:
            if self.smtp.starttls:
                client.starttls()
            if self.smtp.username and self.smtp.password:
                client.login(self.smtp.username, self.smtp.password)
            client.send_message(msg, from_addr=self._envelope_sender(mail_id))

    def _envelope_sender(self, mail_id: str) -> str:
        """VERP: a bounce comes back to an address naming the mail (see services/common/bounces.py)."""
        if not self.smtp.bounce_address:
            return self.smtp.sender
        local, _, domain = self.smtp.bounce_address.rpartition("@")
        return f"{local}+{mail_id}@{domain}"
