"""DSAR figures on PostgreSQL and the real broker.

1. Compiling one person's access export with 10,000 and with 1,000,000 other people's requests, answers
   and keys in the database: the 1M time must be at most 1.2 times the 10k time.
2. Time from a verified erasure request to every one of our services confirming, p50 and p99 over 100.

    .venv/bin/python benchmarks/dsar.py [--small 10000] [--large 1000000] [--erasures 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support.pg import ADMIN, url  # noqa: E402
from services.common.contracts import HolderAnswered, Outcome, RequestKind, seal_fragment  # noqa: E402


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = "bench_dsar_" + uuid.uuid4().hex[:6]
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield url(name)
    finally:
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def settings(service: str, url: str, prefix: str, shared: str) -> Any:
    from services.common.cli import settings_for

    def b64() -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode()

    env = {
        "DATABASE_URL": url,
        "LEDGER_SIGNING_KEY": b64(),
        "PSEUDONYM_KEY": shared,
        # the key sealing what crosses Kafka, shared like the pseudonym key (derived from it here)
        "SEALING_KEY": base64.b64encode(hashlib.sha256(b"sealing:" + shared.encode()).digest()).decode(),
        # the privacy centre's key, shared by consent and dsar like the pseudonym key (derived from it here)
        "CENTRE_KEY": base64.b64encode(hashlib.sha256(b"centre:" + shared.encode()).digest()).decode(),
        "KEY_ENCRYPTION_KEY": b64(),
        "LINK_SIGNING_KEY": b64(),
        "ACTIVECAMPAIGN_WEBHOOK_SECRET": "x" * 12,
        "KAFKA_TOPIC_PREFIX": prefix,
        "MAIL_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
        "OUTBOX_POLL_SECONDS": "0.05",
    }
    os.environ.update({f"{service.upper()}_{k}": v for k, v in env.items()})
    return settings_for(service)


async def export_time(others: int) -> float:
    from services.common.ledger.recovery import Integrity
    from services.dsar.export import compile_export
    from services.dsar.main import build_runtime
    from services.dsar.service import DsarContext

    async with database() as url:
        rt = build_runtime(settings("dsar", url, "bench.", base64.b64encode(secrets.token_bytes(32)).decode()))
        await rt.db.migrate(rt.migrations)
        rt.integrity = Integrity("sound", "")  # not started: a fresh database, nothing to compare with Kafka
        ctx = DsarContext.of(rt)
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        t0 = time.perf_counter()
        await conn.execute(
            """
            INSERT INTO dsar_requests (id, kind, subject, channel, state, language, received_at, verified_at,
                                       deadline, completed_at, holders, linked_requests)
            SELECT 'dsr_other_' || g, 'access', md5(g::text) || md5((g + 1)::text), 'website', 'completed', 'nl',
                   now(), now(), now() + interval '1 month', now(), '["consent"]', 0
            FROM generate_series(1, $1) g""",
            others,
        )
        await conn.execute(
            """
            INSERT INTO dsar_holder_answers (request_id, holder, outcome, answered_at, key_id, fragment)
            SELECT 'dsr_other_' || g, h, 'provided', now(), 'k_other_' || g, repeat('x', 400)
            FROM generate_series(1, $1) g, (VALUES ('consent'), ('breach')) AS hs(h)""",
            others,
        )
        await conn.execute(
            """
            INSERT INTO subject_keys (subject, key_id, wrapped_key, created_at)
            SELECT md5(g::text) || md5((g + 1)::text), 'k_other_' || g, decode(repeat('ab', 60), 'hex'), now()
            FROM generate_series(1, $1) g""",
            others,
        )
        await conn.execute("ANALYZE")
        await conn.close()
        fill = time.perf_counter() - t0
        request = None
        async with rt.db.transaction() as s:
            from services.dsar.models import DsarRequest

            subject = rt.recorder.pseudonym("me@example.nl")
            now = datetime.now(UTC)
            request = DsarRequest(
                id="dsr_me_0000000000000000",
                kind="access",
                subject=subject,
                channel="website",
                state="in_progress",
                received_at=now,
                verified_at=now,
                deadline=now + timedelta(days=30),
                holders='["breach", "consent"]',
            )
            s.add(request)
        fragment = {
            "records": [
                {"purpose": "contact", "state": "granted", "evidence": {"email": "me@example.nl"}} for _ in range(20)
            ],
            "states": {"contact": "granted"},
        }
        async with rt.db.transaction() as s:
            for holder in ("consent", "breach"):
                from services.dsar.service import record_answer

                await record_answer(
                    ctx,
                    s,
                    HolderAnswered(
                        request_id=request.id,
                        holder=holder,
                        kind=RequestKind.ACCESS,
                        subject=subject,
                        outcome=Outcome.PROVIDED,
                        fragment=seal_fragment(ctx.rt.sealing, request.id, fragment),
                    ),
                )
        for _ in range(20):
            await compile_export(ctx, request.id)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            export = await compile_export(ctx, request.id)
            times.append(time.perf_counter() - t0)
        assert len(export["holders"]["consent"]["data"]["records"]) == 20
        await rt.db.dispose()
        print(
            f"  {others:>9,} other people: export in {statistics.median(times) * 1000:.2f} ms median "
            f"(database filled in {fill:.0f}s)"
        )
        return statistics.median(times)


async def erasure_latency(n: int) -> tuple[float, float]:
    from services.common.auth import create_token
    from tests.conftest import build_app, running

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    shared = base64.b64encode(secrets.token_bytes(32)).decode()
    async with contextlib.AsyncExitStack() as stack:
        apps = {}
        for service in ("consent", "dsar", "breach"):
            url = await stack.enter_async_context(database())
            apps[service] = build_app(service, settings(service, url, prefix, shared))
        clients = {k: await stack.enter_async_context(running(a)) for k, a in apps.items()}
        for app in apps.values():
            while not app.state.runtime.consumers[0].ready.is_set():
                await asyncio.sleep(0.1)
        dsar = apps["dsar"].state.runtime
        token = await create_token(dsar.db, "bench", ["dpo"])
        for i in range(n):
            r = await clients["dsar"].post(
                "/admin/requests",
                headers={"authorization": f"Bearer {token}"},
                json={"kind": "erasure", "email": f"weg{i}@example.nl", "channel": "email", "identity_verified": True},
            )
            assert r.status_code == 201, r.text
            await asyncio.sleep(0.05)
        conn = await asyncpg.connect(str(dsar.db.url).replace("+asyncpg", ""))
        try:
            while (await conn.fetchval("SELECT count(*) FROM dsar_requests WHERE state = 'completed'")) < n:
                await asyncio.sleep(0.2)
            rows = await conn.fetch("SELECT extract(epoch FROM completed_at - verified_at) AS s FROM dsar_requests")
        finally:
            await conn.close()
    delays = sorted(float(r["s"]) * 1000 for r in rows)
    return statistics.median(delays), delays[max(0, int(len(delays) * 0.99) - 1)]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--erasures", type=int, default=100)
    args = parser.parse_args()
    print("access export, one person's request among others:")
    small = await export_time(args.small)
    large = await export_time(args.large)
    print(f"ratio {args.large:,} / {args.small:,}: {large / small:.2f} (target <= 1.20)")
    p50, p99 = await erasure_latency(args.erasures)
    print(
        f"verified erasure -> consent and breach confirmed (real broker), {args.erasures} requests: "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
