"""Recovery after a restore (issue 33): a backup 10,000 and 100,000 ledger entries behind is restored, and the
start rebuilds those entries from ledger.entries.v1 and re-applies what they record. The baseline, measured in
the same run, is the ledger's append rate: the same entries written as the service writes them (group-committed
units of 200: ledger entries, the journal's outbox rows, a transaction each).

    .venv/bin/python benchmarks/recovery.py [--entries 10000,100000] [--db sqlite|postgres]
    BENCH_NO_REAPPLY=1 ...   the rebuild alone (what re-applying costs is the difference)

The entries are consent's: 60 % grants (rebuilt, nothing to do again), 30 % withdrawals (the state, the
record and the published state snapshot again) and 10 % erasures (the key destroyed again, seven tables, a
tombstone). Target: recovery at least 0.5 of the append rate, so that a day's gap is recovered in minutes.
Needs: scripts/kafka.sh start (and scripts/postgres.sh start for --db postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support.consent_env import consent_env
from benchmarks.support.pg import ADMIN, url
from services.common import backup
from services.common.contracts import SubjectShredded
from services.common.events import CloudEvent, EventData
from services.common.kafka import delete_topics
from services.common.ledger import recovery
from services.common.ledger.store import LedgerRecord
from services.common.unit import Unit, flush
from services.consent.events import DECISION_EVENTS

KAFKA = "127.0.0.1:9092"
BATCH = 200


def record(rt: object, i: int) -> LedgerRecord:
    subject = f"{i // 10:064x}"
    source = "urn:jzve:privacy:consent"
    payload: EventData
    if i % 10 == 9:
        payload = SubjectShredded(subject=subject, key_id=None, reason="erasure request r_bench")
    else:
        state = "withdrawn" if i % 10 >= 6 else "granted"
        payload = DECISION_EVENTS[state](
            subject=subject,
            purpose="newsletter",
            third_party="",
            record_id=f"cr_{uuid.uuid4().hex}",
            legal_basis="consent",
            channel="newsletter_signup",
            categories=["name", "email"],
            notice_version="2024-05",
            notice_hash="sha256:" + "a" * 64,
            reason=None,
        )
    event = CloudEvent.of(payload, source=source, subject=subject)
    return LedgerRecord(event.id, event.type, subject, event.data or {}, time=event.time)


async def append(rt: object, n: int) -> float:
    """Write n entries as the service does; returns entries per second."""
    started = time.perf_counter()
    for at in range(0, n, BATCH):
        units = []
        for i in range(at, min(n, at + BATCH)):
            unit = Unit()
            unit.append(record(rt, i))
            units.append(unit)
        async with rt.db.transaction() as s:  # type: ignore[attr-defined]
            await flush(s, rt.ledger, units)  # type: ignore[attr-defined]
    return n / (time.perf_counter() - started)


async def drained(rt: object) -> None:
    while True:
        async with rt.db.read() as s:  # type: ignore[attr-defined]
            left = (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one()
        if not left:
            return
        await asyncio.sleep(0.2)


async def one(n: int, kind: str, work: Path) -> tuple[float, float, int, int]:
    prefix = f"benchrec{uuid.uuid4().hex[:6]}."
    database = f"bench_recovery_{uuid.uuid4().hex[:6]}"
    if kind == "postgres":
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        db_url = url(database)
    else:
        db_url = f"sqlite+aiosqlite:///{work}/{database}.db"
    os.environ.update(consent_env(db_url, prefix, str(work / "var")))
    os.environ["CONSENT_CHECKPOINT_BURST"] = str(10**9)  # one checkpoint at the end, as a quiet day would sign
    from services.consent.main import build_runtime
    from services.consent.settings import ConsentSettings

    settings = ConsentSettings()
    try:
        rt = build_runtime(settings)
        await rt.start()
        await rt.topics_ready.wait()
        file = backup.backup("consent", db_url, work / "backups")
        rate = await append(rt, n)
        await rt.checkpoint_now()
        await drained(rt)
        await rt.stop()

        backup.restore(db_url, file)
        rt = build_runtime(settings)
        await rt.db.migrate(rt.migrations)
        if os.environ.get("BENCH_NO_REAPPLY"):
            rt.reapply = {}
        started = time.perf_counter()
        found = await recovery.check(rt)
        seconds = time.perf_counter() - started
        assert found.state == "sound", found.reason
        async with rt.db.read() as s:
            row = await recovery.latest(s)
        assert row is not None and row.recovered == n, row
        await rt.db.dispose()
        return rate, n / seconds, row.recovered, row.reapplied
    finally:
        await delete_topics(KAFKA, prefix)
        if kind == "postgres":
            admin = await asyncpg.connect(ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", default="10000,100000")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    args, _ = parser.parse_known_args()
    print(f"recovery after a restore, {args.db}; baseline: the ledger's append rate in the same run")
    print(f"{'behind':>8} {'append/s':>10} {'recovered/s':>12} {'ratio':>6} {'re-applied':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.entries.split(",")):
            rate, recovered, done, reapplied = await one(n, args.db, Path(tmp))
            print(f"{done:>8} {rate:>10.0f} {recovered:>12.0f} {recovered / rate:>6.2f} {reapplied:>11}", flush=True)
    print(f"at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; target: ratio >= 0.5")


if __name__ == "__main__":
    asyncio.run(main())
