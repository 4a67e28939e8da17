"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in the contract fuzz run: bodies it cannot make itself."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st


def _dsn(mail_id: str, action: str) -> bytes:
    """A delivery status notification (RFC 3464) shaped like the ones a mail server returns."""
    return (
        "From: MAILER-DAEMON@mx.example.nl\r\nTo: bounces+" + mail_id + "@example.nl\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\n"
        f"Final-Recipient: rfc822; someone@example.nl\r\nAction: {action}\r\nStatus: 5.1.1\r\n"
        "--b--\r\n"
    ).encode()


# POST /admin/mail/bounces reads a message/rfc822 body: random bytes, and DSNs naming unknown mails
schemathesis.openapi.media_type(
    "message/rfc822",
    st.one_of(
        st.binary(max_size=400),
        st.builds(_dsn, st.text("abcdef0123456789", min_size=1, max_size=32), st.sampled_from(["failed", "delayed"])),
    ),
)
