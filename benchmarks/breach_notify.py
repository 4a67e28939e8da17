"""Finding and notifying the people affected by a breach that touches 100,000 of them: total time,
peak memory (RSS of this process, which runs both services) and notifications queued per second.
Consent and breach run in-process on PostgreSQL, talking over the real Kafka broker.

    .venv/bin/python benchmarks/breach_notify.py [--people 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.dsar import database, settings  # noqa: E402
from services.consent import decisions  # noqa: E402
from services.consent.context import ConsentContext  # noqa: E402
from services.consent.domain import State  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    import base64
    import secrets
    import uuid

    from services.breach.people import ask_affected, notify_subjects, recipients_summary
    from services.breach.schemas import AffectedQueryIn, AssessmentIn, BreachIn, NotifyIn
    from services.breach.service import assess, register
    from tests.conftest import build_app, running

    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    shared = base64.b64encode(secrets.token_bytes(32)).decode()
    stack = contextlib.AsyncExitStack()
    try:
        apps = {}
        for service in ("consent", "breach"):
            url = await stack.enter_async_context(database())
            apps[service] = build_app(service, settings(service, url, prefix, shared))
        for app in apps.values():
            await stack.enter_async_context(running(app))
        consent, breach = apps["consent"].state.runtime, apps["breach"].state.runtime
        for app in apps.values():
            while not app.state.runtime.consumers[0].ready.is_set():
                await asyncio.sleep(0.1)
        ctx = ConsentContext.of(consent)
        leads = ctx.catalogue.purposes["leads"]
        t0 = time.perf_counter()
        at = datetime.now(UTC) - timedelta(hours=2)
        for start in range(0, args.people, 2000):
            items = [
                decisions.Item(
                    subject=consent.recorder.pseudonym(f"p{i}@example.nl"),
                    kind="email",
                    channel="opt_in_form",
                    categories=["name", "email"],
                    notice_version="2024-05",
                    notice_hash=hashlib.sha256(b"n").hexdigest(),
                    personal={"email": f"p{i}@example.nl", "name": f"Persoon {i}"},
                    actor=None,
                    decisions=[decisions.Decision(leads, "", State.GRANTED, None)],
                    at=at,
                )
                for i in range(start, min(args.people, start + 2000))
            ]
            async with consent.db.unit() as tx:
                await decisions.flush_captures(ctx, tx, items)
        print(
            f"seeded {args.people:,} people with consent records in {time.perf_counter() - t0:.0f}s "
            f"(RSS so far {rss_mb():.0f} MB)"
        )
        rss_before = rss_mb()
        aware = datetime.now(UTC) - timedelta(minutes=10)
        b = await register(
            breach,
            BreachIn(
                title="Export van de leadlijst gelekt",
                description="Een export van ActiveCampaign stond openbaar.",
                awareness_at=aware,
                started_at=aware - timedelta(hours=3),
                nature=["confidentiality"],
                categories=["email", "name_address"],
                processors=["ActiveCampaign"],
                subjects_min=args.people,
                subjects_max=args.people,
                reporter={"name": "DPO", "email": "dpo@example.nl"},
            ),
            staff="bench",
        )
        await assess(
            breach,
            b.id,
            AssessmentIn.model_validate(
                {
                    "factors": {
                        "breach_type": "confidentiality",
                        "sensitivity": "medium",
                        "volume": "high",
                        "ease_of_identification": "high",
                        "severity": "medium",
                        "people": args.people,
                    },
                    "outcome": "high",
                    "reasons": "namen en e-mailadressen van veel mensen",
                }
            ),
            staff="bench",
        )
        t_find = time.perf_counter()
        await ask_affected(breach, b.id, AffectedQueryIn())
        while (await recipients_summary(breach, b.id))["found"] < args.people:
            await asyncio.sleep(0.5)
        find = time.perf_counter() - t_find
        t_notify = time.perf_counter()
        queued = await notify_subjects(
            breach,
            b.id,
            NotifyIn(likely_consequences="phishing-mails", measures="export verwijderd, links ingetrokken"),
            staff="bench",
        )
        notify = time.perf_counter() - t_notify
        assert queued == args.people
        print(f"found {args.people:,} affected people over Kafka in {find:.1f}s")
        print(f"queued {queued:,} notifications in {notify:.1f}s: {queued / notify:,.0f} notifications/s")
        print(
            f"total find + notify: {find + notify:.1f}s; peak RSS {rss_mb():.0f} MB "
            f"(before the breach {rss_before:.0f} MB; consent and breach in one process)",
            flush=True,
        )
    finally:
        try:
            await asyncio.wait_for(stack.aclose(), 120)
        except TimeoutError:
            for task in asyncio.all_tasks():
                task.print_stack(limit=8)
            raise


if __name__ == "__main__":
    asyncio.run(main())
