"""Issue 34: a page view at the speed of a static file. What every page of every site that carries
consent.js costs the consent service, against a bare FastAPI app (no middleware of ours) answering the
same bytes on the same server and load tool, in the same run (wrk, one uvicorn worker each by default):

    /healthz                        our middleware stack on a route that does nothing     target >= 0.9 x bare
    /v1/banner 200                  the notice, against the same bytes from a bare route  target >= 0.8
    /v1/banner 304 (If-None-Match)  the revalidation every page view makes                target >= 0.9
    /v1/consent.js                  against Starlette's FileResponse of the same file     target >= 0.8

The consent service runs as production runs it (privacy-serve), observability on (the defaults: metrics,
traces, request ids, limits, security headers). `--workers 2` also runs the banner and a capture with two
workers beside one, and prints the ratio.

    .venv/bin/python benchmarks/page_view.py [--seconds 8] [--connections 32] [--workers 2]

Needs wrk (scripts/wrk.sh) and Kafka (scripts/kafka.sh start); the page views' service runs on SQLite (a page
view reads no database), the scale-out's on PostgreSQL (scripts/postgres.sh start)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.consent_write import serve, wait_ready  # noqa: E402
from benchmarks.support.consent_env import SITE_KEY, consent_env, served_notice_hash  # noqa: E402
from benchmarks.support.pg import ADMIN, url  # noqa: E402

TARGETS = {"healthz": 0.9, "banner": 0.8, "banner 304": 0.9, "consent.js": 0.8}
BARE_PORT, CONSENT_PORT, ONE_PG_PORT, TWO_PORT = 18910, 18911, 18912, 18913


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str] | None = None, script: str = "") -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def paths(port: int) -> dict[str, tuple[str, dict[str, str]]]:
    """What a page view asks, as the benchmark sends it: (url, headers)."""
    base = f"http://127.0.0.1:{port}"
    banner = f"{base}/v1/banner?site_key={SITE_KEY}&lang=nl"
    etag = httpx.get(banner, timeout=10).headers["etag"]
    origin = {"origin": "http://localhost:8000"}
    return {
        "healthz": (f"{base}/healthz", {}),
        "banner": (banner, origin),
        "banner 304": (banner, {**origin, "if-none-match": etag}),
        "consent.js": (f"{base}/v1/consent.js", {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="2: also the banner and a capture on two workers")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: scripts/wrk.sh installs Debian's (make bench runs it)")
    var = tempfile.mkdtemp()
    prefix = f"benchpv{uuid.uuid4().hex[:6]}."
    env = consent_env(f"sqlite+aiosqlite:///{var}/consent.db", prefix, var)
    consent = serve("services.consent.main:create", CONSENT_PORT, env, factory=True, workers=1)
    servers = [consent]
    try:
        wait_ready(f"http://127.0.0.1:{CONSENT_PORT}/readyz", 120)
        banner = httpx.get(f"http://127.0.0.1:{CONSENT_PORT}/v1/banner", params={"site_key": SITE_KEY}, timeout=10)
        Path(var, "banner.json").write_bytes(banner.content)
        bare_env = {"BANNER_FILE": str(Path(var, "banner.json")), "BANNER_ETAG": banner.headers["etag"]}
        bare = serve("benchmarks.support.page_bare:app", BARE_PORT, bare_env, factory=False, workers=1)
        servers.append(bare)
        wait_ready(f"http://127.0.0.1:{BARE_PORT}/healthz")
        ours, theirs = paths(CONSENT_PORT), paths(BARE_PORT)
        assert httpx.get(theirs["banner"][0]).content == banner.content, "the bare route answers the same bytes"
        for name in ours:  # warm-up
            wrk(ours[name][0], 2, args.connections, ours[name][1])
            wrk(theirs[name][0], 2, args.connections, theirs[name][1])
        print(
            f"page view: wrk -t2 -c{args.connections}, {args.seconds} s each, one uvicorn worker each, observability on"
        )
        print(f"{'path':16} {'bare req/s':>11} {'ours req/s':>11} {'ratio':>6}  target")
        missed = 0
        for name in ours:
            # bare, ours, ours, bare (ABBA): a drift of the machine during the run counts against neither
            b1 = wrk(theirs[name][0], args.seconds, args.connections, theirs[name][1])
            o1 = wrk(ours[name][0], args.seconds, args.connections, ours[name][1])
            o2 = wrk(ours[name][0], args.seconds, args.connections, ours[name][1])
            b2 = wrk(theirs[name][0], args.seconds, args.connections, theirs[name][1])
            bare_rate, our_rate = (b1 + b2) / 2, (o1 + o2) / 2
            ratio = our_rate / bare_rate
            ok = ratio >= TARGETS[name]
            missed += not ok
            print(
                f"{name:16} {bare_rate:11,.0f} {our_rate:11,.0f} {ratio:6.2f}  >= {TARGETS[name]}"
                f" {'holds' if ok else 'MISSED'}"
            )
        if args.workers > 1:
            scale_out(args, env, ours)
        return 1 if missed else 0
    finally:
        for p in servers:
            p.terminate()
        for p in servers:
            p.wait(30)


def scale_out(args: argparse.Namespace, env: dict[str, str], ours: dict[str, tuple[str, dict[str, str]]]) -> None:
    """The banner and a capture on one worker and on `--workers` workers, each server on a PostgreSQL database
    and topics of its own (as production runs several workers)."""
    servers, names = [], []
    for port, workers in ((ONE_PG_PORT, 1), (TWO_PORT, args.workers)):
        name = f"bench_pv_{workers}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_create(name))
        names.append(name)
        own = {**env, "CONSENT_DATABASE_URL": url(name), "CONSENT_KAFKA_TOPIC_PREFIX": f"benchpv{name[-6:]}."}
        servers.append(serve("services.consent.main:create", port, own, factory=True, workers=workers))
    try:
        wait_ready(f"http://127.0.0.1:{ONE_PG_PORT}/readyz", 120)
        wait_ready(f"http://127.0.0.1:{TWO_PORT}/readyz", 120)
        capture = str(ROOT / "benchmarks" / "support" / "consent_post.lua")
        os.environ.update({"SITE_KEY": SITE_KEY, "NOTICE_HASH": served_notice_hash(ONE_PG_PORT)})
        print(f"scale-out: {args.workers} uvicorn workers against one (PostgreSQL), on {os.cpu_count()} cores")
        banner = f"/v1/banner?site_key={SITE_KEY}&lang=nl"
        for what, path, headers, script in (
            ("banner", banner, ours["banner"][1], ""),
            ("capture", "", {}, capture),
        ):
            one_url, many_url = f"http://127.0.0.1:{ONE_PG_PORT}{path}", f"http://127.0.0.1:{TWO_PORT}{path}"
            wrk(one_url, 2, args.connections, headers, script)
            wrk(many_url, 2, args.connections, headers, script)
            one = wrk(one_url, args.seconds, args.connections, headers, script)
            many = wrk(many_url, args.seconds, args.connections, headers, script)
            print(
                f"{what:16} 1 worker {one:9,.0f} req/s   {args.workers} workers {many:9,.0f} req/s   x {many / one:.2f}"
            )
    finally:
        for p in servers:
            p.terminate()
        for p in servers:
            p.wait(30)
        for name in names:
            asyncio.run(_drop(name))


async def _create(name: str) -> None:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


if __name__ == "__main__":
    sys.exit(main())
