"""An outside process that holds no secret of ours (only a `lookup` token and the broker's address) answers
"may I mail this person?" with `examples/may_i_mail.py`: before and after a withdrawal in the privacy
centre, and after an erasure (a tombstone: "unknown"). The consent service runs on uvicorn with its real
relay and a real broker; the person signs in by a mail read from a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from services.common.auth import create_token
from tests.conftest import KAFKA, ROOT, build_app, eventually, free_port, serve
from tests.notices import NOTICE

EMAIL = "noor@example.nl"


async def may_i_mail(url: str, token: str, prefix: str, *addresses: str) -> dict[str, str]:
    """Run the example as another system would: its own process, an environment with no service secret."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    assert not any(k.startswith(("CONSENT_", "DSAR_", "BREACH_")) for k in env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "may_i_mail.py"),
        "--consent",
        url,
        "--token",
        token,
        "--bootstrap",
        KAFKA,
        "--topic-prefix",
        prefix,
        "--json",
        *addresses,
        env=env,
        cwd="/",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    answers: dict[str, str] = json.loads(out.decode().strip().splitlines()[-1])
    return answers


async def test_another_system_answers_with_a_lookup_token_and_the_topic_alone(
    make_settings: Callable[..., Any], tmp_path: Path, topic_prefix: str, smtp: Any
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(
        "consent",
        f"sqlite+aiosqlite:///{tmp_path}/consent.db",
        public_base_url=base,
        mail_enabled=True,
        smtp_port=smtp.port,
        dsar_url=f"http://127.0.0.1:{free_port()}",  # not running: the centre says so, withdrawals still work
    )
    app = build_app("consent", settings)
    async with serve(app, port), httpx.AsyncClient(base_url=base, timeout=20) as client:
        rt = app.state.runtime
        staff = await create_token(rt.db, "staff", ["admin"])
        lookup = await create_token(rt.db, "mailer", ["lookup"])
        r = await client.post(
            "/admin/consents",
            json={
                "email": EMAIL,
                "channel": "email",
                "notice": NOTICE,
                "purposes": [{"purpose": "newsletter", "granted": True}],
            },
            headers={"authorization": f"Bearer {staff}"},
        )
        assert r.status_code == 201, r.text

        async def answers_become(expected: dict[str, str]) -> None:
            async def check() -> bool:
                return await may_i_mail(base, lookup, topic_prefix, *expected) == expected

            await eventually(check, within=60, interval=0.5)

        await answers_become({EMAIL: "yes", "stranger@example.nl": "unknown"})

        # the person withdraws in the privacy centre: signed in by the mailed link
        assert (await client.post("/privacy/sign-in", data={"email": EMAIL, "lang": "nl"})).status_code == 200
        mail = await eventually(lambda: smtp.to(EMAIL), within=20)
        body = mail[-1].get_body(preferencelist=("plain",)).get_content()
        link = re.findall(re.escape(base) + r"(/privacy/sign-in/\S+)", body)[0]
        page = await client.get(link)
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        signed = await client.post(link, data={"nonce": nonce[1] if nonce else ""})
        assert signed.status_code == 303, signed.text
        centre = await client.get("/privacy")
        csrf = re.findall(r'name="csrf" value="([^"]+)"', centre.text)[0]
        done = await client.post("/privacy/withdraw", data={"purpose": "newsletter", "csrf": csrf, "lang": "nl"})
        assert done.status_code == 303, done.text
        await answers_become({EMAIL: "no", "stranger@example.nl": "unknown"})

        # erased: a tombstone on the topic, and the other system holds nothing on the person
        from services.consent import subjects
        from services.consent.context import ConsentContext

        ctx = ConsentContext.of(rt)
        async with rt.db.transaction() as s:
            await subjects.erase_in(ctx, s, rt.recorder.pseudonym(EMAIL), "erasure request (test)")
        await answers_become({EMAIL: "unknown", "stranger@example.nl": "unknown"})
