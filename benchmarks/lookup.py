"""The lookup other systems use (POST /v1/lookup, issue 35): addresses answered per second in batches of
1,000, against the consent capture's rate (one address each) measured by wrk in the same run on the same
server (PostgreSQL, ledger and outbox on, real Kafka, one uvicorn worker).

    .venv/bin/python benchmarks/lookup.py [--seconds 10] [--clients 4]

Each batch asks about addresses never seen (an unknown address costs the same read as a known one, and
answers alike). Needs scripts/postgres.sh start, scripts/kafka.sh start and wrk (make bench installs it)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.consent_write import KAFKA, serve, wait_ready, wrk  # noqa: E402
from benchmarks.support.consent_env import consent_env  # noqa: E402
from benchmarks.support.pg import ADMIN, analyze, url  # noqa: E402
from services.common.kafka import delete_topics  # noqa: E402

PORT = 18911
BATCH = 1000


def lookup_token(env: dict[str, str]) -> str:
    """A token of scope lookup, made as an operator makes one (privacyctl)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.common.cli",
            *["token", "create", "--name", "bench", "--scope", "lookup", "--service", "consent"],
        ],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(word for word in out.split() if word.startswith("pt_"))


async def lookups(token: str, seconds: float, clients: int) -> tuple[float, float]:
    """(addresses a second, mean ms per batch) over `clients` concurrent callers."""
    done = 0
    took: list[float] = []
    deadline = time.monotonic() + seconds

    async def caller(n: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=60) as http:
            batch = 0
            while time.monotonic() < deadline:
                emails = [f"lookup-{n}-{batch}-{i}@example.nl" for i in range(BATCH)]
                started = time.monotonic()
                r = await http.post("/v1/lookup", json={"emails": emails}, headers={"authorization": f"Bearer {token}"})
                if r.status_code != 200:
                    raise SystemExit(f"lookup answered {r.status_code}: {r.text[:300]}")
                took.append(time.monotonic() - started)
                done += BATCH
                batch += 1

    started = time.monotonic()
    await asyncio.gather(*(caller(n) for n in range(clients)))
    return done / (time.monotonic() - started), 1000 * sum(took) / len(took)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32, help="wrk's, for the capture rate")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: scripts/wrk.sh installs Debian's (make bench runs it)")
    name = "bench_lookup_" + uuid.uuid4().hex[:6]
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    prefix = f"benchl{uuid.uuid4().hex[:6]}."
    env = consent_env(url(name), prefix, tempfile.mkdtemp())
    env["CONSENT_LOOKUP_ADDRESSES_PER_MINUTE"] = "10000000"
    server = serve("services.consent.main:create", PORT, env, factory=True, workers=1)
    try:
        wait_ready(f"http://127.0.0.1:{PORT}/readyz", 120)
        token = lookup_token(env)
        wrk(PORT, 5, args.connections)  # warm-up, and some thousands of people in the tables
        await analyze(name)
        await lookups(token, 2, args.clients)  # warm-up
        capture_rate, capture_p99 = wrk(PORT, args.seconds, args.connections)
        rate, mean_ms = await lookups(token, args.seconds, args.clients)
        again, _ = wrk(PORT, args.seconds, args.connections)  # before and after: a drift cancels out
        capture = (capture_rate + again) / 2
        print(f"one consent server, one uvicorn worker, PostgreSQL, ledger and outbox on; {args.seconds} s each")
        print(
            f"consent capture (one address each, wrk -c{args.connections}):  {capture:8.0f} addresses/s"
            f" (p99 {capture_p99})"
        )
        print(
            f"lookup, batches of {BATCH} ({args.clients} callers):           {rate:8.0f} addresses/s"
            f"  ({mean_ms:.0f} ms a batch)"
        )
        print(f"ratio lookup / capture, per address: {rate / capture:.1f}")
    finally:
        server.terminate()
        server.wait(30)
        await delete_topics(KAFKA, prefix)
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
