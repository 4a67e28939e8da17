"""Where a capture's CPU goes, without an HTTP server or a load generator in the figure: the consent app and
the naive durable write (benchmarks/support/bare_app.py) are each driven in a process of their own through
ASGI calls (the wrk script's body, a new address each time, 32 requests at a time, on uvloop as uvicorn
runs them), and the figure is that process's CPU per request: what consent_write.py calls server CPU, less
the HTTP parsing that both pay alike. The consent figure includes its outbox relay and Kafka producer: the
run ends when every event is published. PostgreSQL and Kafka are other processes, not counted here.

Runs alternate (naive, consent, naive, consent), each after a warm-up and ANALYZE, so that a drift of the
machine reaches both. With py-spy (`.venv/bin/pip install py-spy`), `--phases` samples one more run of
each and splits its CPU into the phases of a request, from the sampled stacks (cProfile cannot: it
mis-times SQLAlchemy's greenlet switches and inflates every Python call).

    .venv/bin/python benchmarks/capture_profile.py [--requests 6000] [--phases]

Needs: scripts/postgres.sh start, scripts/kafka.sh start.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support.consent_env import SITE_KEY, consent_env  # noqa: E402
from benchmarks.support.pg import ADMIN, PG, analyze, commits_flushed, url  # noqa: E402
from services.common.kafka import delete_topics  # noqa: E402

KAFKA = "127.0.0.1:9092"
WARMUP = 1500
Asgi = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

# A sampled stack belongs to the first phase, from its innermost frame out, one of whose markers begins a
# frame (`qualified name (path`); a stack with a start-up marker anywhere is start-up, left out.
PHASES: list[tuple[str, tuple[str, ...]]] = [
    ("outbox relay: rows read, sent to Kafka, marked", ("OutboxRelay.",)),
    ("group commit: rows, ledger, evidence sealed, events, one transaction", ("GroupCommit.",)),
    ("naive: one asyncpg transaction", ("inserted (benchmarks/support/bare_app.py",)),
    ("capture use-case before the commit", ("capture (services/consent/service.py",)),
    ("receipt and answer", ("record_capture (", "BaseModel.model_dump_json (")),
    ("body read and validated", ("json_body (", "solve_dependencies (")),
    ("site key and rate limit", ("Public.__call__ (",)),
    ("routing and handler plumbing (FastAPI, Starlette)", ("APIRouter.app (",)),
    (
        "our middleware: request id, metrics, traces, limits, headers, CORS",
        ("RequestContext.", "InputLimits.", "PageHeaders.", "DynamicCors."),
    ),
    (
        "framework middleware (FastAPI, Starlette)",
        ("FastAPI.__call__ (", "ExceptionMiddleware.", "AsyncExitStackMiddleware.", "Router.__call__ ("),
    ),
    ("the driver's fake connections", ("one (benchmarks/capture_profile.py",)),
]
# A stack with none of those: named by the package its innermost frame is in (the event loop's own work,
# uvloop's, is in C: its samples end in the frame that started the loop).
PACKAGES: list[tuple[str, tuple[str, ...]]] = [
    ("Kafka client's own tasks: sends, fetches, heartbeats", ("(aiokafka/",)),
    ("asyncpg's replies read, other queries", ("(asyncpg/",)),
    ("SQLAlchemy sessions of background work", ("(sqlalchemy/",)),
    ("the event loop itself (uvloop, in C)", ("(uvloop/", "(asyncio/runners.py")),
]
STARTUP = ("_find_and_load (", "create_app.<locals>.lifespan (", "Runtime.start (", "_pool (benchmarks/")


def body(i: int, stamp: str, notice_hash: str) -> bytes:
    """The wrk script's capture (benchmarks/support/consent_post.lua)."""
    return (
        f'{{"email":"profile-{stamp}-{i}@example.nl","channel":"contact_form","notice":{{"version":"2024-05",'
        f'"hash":"{notice_hash}"}},"purposes":[{{"purpose":"contact","granted":true}}],'
        '"data_categories":["name","email"]}'
    ).encode()


