"""Delivery status notifications (RFC 3464) that come back after our SMTP server accepted a mail: matched to
the mail by its VERP envelope sender or the quoted Message-ID, marked bounced once, proven in the ledger;
malformed, foreign, repeated and delayed notices get clear answers."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from sqlalchemy import text

from services.common.auth import create_site_key, create_token
from services.common.bounces import BounceError, read_notice
from tests.conftest import build_app, eventually, running
from tests.notices import NOTICE

ORIGIN = "https://www.jezaakvoorelkaar.nl"
BOUNCES = "bounces@mail.jezaakvoorelkaar.nl"


def dsn(
    *,
    to: str,
    action: str = "failed",
    status: str = "5.1.1",
    recipient: str = "piet@example.nl",
    original: EmailMessage | None = None,
    quote: str = "headers",
) -> bytes:
    """A notification as a remote MTA (Postfix, Exchange ...) sends it: human text, the machine-readable
    delivery-status, and the original message or its headers."""
    quoted = ""
    if original is not None:
        if quote == "headers":
            headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
            quoted = f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n"
        else:
            body = original.as_bytes(policy=SMTP).decode()
            quoted = f"--B\r\nContent-Type: message/rfc822\r\n\r\n{body}\r\n"
    text = (
        "From: MAILER-DAEMON@mx.example.nl\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host mx.example.nl. Your message could not be delivered.\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.nl\r\nArrival-Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; mx.example.nl\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown\r\n\r\n"
        f"{quoted}--B--\r\n"
    )
    return text.encode()


@pytest.fixture
async def consent(make_settings: Any, db_url: str, smtp: Any) -> Any:
    settings = make_settings("consent", db_url, mail_enabled=True, smtp_port=smtp.port, mail_bounce_address=BOUNCES)
    app = build_app("consent", settings)
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        token = await create_token(app.state.runtime.db, "mail-system", ["system"])
        client.headers.update({"x-site-key": key, "origin": ORIGIN})
        yield app, client, smtp, {"authorization": f"Bearer {token}", "content-type": "message/rfc822"}


async def sign_up(client: Any, smtp: Any, email: str) -> Any:
    r = await client.post(
        "/v1/consents",
        json={
            "email": email,
            "channel": "newsletter_signup",
            "notice": NOTICE,
            "purposes": [{"purpose": "newsletter", "granted": True}],
        },
    )
    assert r.status_code == 201
    await eventually(lambda: smtp.to(email), within=20)
    return smtp.to(email)[0]


async def mail_row(app: Any, mail_id: str) -> Any:
    async with app.state.runtime.db.read() as s:
        return (await s.execute(text("SELECT status, last_error FROM mail_outbox WHERE id = :i"), {"i": mail_id})).one()


async def bounce_entries(client: Any) -> int:
    return (await client.get("/ledger/entries")).text.count('"type":"nl.jzve.privacy.mail.bounced"')


async def test_a_returned_notice_marks_the_mail_bounced_once(consent: Any) -> None:
    app, client, smtp, system = consent
    mail = await sign_up(client, smtp, "piet@example.nl")
    sender = smtp.envelope_senders[smtp.messages.index(mail)]
    local, _, domain = sender.partition("@")
    assert local.startswith("bounces+m_") and domain == "mail.jezaakvoorelkaar.nl", sender
    mail_id = local.removeprefix("bounces+")
    assert mail_id in mail["Message-ID"]
    assert (await mail_row(app, mail_id)).status == "sent"

    notice = dsn(to=sender, original=mail)
    r = await client.post("/admin/mail/bounces", content=notice, headers=system)
    assert r.status_code == 200, r.text
    assert r.json() == {"mail_id": mail_id, "action": "failed", "status": "5.1.1", "outcome": "bounced"}
    row = await mail_row(app, mail_id)
    assert row.status == "bounced" and row.last_error.startswith("5.1.1 smtp; 550")
    assert "piet@example.nl" not in row.last_error, "the reason is kept without the address"
    assert await bounce_entries(client) == 1
    assert "piet@example.nl" not in (await client.get("/ledger/entries")).text

    # the mail server hands the same notice over again: same answer, no second ledger entry
    again = await client.post("/admin/mail/bounces", content=notice, headers=system)
    assert again.status_code == 200 and again.json()["outcome"] == "bounced"
    assert await bounce_entries(client) == 1

    # and twice at the same moment, for another mail: still one entry
    other = await sign_up(client, smtp, "marie@example.nl")
    twice = dsn(to=smtp.envelope_senders[smtp.messages.index(other)], recipient="marie@example.nl")
    both = await asyncio.gather(*(client.post("/admin/mail/bounces", content=twice, headers=system) for _ in "ab"))
    assert [r.json()["outcome"] for r in both] == ["bounced", "bounced"]
    assert await bounce_entries(client) == 2


async def test_matched_by_the_quoted_message_id_without_verp(consent: Any) -> None:
    app, client, smtp, system = consent
    mail = await sign_up(client, smtp, "kees@example.nl")
    notice = dsn(to="privacy@jezaakvoorelkaar.nl", recipient="kees@example.nl", original=mail, quote="message")
    r = await client.post("/admin/mail/bounces", content=notice, headers=system)
    assert r.status_code == 200 and r.json()["outcome"] == "bounced"
    assert (await mail_row(app, r.json()["mail_id"])).status == "bounced"


async def test_delayed_is_noted_and_bad_notices_get_clear_answers(consent: Any) -> None:
    app, client, smtp, system = consent
    mail = await sign_up(client, smtp, "jan@example.nl")
    sender = smtp.envelope_senders[smtp.messages.index(mail)]
    r = await client.post(
        "/admin/mail/bounces", content=dsn(to=sender, action="delayed", status="4.4.7"), headers=system
    )
    assert r.status_code == 200 and r.json()["outcome"] == "delayed"
    row = await mail_row(app, r.json()["mail_id"])
    assert row.status == "sent" and row.last_error.startswith("delayed 4.4.7")

    assert (await client.post("/admin/mail/bounces", content=dsn(to=sender))).status_code == 401
    plain = await client.post("/admin/mail/bounces", content=b"Subject: hello\r\n\r\nhi", headers=system)
    assert plain.status_code == 422 and "multipart/report" in plain.json()["detail"]
    empty = await client.post("/admin/mail/bounces", content=b"", headers=system)
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    foreign = dsn(to="bounces+m_" + "0" * 32 + "@mail.jezaakvoorelkaar.nl")
    unknown = await client.post("/admin/mail/bounces", content=foreign, headers=system)
    assert unknown.status_code == 404 and "no mail of this service" in unknown.json()["detail"]
    nameless = await client.post("/admin/mail/bounces", content=dsn(to="postmaster@example.nl"), headers=system)
    assert nameless.status_code == 422 and "names none of our mails" in nameless.json()["detail"]
    huge = await client.post("/admin/mail/bounces", content=b"x" * 70_000, headers=system)
    assert huge.status_code == 413
    assert (await mail_row(app, r.json()["mail_id"])).status == "sent", "nothing of the above changed it"


def test_a_report_without_recipient_fields_is_refused() -> None:
    broken = dsn(to="bounces+m_" + "1" * 32 + "@x.nl").replace(b"Action: failed", b"X-Action: failed")
    with pytest.raises(BounceError, match="Action and a Status"):
        read_notice(broken)
