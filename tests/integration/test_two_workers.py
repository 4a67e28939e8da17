"""Issue 34, item 4: what is kept per process behaves as the README says with two workers
(`privacy-serve consent --workers 2`, PostgreSQL, as production runs it): every worker builds the same notice
(one ETag for every page view, whichever worker answers), a revoked site key is refused by every worker
within the key cache's 5 seconds, and the public rate limit is a bucket per worker (a client gets at most
twice the limit, never less than it)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx

from benchmarks.support.consent_env import SITE_KEY, consent_env
from services.common.auth import revoke_site_key
from services.common.db import Database
from tests.conftest import ROOT, free_port

LIMIT = 10  # public requests per minute per address and site key, per worker


async def test_two_workers_agree_on_the_notice_and_a_revocation_and_each_keeps_its_own_bucket(
    pg_url: str, tmp_path: Any, kafka: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **consent_env(pg_url, f"tw{port}.", str(tmp_path)),
        "CONSENT_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "CONSENT_RATE_LIMIT_PER_MINUTE": str(LIMIT),
    }
    args = [sys.executable, "-m", "services.common.serving", "consent", "--host", "127.0.0.1", "--port", str(port)]
    server = await asyncio.create_subprocess_exec(
        *args, "--workers", "2", env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(240):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
            # a new connection per page view: the kernel hands them to either worker
            banner = f"/v1/banner?site_key={SITE_KEY}&lang=nl"
            etags = set()
            for _ in range(40):
                async with httpx.AsyncClient(base_url=base, timeout=10) as once:
                    r = await once.get(banner)
                    assert r.status_code == 200, r.text
                    etags.add(r.headers["etag"])
            assert len(etags) == 1, "every worker builds the same notice from the same configuration"

            # the public bucket is per worker: at least the limit, at most twice it
            body = {"browser_id": "b_two_workers_1", "analytics": False, "tracking": False}
            body["notice"] = {"version": "2024-05", "hash": "0" * 64}
            answered = []
            for _ in range(LIMIT * 4):
                async with httpx.AsyncClient(base_url=base, timeout=10) as once:
                    answered.append(
                        (await once.post("/v1/cookies", json=body, headers={"x-site-key": SITE_KEY})).status_code
                    )
            admitted = sum(1 for s in answered if s != 429)
            assert LIMIT <= admitted <= 2 * LIMIT, answered

            # a revocation: refused by every worker within the key cache's 5 seconds
            db = Database(pg_url)
            await revoke_site_key(db, SITE_KEY)
            await db.engine.dispose()
            revoked = time.monotonic()
            while True:
                codes = set()
                for _ in range(12):
                    async with httpx.AsyncClient(base_url=base, timeout=10) as once:
                        codes.add((await once.get(banner)).status_code)
                if codes == {401}:
                    break
                assert time.monotonic() - revoked < 5 + 2, codes
                await asyncio.sleep(0.5)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