async def one(app: Asgi, payload: bytes, site_key: bytes) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/consents",
        "raw_path": b"/v1/consents",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"x-site-key", site_key),
            (b"content-length", str(len(payload)).encode()),
            (b"user-agent", b"capture_profile"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    messages = [{"type": "http.request", "body": payload, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # a client that stays connected after its request
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status[:1] not in ([200], [201]):
        raise SystemExit(f"the capture was answered {status}")


def served_hash(app: Asgi) -> str:
    """The notice the consent app serves (a capture naming one never served is refused); any for the bare app."""
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if runtime is None:
        return "a" * 64
    from services.consent.context import ConsentContext

    notice = ConsentContext.of(runtime).notice("nl")
    return str(notice["hash"]) if notice else "a" * 64


async def load(app: Asgi, requests: int, concurrency: int) -> None:
    stamp = uuid.uuid4().hex[:8]
    site_key = SITE_KEY.encode()
    notice_hash = served_hash(app)
    numbers = iter(range(requests))

    async def connection() -> None:
        for i in numbers:
            await one(app, body(i, stamp, notice_hash), site_key)

    await asyncio.gather(*(connection() for _ in range(concurrency)))


async def unpublished(database: str) -> None:
    """Until the relay has published every outbox row (its work is part of a capture's)."""
    conn = await asyncpg.connect(url(database, "postgresql"))
    try:
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def drive(which: str, database: str, requests: int, concurrency: int) -> dict[str, float]:
    """In the child: start the app (its lifespan), warm it up, then measure `requests`."""
    if which == "consent":
        from services.consent.main import create

        app: Any = create()
    else:
        from benchmarks.support.bare_app import naive as app
    async with app.router.lifespan_context(app):  # as tests/conftest.py's running(): migrations, relay, consumers
        if which == "consent":
            while not app.state.runtime.topics_ready.is_set():
                await asyncio.sleep(0.1)
        await load(app, WARMUP, concurrency)
        await analyze(database)
        if which == "consent":
            await unpublished(database)
        batches = _batches(app)
        cpu, wall = time.process_time(), time.perf_counter()
        await load(app, requests, concurrency)
        if which == "consent":
            await unpublished(database)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = _batches(app)
    done = [now - then for now, then in zip(after, batches, strict=True)]
    return {"cpu_us": cpu / requests * 1e6, "rate": requests / wall, "batch": done[1] / done[0] if done[0] else 1.0}


def _batches(app: Any) -> tuple[int, int]:
    """The group commit's batches and items so far (the naive write has none: one item a transaction)."""
    runtime = getattr(app.state, "runtime", None)
    if runtime is None:
        return (0, 0)
    from services.consent.context import ConsentContext

    captures = ConsentContext.of(runtime).captures
    return (captures.batches, captures.items)


def child(which: str, env: dict[str, str], args: argparse.Namespace, sampled: Path | None = None) -> dict[str, float]:
    command = [sys.executable, __file__, "--drive", which, "--requests", str(args.requests)]
    command += ["--concurrency", str(args.concurrency)]
    if sampled is not None:
        command = [spy(), "record", "--rate", "250", "--format", "raw", "--output", str(sampled), "--", *command]
    done = subprocess.run(command, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the {which} run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(lines[-1])
    return result


def _frame(frame: str) -> str:
    """`name (path:line)` as `name (path`, the path from the repository's top folder where it is in one."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for top in ("services/", "benchmarks/"):
        if top in path:
            path = top + path.split(top, 1)[1]
    return f"{name} ({path}"


def phases(raw: Path) -> dict[str, float]:
    """Each phase's share of the sampled CPU (start-up left out), from py-spy's raw stacks."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_frame(f) for f in stack.split(";")]
        if any(f.startswith(STARTUP) for f in frames):
            continue
        phase = next((name for f in reversed(frames) for name, markers in PHASES if f.startswith(markers)), None)
        if phase is None:
            innermost = frames[-1]
            phase = next((name for name, inside in PACKAGES if any(p in innermost for p in inside)), "other tasks")
        counts[phase] += int(count)
    total = sum(counts.values()) or 1
    return {name: n / total for name, n in counts.most_common()}


def spy() -> str:
    """py-spy, in the environment's own bin folder or on the PATH."""
    here = Path(sys.executable).parent / "py-spy"
    found = str(here) if here.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--phases needs py-spy: .venv/bin/pip install py-spy")
    return found


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating")
    parser.add_argument("--phases", action="store_true", help="one more run of each under py-spy")
    parser.add_argument(
        "--stacks", type=Path, help="with --phases: keep the sampled stacks here (collapsed, as flamegraphs read)"
    )
    parser.add_argument("--drive", choices=("consent", "naive"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        database = os.environ["PROFILE_DATABASE"]
        print(json.dumps(await drive(args.drive, database, args.requests, args.concurrency)))
        return
    if args.phases:
        spy()
    tag = uuid.uuid4().hex[:6]
    names = {"naive": f"profile_naive_{tag}", "consent": f"profile_consent_{tag}"}
    admin = await asyncpg.connect(ADMIN)
    for name in names.values():
        await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    var = tempfile.mkdtemp()
    prefix = f"profile{tag}."
    envs = {
        "naive": {"NAIVE_DSN": url(names["naive"], "postgresql"), "PROFILE_DATABASE": names["naive"]},
        "consent": {**consent_env(url(names["consent"]), prefix, var), "PROFILE_DATABASE": names["consent"]},
    }
    try:
        runs: dict[str, list[dict[str, float]]] = {"naive": [], "consent": []}
        for _ in range(args.rounds):
            for which in runs:
                runs[which].append(child(which, envs[which], args))
        print(
            f"in-process ASGI, no HTTP server, no load generator: {args.requests} requests, {args.concurrency} at a"
            f" time, each after {WARMUP} of warm-up; PostgreSQL at {PG}: {await commits_flushed()}"
        )
        for which, label in (("naive", "naive durable write"), ("consent", "consent capture (relay included)")):
            figures = " and ".join(f"{r['cpu_us']:.0f}" for r in runs[which])
            rates = " and ".join(f"{r['rate']:.0f}" for r in runs[which])
            batches = " and ".join(f"{r['batch']:.1f}" for r in runs[which])
            grouped = f", {batches} captures per group commit" if which == "consent" else ""
            print(f"{label:33} {figures} µs of CPU per request ({rates} req/s{grouped})")
        naive = sum(r["cpu_us"] for r in runs["naive"]) / args.rounds
        consent = sum(r["cpu_us"] for r in runs["consent"]) / args.rounds
        print(
            f"ratio naive / consent CPU per request: {naive / consent:.2f}; where the server's process is the limit,"
            f" as in consent_write.py, 0.8 x naive's rate needs a capture of at most {naive / 0.8:.0f} µs here"
        )
        if args.phases:
            for which in runs:
                raw = (args.stacks or Path(var)) / f"{which}.stacks"
                cpu = child(which, envs[which], args, sampled=raw)["cpu_us"]
                print(f"{which}, sampled by py-spy ({cpu:.0f} µs per request in this run):")
                for name, share in phases(raw).items():
                    print(f"  {share * cpu:6.0f} µs {100 * share:5.1f} %  {name}")
    finally:
        await delete_topics(KAFKA, prefix)
        admin = await asyncpg.connect(ADMIN)
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
