"""Consent writes per second through HTTP (PostgreSQL, ledger and outbox on, real Kafka), 32 concurrent
clients, beside a bare FastAPI endpoint returning a constant, both measured by wrk in the same run;
then the latency from the HTTP response to the event being read by a Kafka consumer at half the rate.

    .venv/bin/python benchmarks/consent_write.py [--seconds 10] [--connections 32]

Needs: scripts/postgres.sh start, scripts/kafka.sh start, and wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "postgresql://privacy:privacy@127.0.0.1:5432/postgres"
KAFKA = "127.0.0.1:9092"
SITE_KEY = "sk_bench_" + secrets.token_hex(6)


def b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def serve(app: str, port: int, env: dict[str, str], factory: bool) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        args.append("--factory")
    return subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)


def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def wrk(port: int, seconds: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "benchmarks" / "support" / "consent_post.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "SITE_KEY": SITE_KEY},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses:\n{out}")
    p99 = re.search(r"99%\s+(\S+)", out)
    return rate, p99.group(1) if p99 else "?"


async def latency(port: int, prefix: str, rate: float, seconds: float) -> tuple[float, float, int]:
    """Send at `rate`/s; time from each HTTP response to its event reaching a Kafka consumer."""
    consumer = AIOKafkaConsumer(prefix + "consent.events.v1", bootstrap_servers=KAFKA, auto_offset_reset="latest")
    await consumer.start()
    await asyncio.sleep(2)  # partitions assigned, positioned at the end
    answered: dict[str, float] = {}
    arrived: dict[str, float] = {}

    async def consume() -> None:
        while True:
            for msgs in (await consumer.getmany(timeout_ms=100)).values():
                now = time.perf_counter()
                for m in msgs:
                    arrived.setdefault(dict(m.headers)["ce_id"].decode(), now)

    reader = asyncio.create_task(consume())
    body = {
        "channel": "contact_form",
        "notice": {"version": "2024-05", "hash": "a" * 64},
        "purposes": [{"purpose": "contact", "granted": True}],
        "data_categories": ["email"],
    }
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"x-site-key": SITE_KEY}, limits=httpx.Limits(max_connections=64)
    ) as client:

        async def one(i: int) -> None:
            r = await client.post("/v1/consents", json={**body, "email": f"lat-{i}-{uuid.uuid4().hex[:6]}@example.nl"})
            now = time.perf_counter()
            for ref in r.json()["receipt"]["ledger"]:
                answered[ref["event_id"]] = now

        start = time.perf_counter()
        tasks, i = [], 0
        while time.perf_counter() - start < seconds:
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 30
    while set(answered) - set(arrived) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    reader.cancel()
    await consumer.stop()
    delays = sorted(max(0.0, arrived[k] - answered[k]) * 1000 for k in answered if k in arrived)
    missing = len(set(answered) - set(arrived))
    if missing:
        raise SystemExit(f"{missing} events never reached the consumer")
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1], len(delays)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    name = "bench_consent_" + uuid.uuid4().hex[:6]
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    var = tempfile.mkdtemp()
    env = {
        "CONSENT_DATABASE_URL": f"postgresql+asyncpg://privacy:privacy@127.0.0.1:5432/{name}",
        "CONSENT_DEV_MODE": "1",
        "PRIVACY_VAR_DIR": var,
        "CONSENT_DEMO_SITE_KEY": SITE_KEY,
        "CONSENT_KAFKA_TOPIC_PREFIX": prefix,
        "CONSENT_RATE_LIMIT_PER_MINUTE": "100000000",
        "CONSENT_MAIL_ENABLED": "0",
        "CONSENT_LOG_LEVEL": "WARNING",
        "CONSENT_LEDGER_SIGNING_KEY": b64(),
        "CONSENT_PSEUDONYM_KEY": b64(),
        "CONSENT_KEY_ENCRYPTION_KEY": b64(),
        "CONSENT_LINK_SIGNING_KEY": b64(),
        "CONSENT_ACTIVECAMPAIGN_WEBHOOK_SECRET": secrets.token_hex(8),
    }
    bare = serve("benchmarks.support.bare_app:app", 18900, {}, factory=False)
    consent = serve("services.consent.main:create", 18901, env, factory=True)
    try:
        wait_ready("http://127.0.0.1:18900/docs")
        wait_ready("http://127.0.0.1:18901/readyz", 120)  # 503 until database and Kafka answer
        wrk(18900, 2, args.connections)  # warm-up
        wrk(18901, 2, args.connections)
        bare_rate, bare_p99 = wrk(18900, args.seconds, args.connections)
        consent_rate, consent_p99 = wrk(18901, args.seconds, args.connections)
        print(f"bare FastAPI endpoint (constant): {bare_rate:8.0f} req/s  (p99 {bare_p99})")
        print(f"consent capture (PostgreSQL, ledger, outbox, Kafka): {consent_rate:8.0f} req/s  (p99 {consent_p99})")
        print(f"ratio consent / bare: {consent_rate / bare_rate:.2f} (target >= 0.50)")
        p50, p99, n = await latency(18901, prefix, consent_rate / 2, args.seconds)
        print(
            f"HTTP response -> Kafka consumer at {consent_rate / 2:.0f} req/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"over {n} events (target p99 < 100 ms)"
        )
    finally:
        for p in (bare, consent):
            p.terminate()
            p.wait(10)
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
