"""The local SMTP server of `make run`: prints every mail it receives as a person would read it (the
plain-text part, decoded), so that a newcomer can open the links in it. Development only."""

from __future__ import annotations

import asyncio
import email
import sys
from email import policy
from typing import Any

from aiosmtpd.controller import Controller


class Printer:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else "(no plain-text part)"
        print(
            f"\n---------- mail to {', '.join(envelope.rcpt_tos)} ----------\n"
            f"Subject: {message['Subject']}\n\n{text.strip()}\n------------------------------------------------",
            flush=True,
        )
        return "250 OK"


async def main(host: str, port: int) -> None:
    controller = Controller(Printer(), hostname=host, port=port)
    controller.start()
    print(f"printing mail sent to smtp://{host}:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:1025"
    host, _, port = address.rpartition(":")
    asyncio.run(main(host, int(port)))
