"""Consent writes per second through HTTP (PostgreSQL, ledger and outbox on, real Kafka), 32 concurrent
clients, beside a bare FastAPI endpoint returning a constant, both measured by wrk in the same run;
then the latency from the HTTP response to the event being read by a Kafka consumer at half the rate.

    .venv/bin/python benchmarks/consent_write.py [--seconds 10] [--connections 32]

Needs: scripts/postgres.sh start, scripts/kafka.sh start, and wrk (apt-get install wrk). The test server
runs with fsync off; for durable commits, as production has them, start one of its own and point the run at it:
    PGPORT=5433 PG_DURABLE=1 scripts/postgres.sh start && PGPORT=5433 .venv/bin/python benchmarks/consent_write.py
The run prints which of the two it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from services.common.kafka import delete_topics

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support.consent_env import SITE_KEY, consent_env, served_notice_hash  # noqa: E402
from benchmarks.support.cpu import CpuMeter, named, tree  # noqa: E402
from benchmarks.support.pg import ADMIN, PG, analyze, commits_flushed, url  # noqa: E402

KAFKA = "127.0.0.1:9092"
# issue 12's measured floor, kept as a regression guard (issue 34): a capture, with its ledger entry, outbox row
# and group commit, against one naive INSERT in its own transaction (0.57 when it was set: 1,713 / 2,990 req/s)
GUARD = 0.55


def serve(app: str, port: int, env: dict[str, str], factory: bool, workers: int) -> subprocess.Popen[bytes]:
    """A service as production serves it (privacy-serve: uvicorn with its limits); other apps by uvicorn."""
    common = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if app.startswith("services.") and app.endswith(".main:create"):
        args = [sys.executable, "-m", "services.common.serving", app.split(".")[1], *common]
    else:
        args = [sys.executable, "-m", "uvicorn", app, *common, "--no-access-log"]
        if factory:
            args.append("--factory")
    if workers > 1:
        args += ["--workers", str(workers)]
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
        env={**os.environ, "SITE_KEY": SITE_KEY, "NOTICE_HASH": served_notice_hash(port)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses:\n{out}")
    # the latency distribution's 99% line, not the thread-stats table above it (whose "+/- Stdev"
    # column also ends in %, so a loose pattern picked up Req/Sec figures as the p99)
    distribution = out.split("Latency Distribution", 1)[-1]
    p99 = re.search(r"^\s*99%\s+(\S+)\s*$", distribution, re.M)
    return rate, p99.group(1) if p99 else "?"


def consume(topic: str, ready: Any, stop: Any, out: Any) -> None:
    """In its own process, so that the load generator's work never delays a reading: record when each
    event id arrives (time.monotonic is one clock for every process of the machine)."""

    async def run() -> None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="latest", fetch_max_wait_ms=20)
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.seek_to_end(tp)
            await consumer.position(tp)
        ready.set()
        arrived: dict[str, float] = {}
        while not stop.is_set():
            for msgs in (await consumer.getmany(timeout_ms=50)).values():
                now = time.monotonic()
                for m in msgs:
                    arrived.setdefault(dict(m.headers)["ce_id"].decode(), now)
        await consumer.stop()
        out.put(arrived)

    asyncio.run(run())


async def paced_posts(port: int, rate: float, seconds: float, connections: int = 64) -> dict[str, float]:
    """POST captures at `rate`/s over keep-alive connections with a bare HTTP/1.1 client (httpx would
    itself need a core at these rates); returns when each event id's response was read."""
    answered: dict[str, float] = {}
    notice = {"version": "2024-05", "hash": served_notice_hash(port)}
    start = time.monotonic()
    total = int(rate * seconds)
    counter = iter(range(total))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                body = json.dumps(
                    {
                        "email": f"lat-{i}-{uuid.uuid4().hex[:6]}@example.nl",
                        "channel": "contact_form",
                        "notice": notice,
                        "purposes": [{"purpose": "contact", "granted": True}],
                        "data_categories": ["email"],
                    }
                ).encode()
                writer.write(
                    b"POST /v1/consents HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                    + f"x-site-key: {SITE_KEY}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
                answer = await reader.readexactly(length)
                now = time.monotonic()
                if not head.startswith(b"HTTP/1.1 201"):
                    raise SystemExit(f"capture failed: {head!r} {answer[:300]!r}")
                for ref in json.loads(answer)["receipt"]["ledger"]:
                    answered[ref["event_id"]] = now
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    achieved = len(answered) / (time.monotonic() - start)
    if achieved < rate * 0.9:
        print(f"(the load reached {achieved:.0f} req/s, not {rate:.0f})")
    return answered


async def latency(port: int, prefix: str, rate: float, seconds: float) -> list[float]:
    """Send at `rate`/s; time from each HTTP response to its event reaching a Kafka consumer."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=consume, args=(prefix + "consent.events.v1", ready, stop, out))
    reader.start()
    if not await asyncio.to_thread(ready.wait, 60):
        raise SystemExit("the Kafka consumer did not get its partitions")
    answered = await paced_posts(port, rate, seconds)
    await asyncio.sleep(3)  # the last events on their way
    stop.set()
    arrived: dict[str, float] = await asyncio.to_thread(out.get, True, 60)
    reader.join(10)
    missing = len(set(answered) - set(arrived))
    if missing:
        raise SystemExit(f"{missing} events never reached the consumer")
    return sorted(max(0.0, arrived[k] - answered[k]) * 1000 for k in answered)


async def report_latency(port: int, prefix: str, rate: float, seconds: float) -> None:
    delays = await latency(port, prefix, rate, seconds)
    p50, p90, p99 = (delays[max(0, int(len(delays) * q) - 1)] for q in (0.5, 0.9, 0.99))
    print(
        f"HTTP response -> Kafka consumer at {rate:.0f} req/s over {len(delays)} events: p50 {p50:.1f} ms, "
        f"p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {delays[-1]:.1f} ms (target p99 < 100 ms)"
    )


def explain_cpu(runs: dict[str, tuple[CpuMeter, float]], seconds: int, workers: int) -> None:
    """What each request cost in CPU, per part of the system, and what that allows on this machine: the
    ratio to the naive write is set by CPU, by the server's own processes (one core each) and by the machine.
    `runs`: bare, naive and consent, each its meter and rate."""
    for name, (meter, rate) in runs.items():
        print(f"CPU per request, {name + ':':8} {meter.per_request(rate * seconds)}")
    (consent, consent_rate), bare_rate, naive_rate = runs["consent"], runs["bare"][1], runs["naive"][1]
    cores = os.cpu_count() or 1
    need = consent.total_per_request(consent_rate * seconds)
    print(
        f"with {cores} cores and every part in parallel, captures at that cost reach at most {cores / need:.0f} "
        f"req/s ({cores / need / bare_rate:.2f} x bare); 0.5 x bare needs {0.5 * bare_rate * need:.1f} cores"
    )
    guard = GUARD * naive_rate
    server = consent.used["server"] / (consent_rate * seconds)
    print(
        f"the guard, {GUARD} x naive, is {guard:.0f} req/s: that leaves {min(workers, cores) / guard * 1e6:.0f} µs of"
        f" server CPU per capture on {workers} worker(s) (now {server * 1e6:.0f}) and {cores / guard * 1e6:.0f} µs of"
        f" CPU in all on {cores} cores (now {need * 1e6:.0f}), with every part busy all the time"
    )


async def variant(
    env: dict[str, str], name: str, prefix: str, suffix: str, extra: dict[str, str]
) -> tuple[str, str, dict[str, str]]:
    """A second consent server's database name, topic prefix and environment (the database created)."""
    database, topics = f"{name}_{suffix}", prefix.rstrip(".") + suffix + "."
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    return (
        database,
        topics,
        {**env, "CONSENT_DATABASE_URL": url(database), "CONSENT_KAFKA_TOPIC_PREFIX": topics, **extra},
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, the same for every server")
    parser.add_argument("--rate", type=float, help="only the latency part, at this many requests a second")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: scripts/wrk.sh installs Debian's (make bench runs it)")
    name = "bench_consent_" + uuid.uuid4().hex[:6]
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    flushed = await commits_flushed()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    var = tempfile.mkdtemp()
    env = consent_env(url(name), prefix, var)
    # the same capture with metrics and tracing switched off, and with every span recorded (what an
    # exporter with the SDK's default sampler costs, minus the export), each on a database and topics of
    # its own (two relays on one outbox would publish each other's rows)
    quiet_name, quiet_prefix, quiet_env = await variant(
        env, name, prefix, "off", {"CONSENT_METRICS_ENABLED": "0", "OTEL_SDK_DISABLED": "true"}
    )
    recorded_name, recorded_prefix, recorded_env = await variant(
        env, name, prefix, "rec", {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}
    )
    bare = serve("benchmarks.support.bare_app:app", 18900, {}, factory=False, workers=args.workers)
    parsing = serve("benchmarks.support.bare_app:validating", 18902, {}, factory=False, workers=args.workers)
    naive_dsn = env["CONSENT_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    naive = serve("benchmarks.support.bare_app:naive", 18905, {"NAIVE_DSN": naive_dsn}, False, args.workers)
    consent = serve("services.consent.main:create", 18901, env, factory=True, workers=args.workers)
    quiet = serve("services.consent.main:create", 18903, quiet_env, factory=True, workers=args.workers)
    recorded = serve("services.consent.main:create", 18904, recorded_env, factory=True, workers=args.workers)
    try:
        wait_ready("http://127.0.0.1:18900/docs")
        wait_ready("http://127.0.0.1:18902/docs")
        wait_ready("http://127.0.0.1:18905/docs")
        wait_ready("http://127.0.0.1:18901/readyz", 120)  # 503 until database and Kafka answer
        wait_ready("http://127.0.0.1:18903/readyz", 120)
        wait_ready("http://127.0.0.1:18904/readyz", 120)
        if args.rate:
            await report_latency(18901, prefix, args.rate, args.seconds)
            return
        for port in (18900, 18902, 18905):
            wrk(port, 2, args.connections)  # warm-up
        wrk(18901, 5, args.connections)  # warm-up, and some thousands of rows in the tables
        wrk(18903, 5, args.connections)
        wrk(18904, 5, args.connections)
        for db in (name, quiet_name, recorded_name):
            await analyze(db)
        bare_cpu = CpuMeter({"server": tree(bare.pid)})
        consent_cpu = CpuMeter({"server": tree(consent.pid), "PostgreSQL": named("postgres"), "Kafka": named("java")})
        bare_cpu.start()
        bare_rate, bare_p99 = wrk(18900, args.seconds, args.connections)
        bare_cpu.stop()
        parsing_rate, parsing_p99 = wrk(18902, args.seconds, args.connections)
        naive_cpu = CpuMeter({"server": tree(naive.pid), "PostgreSQL": named("postgres")})
        naive_cpu.start()
        naive_rate, naive_p99 = wrk(18905, args.seconds, args.connections)
        naive_cpu.stop()
        consent_cpu.start()
        consent_rate, consent_p99 = wrk(18901, args.seconds, args.connections)
        consent_cpu.stop()
        # on, off, off, on (ABBA): each database gets the same writes, and a drift of the machine during the
        # run cancels out instead of counting against whichever mode came last
        # server CPU of each mode over both of its runs (the first on-run is the one metered above too)
        on_cpu_seconds = consent_cpu.used["server"]
        quiet_cpu = CpuMeter({"server": tree(quiet.pid)})
        quiet_cpu.start()
        quiet_rate, quiet_p99 = wrk(18903, args.seconds, args.connections)
        quiet_again, _ = wrk(18903, args.seconds, args.connections)
        quiet_cpu.stop()
        on_cpu = CpuMeter({"server": tree(consent.pid)})
        on_cpu.start()
        again_rate, _ = wrk(18901, args.seconds, args.connections)
        on_cpu.stop()
        recorded_rate, _ = wrk(18904, args.seconds, args.connections)
        print(
            f"{args.connections} connections, {args.workers} uvicorn worker(s) per server, wrk, {args.seconds} s each;"
            f" PostgreSQL at {PG}: {flushed}"
        )
        print(f"bare FastAPI endpoint (constant):                    {bare_rate:8.0f} req/s  (p99 {bare_p99})")
        print(
            f"bare endpoint that only validates the same body:     {parsing_rate:8.0f} req/s  (p99 {parsing_p99})"
            f"  = {parsing_rate / bare_rate:.2f} x bare"
        )
        print(f"consent capture (PostgreSQL, ledger, outbox, Kafka): {consent_rate:8.0f} req/s  (p99 {consent_p99})")
        print(
            f"naive durable write (validate, one asyncpg INSERT in its own transaction): {naive_rate:8.0f} req/s"
            f"  (p99 {naive_p99})"
        )
        print(f"ratio consent / bare: {consent_rate / bare_rate:.2f} (target >= 0.50)")
        ratio = consent_rate / naive_rate
        held = "holds" if ratio >= GUARD else "REGRESSED"
        print(f"ratio consent / naive insert: {ratio:.2f} (guard >= {GUARD}: {held})")
        observed, quiet_mean = (consent_rate + again_rate) / 2, (quiet_rate + quiet_again) / 2
        print(
            f"consent with metrics and tracing on (default sampling): {consent_rate:.0f} and {again_rate:.0f} req/s; "
            f"off (METRICS_ENABLED=0, OTEL_SDK_DISABLED=true): {quiet_rate:.0f} and {quiet_again:.0f} req/s "
            f"(p99 {quiet_p99})"
        )
        print(f"ratio observability on / off: {observed / quiet_mean:.3f} (target >= 0.95)")
        on_us = (on_cpu_seconds + on_cpu.used["server"]) / ((consent_rate + again_rate) * args.seconds) * 1e6
        off_us = quiet_cpu.used["server"] / ((quiet_rate + quiet_again) * args.seconds) * 1e6
        print(
            f"server CPU per capture, on: {on_us:.0f} µs, off: {off_us:.0f} µs (observability costs "
            f"{on_us - off_us:.0f} µs, {100 * (on_us - off_us) / off_us:.1f} %; less sensitive to the machine's "
            "other load than throughput)"
        )
        print(
            f"every span recorded (OTEL_TRACES_SAMPLER=parentbased_always_on, no export): {recorded_rate:.0f} req/s"
            f" = {recorded_rate / quiet_mean:.3f} x off (one run, the last, on a database with fewer rows)"
        )
        runs = {"bare": (bare_cpu, bare_rate), "naive": (naive_cpu, naive_rate), "consent": (consent_cpu, consent_rate)}
        explain_cpu(runs, args.seconds, args.workers)
        await report_latency(18901, prefix, consent_rate / 2, args.seconds)
    finally:
        for p in (bare, parsing, naive, consent, quiet, recorded):
            p.terminate()
            p.wait(10)
        await delete_topics(KAFKA, prefix)
        await delete_topics(KAFKA, quiet_prefix)
        await delete_topics(KAFKA, recorded_prefix)
        admin = await asyncpg.connect(ADMIN)
        for db in (name, quiet_name, recorded_name):
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
