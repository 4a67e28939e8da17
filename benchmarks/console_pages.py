"""How long each console page takes with a year's work in the databases (issue 15): 10,000 data-subject
requests (1,000 open), 1,000 breaches (20 not yet notified) and 50,000 consent decisions over 30 days.

The three services run as production serves them (privacy-serve, PostgreSQL, the real broker), the console
beside them; each page is fetched signed in, and the figures are the median and p95 of the runs, also as
a ratio to the console's sign-in page (no service call) fetched in the same run. The overview must stay
under 300 ms.

    .venv/bin/python benchmarks/console_pages.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support.pg import ADMIN, url  # noqa: E402
from services.common.auth import hash_token  # noqa: E402

SERVICES = ("consent", "dsar", "breach")
TOKEN = "pt_bench_" + secrets.token_urlsafe(24)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@contextlib.asynccontextmanager
async def databases() -> AsyncIterator[dict[str, str]]:
    names = {s: f"bench_console_{s}_{uuid.uuid4().hex[:6]}" for s in SERVICES}
    admin = await asyncpg.connect(ADMIN)
    for name in names.values():
        await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield {s: url(n, "postgresql") for s, n in names.items()}
    finally:
        admin = await asyncpg.connect(ADMIN)
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def start(service: str, url: str, port: int, prefix: str, shared: dict[str, str]) -> subprocess.Popen[bytes]:
    up = service.upper()
    env = {
        f"{up}_DATABASE_URL": url.replace("postgresql://", "postgresql+asyncpg://"),
        f"{up}_LEDGER_SIGNING_KEY": b64(),
        f"{up}_PSEUDONYM_KEY": shared["pseudonym"],
        f"{up}_SEALING_KEY": shared["sealing"],
        f"{up}_CENTRE_KEY": shared["centre"],
        f"{up}_KEY_ENCRYPTION_KEY": b64(),
        f"{up}_LINK_SIGNING_KEY": b64(),
        f"{up}_ACTIVECAMPAIGN_WEBHOOK_SECRET": "x" * 16,
        f"{up}_KAFKA_TOPIC_PREFIX": prefix,
        f"{up}_MAIL_ENABLED": "0",
        f"{up}_LOG_LEVEL": "WARNING",
    }
    args = [sys.executable, "-m", "services.common.serving", service, "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)


async def wait_ready(url: str, path: str = "/readyz", seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + path)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


async def seed(dbs: dict[str, str]) -> dict[str, str]:
    """The year's work, by SQL (the services' own tables, as their migrations made them)."""
    dsar = await asyncpg.connect(dbs["dsar"])
    await dsar.execute(
        """
        INSERT INTO dsar_requests (id, kind, subject, channel, state, language, received_at, verified_at, deadline,
                                   completed_at, holders, linked_requests)
        SELECT 'dsr_' || g, (ARRAY['access','erasure','rectification'])[1 + g % 3], md5(g::text), 'website',
               CASE WHEN g <= 1000 THEN 'in_progress' ELSE 'completed' END, 'nl',
               now() - (g % 40) * interval '1 day', now() - (g % 40) * interval '1 day',
               now() - (g % 40) * interval '1 day' + interval '1 month',
               CASE WHEN g <= 1000 THEN NULL ELSE now() END, '["consent", "breach", "mailchimp"]', 0
        FROM generate_series(1, 10000) g"""
    )
    await dsar.execute(
        """
        INSERT INTO dsar_holder_answers (request_id, holder, outcome, answered_at)
        SELECT 'dsr_' || g, h, 'erased', now()
        FROM generate_series(1, 10000) g, (VALUES ('consent'), ('breach')) hs(h)"""
    )
    breach = await asyncpg.connect(dbs["breach"])
    await breach.execute(
        """
        INSERT INTO breaches (id, title, description, awareness_at, started_at, ended_at, ongoing, ap_deadline,
                              details, state, risk, created_at, updated_at)
        SELECT 'brc_' || g, 'Datalek ' || g, 'Een export ging naar de verkeerde ontvanger (' || g || ').',
               now() - (g % 300) * interval '1 day' - interval '2 hours', NULL, NULL, false,
               now() - (g % 300) * interval '1 day' + interval '70 hours',
               '{"legal_basis": "AVG", "nature": ["confidentiality"], "acts": ["reading"], "categories": ["email"],
                 "special_people": null, "systems": [], "processors": [], "subjects_min": 10, "subjects_max": 20,
                 "records_approx": 20, "encrypted": false}',
               CASE WHEN g <= 20 THEN 'registered' ELSE 'notified' END, NULL, now(), now()
        FROM generate_series(1, 1000) g"""
    )
    consent = await asyncpg.connect(dbs["consent"])
    await consent.execute(
        """
        INSERT INTO consent_records (id, subject, purpose, third_party, state, legal_basis, channel, categories,
                                     notice_version, notice_hash, reason, event_id, ledger_seq, actor, created_at)
        SELECT 'rec_' || g, md5(g::text),
               (ARRAY['newsletter','leads','analytics_cookies','tracking_cookies'])[1 + g % 4],
               '', (ARRAY['granted','granted','withdrawn','denied'])[1 + (g / 4) % 4], 'consent', 'opt_in_form', '[]',
               'v1', '', CASE WHEN g % 7 = 0 THEN 'gpc' ELSE NULL END, 'ev_' || g, g, NULL,
               now() - (g % 30) * interval '1 day'
        FROM generate_series(1, 50000) g"""
    )
    for conn in (dsar, breach, consent):
        await conn.execute(
            "INSERT INTO api_tokens (id, name, token_hash, scopes, created_at) VALUES ($1, 'bench', $2, 'dpo', now())",
            str(uuid.uuid4()),
            hash_token(TOKEN),
        )
        await conn.execute("ANALYZE")
        await conn.close()
    return {"request": "dsr_5", "breach": "brc_3"}


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def main(runs: int) -> int:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    shared = {"pseudonym": b64(), "centre": b64(), "sealing": b64()}
    ports = {s: free_port() for s in SERVICES}
    async with databases() as dbs:
        procs = [start(s, dbs[s], ports[s], prefix, shared) for s in SERVICES]
        console_port = free_port()
        env = {f"CONSOLE_{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()}
        env["CONSOLE_SESSION_KEY"] = b64()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "services.console.main", "--port", str(console_port)],
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        try:
            for s in SERVICES:
                await wait_ready(f"http://127.0.0.1:{ports[s]}")
            console = f"http://127.0.0.1:{console_port}"
            await wait_ready(console, "/healthz")
            ids = await seed(dbs)
            async with httpx.AsyncClient(base_url=console, timeout=30) as client:
                r = await client.post("/sign-in", data={"token": TOKEN, "next": "/"})
                assert r.status_code == 303, r.text
                pages = {
                    "sign-in page (baseline)": "/sign-in",
                    "overview": "/",
                    "requests (open, by deadline)": "/requests",
                    "one request": f"/requests/{ids['request']}",
                    "breach register (1,000)": "/breaches",
                    "one breach": f"/breaches/{ids['breach']}",
                    "processors": "/processors",
                    "ledgers": "/ledgers",
                }
                for path in pages.values():  # warm up every path once
                    assert (await client.get(path)).status_code == 200, path
                times: dict[str, list[float]] = {name: [] for name in pages}
                for _ in range(runs):
                    for name, path in pages.items():
                        t0 = time.perf_counter()
                        r = await client.get(path)
                        times[name].append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200, (path, r.status_code)
            base, _ = summary(times["sign-in page (baseline)"])
            print(f"console pages, {runs} runs each; 10,000 requests, 1,000 breaches, 50,000 consent decisions")
            for name, samples in times.items():
                median, p95 = summary(samples)
                ratio = median / base
                print(
                    f"  {name:32s} median {median:7.1f} ms  p95 {p95:7.1f} ms  ratio to the sign-in page {ratio:6.1f}"
                )
            overview, _ = summary(times["overview"])
            print(f"overview median {overview:.1f} ms: {'within' if overview < 300 else 'OVER'} the 300 ms budget")
            return 0 if overview < 300 else 1
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
