"""Issue 32: erasures fanned out to every connector against the local fakes (ActiveCampaign's API v3, Teamleader
Focus's RPC API with OAuth2), by the processors service's own worker: the wall time against the bound the
processors' documented rate limits set, and the requests over any limit (the fakes count them).

    .venv/bin/python benchmarks/processors_fanout.py [--people 1000]

Each person is a contact at both. An erasure costs two requests at each (find, delete): at ActiveCampaign
5 requests per second, at Teamleader 200 per minute (a sliding window, as both count). The bound for R
requests at W per P seconds is (ceil(R / W) - 1) * P (the first window's W leave at once); the slower
processor's bound is the bound. Target: wall time at least 0.9 of the bound (bound / wall >= 0.9), with 0
requests over a limit. The service runs in-process on PostgreSQL (scripts/postgres.sh start; `PGPORT`), as in
production: its transactions run beside each other, and the tasks of later requests are made while the
first ones are already at the processors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support.pg import ADMIN, url  # noqa: E402
from services.common.contracts import DataSubjectRequestStarted, RequestKind, seal_fragment  # noqa: E402
from services.fakes import activecampaign, gravityforms, teamleader  # noqa: E402

TARGET = 0.9


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


def bound(requests: int, per_window: int, seconds: float) -> float:
    return max(0, math.ceil(requests / per_window) - 1) * seconds


async def main(people: int) -> int:
    ac, tl = activecampaign.create("bench-ac"), teamleader.create("bench-tl", "bench-tl-secret", "bench-tl-refresh")
    emails = [f"bench-{i}-{uuid.uuid4().hex[:6]}@example.nl" for i in range(people)]
    forms = gravityforms.create("bench-gf", "bench-gf-secret")
    for i, email in enumerate(emails):
        ac.state.fake.add(email, "Bench", f"Person {i}", lists=("1",))
        tl.state.fake.add(email, "Bench", f"Person {i}")
        forms.state.fake.add(email, "Bench", f"Person {i}", "Een vraag")
    database = "bench_processors_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    with tempfile.TemporaryDirectory() as tmp:
        async with serve(ac) as ac_url, serve(tl) as tl_url, serve(forms) as forms_url:
            os.environ.update(
                {
                    "PROCESSORS_DEV_MODE": "1",
                    "PRIVACY_VAR_DIR": tmp,
                    "PROCESSORS_DATABASE_URL": url(database),
                    "PROCESSORS_RELAY_ENABLED": "0",
                    "PROCESSORS_CONSUMERS_ENABLED": "0",
                    "PROCESSORS_MAIL_ENABLED": "0",
                    "PROCESSORS_LOG_LEVEL": "WARNING",
                    "PROCESSORS_WORK_INTERVAL_SECONDS": "0.2",
                    "PROCESSORS_ACTIVECAMPAIGN_BASE_URL": ac_url,
                    "PROCESSORS_ACTIVECAMPAIGN_API_TOKEN": "bench-ac",
                    "PROCESSORS_TEAMLEADER_BASE_URL": tl_url,
                    "PROCESSORS_GRAVITYFORMS_BASE_URL": forms_url,
                    "PROCESSORS_GRAVITYFORMS_USERNAME": "bench-gf",
                    "PROCESSORS_GRAVITYFORMS_PASSWORD": "bench-gf-secret",
                    "PROCESSORS_TEAMLEADER_CLIENT_ID": "bench-tl",
                    "PROCESSORS_TEAMLEADER_CLIENT_SECRET": "bench-tl-secret",
                    "PROCESSORS_TEAMLEADER_REFRESH_TOKEN": "bench-tl-refresh",
                }
            )
            from services.processors import service
            from services.processors.context import ProcessorsContext
            from services.processors.main import build_runtime, create

            app = create(build_runtime())
            rt = app.state.runtime
            ctx = ProcessorsContext.of(rt)
            async with app.router.lifespan_context(app):
                started = time.monotonic()
                deadline = datetime.now(UTC) + timedelta(days=30)
                for chunk in range(0, people, 100):
                    async with rt.db.transaction() as s:
                        for email in emails[chunk : chunk + 100]:
                            request_id = "dsr_bench_" + uuid.uuid4().hex[:16]
                            started_event = DataSubjectRequestStarted(
                                request_id=request_id,
                                kind=RequestKind.ERASURE,
                                subject=rt.recorder.pseudonym(email),
                                deadline=deadline,
                                contact=seal_fragment(rt.sealing, request_id, {"email": email, "language": "nl"}),
                            )
                            await service.open_request(ctx, s, started_event)
                ctx.wake()
                opened = time.monotonic() - started
                while ac.state.fake.contacts or tl.state.fake.contacts or forms.state.fake.entries:
                    await asyncio.sleep(0.2)
                wall = time.monotonic() - started
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await admin.close()
    ac_requests = sum(ac.state.fake.per_second.values())
    tl_requests = sum(tl.state.fake.per_minute.values())
    ac_bound, tl_bound = bound(ac_requests, 5, 1.0), bound(tl_requests, 200, 60.0)
    limit = max(ac_bound, tl_bound)
    over = ac.state.fake.refused + tl.state.fake.refused
    print(f"{people} erasures fanned out to ActiveCampaign and TeamLeader (and to every other connector):")
    print(f"  ActiveCampaign: {ac_requests} requests, at most {max(ac.state.fake.per_second.values())} in a second")
    print(f"                  (limit 5/s), bound {ac_bound:.0f} s, {ac.state.fake.refused} refused as over it")
    print(f"  TeamLeader:     {tl_requests} requests (limit 200/min), bound {tl_bound:.0f} s,")
    print(f"                  {tl.state.fake.refused} refused as over it, {tl.state.fake.refreshes} token refresh(es)")
    spans = {
        name: (fake.last_at or 0) - (fake.first_at or 0)
        for name, fake in (("ActiveCampaign", ac.state.fake), ("TeamLeader", tl.state.fake))
    }
    print(f"  the {people} requests' tasks were made in {opened:.1f} s (every connector's, with their ledger entries)")
    print("  first to last request: " + ", ".join(f"{n} {s:.1f} s" for n, s in spans.items()))
    print(f"  wall time {wall:.1f} s against the bound {limit:.0f} s: bound / wall = {limit / wall:.3f}")
    ok = limit / wall >= TARGET and over == 0
    print(f"  target: >= {TARGET} of the bound with 0 requests over any limit: {'holds' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    sys.exit(asyncio.run(main(parser.parse_args().people)))
