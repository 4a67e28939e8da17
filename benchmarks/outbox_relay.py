"""The outbox relay's CPU per row (read from PostgreSQL, publish to Kafka with acks=all, mark published) in
rounds of 1, 60 and 500 rows, against publishing the same records from memory with aiokafka in the same
run (the least any publisher pays); the relay runs in this process, so its CPU is this process's.

    .venv/bin/python benchmarks/outbox_relay.py [--rows 3000]

Rounds of ~60 rows are what the relay sends under the consent benchmark's load (one round per ~50 ms);
1 is a quiet system, 500 (the relay's batch size) catching up after Kafka was away.
Needs: scripts/postgres.sh start, scripts/kafka.sh start.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support.pg import ADMIN, url
from services.common.catalog import load_all
from services.common.db import Database
from services.common.events import CloudEvent, Topic
from services.common.kafka import RELAY_BATCH_BYTES, delete_topics, ensure_topics, idempotent_producer
from services.common.outbox import OutboxRelay, enqueue_many
from services.consent.events import DECISION_EVENTS

KAFKA = "127.0.0.1:9092"
MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "consent" / "migrations"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def event(i: int) -> CloudEvent:
    """A consent decision as the consent service publishes it (its size and headers)."""
    payload = DECISION_EVENTS["granted"](
        subject=f"{i % 4999:064x}",
        purpose="newsletter",
        third_party="",
        record_id=f"cr_{uuid.uuid4().hex}",
        legal_basis="consent",
        channel="contact_form",
        categories=["name", "email"],
        notice_version="2024-05",
        notice_hash="a" * 64,
        reason=None,
    )
    return CloudEvent.of(payload, source="urn:bench", subject=payload.subject)


async def per_row(rows: int, once: Callable[[], Awaitable[int]]) -> float:
    """CPU µs per row for publishing `rows` rows, a round at a time."""
    started, done = cpu(), 0
    while done < rows:
        sent = await once()
        if not sent:
            raise SystemExit(f"a round published nothing after {done} of {rows} rows")
        done += sent
    return (cpu() - started) / done * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000, help="rows published per measurement")
    args, _ = parser.parse_known_args()  # `make bench` passes every benchmark the same arguments
    load_all()
    name, topic = "bench_relay_" + uuid.uuid4().hex[:6], f"benchrelay{uuid.uuid4().hex[:6]}.consent.events.v1"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db = Database(url(name))
    producer = idempotent_producer(KAFKA, client_id="bench-relay", max_batch_size=RELAY_BATCH_BYTES)
    try:
        await db.migrate(MIGRATIONS)
        await ensure_topics(KAFKA, [Topic(topic)], partitions=3, replication=1)
        await producer.start()
        events = [event(i) for i in range(args.rows)]
        records = [e.to_record() for e in events]
        relay = OutboxRelay(db, KAFKA, client_id="bench-relay")

        async def from_memory(size: int) -> Callable[[], Awaitable[int]]:
            queue = iter(range(0, len(records), size))

            async def once() -> int:
                start = next(queue)
                chunk = records[start : start + size]
                sends = [
                    await producer.send(
                        topic, value, key=key and key.encode(), headers=[(k, v.encode()) for k, v in headers]
                    )
                    for key, value, headers in chunk
                ]
                await asyncio.gather(*sends)
                return len(chunk)

            return once

        async def through_relay(size: int, rows: int) -> Callable[[], Awaitable[int]]:
            async with db.transaction() as session:
                await enqueue_many(session, [(topic, e) for e in events[:rows]])
            relay.batch_size = size
            return lambda: relay.publish_once(producer)

        print(f"{args.rows} consent events per measurement, topic of 3 partitions, acks=all")
        for size in (1, 60, 500):
            rows = min(args.rows, 300) if size == 1 else args.rows
            bare = await per_row(rows, await from_memory(size))
            started = time.perf_counter()
            relayed = await per_row(rows, await through_relay(size, rows))
            rate = rows / (time.perf_counter() - started)
            print(
                f"rounds of {size:3}: relay {relayed:7.0f} µs CPU per row ({rate:6.0f} rows/s), from memory "
                f"{bare:6.0f} µs; ratio relay / from memory: {relayed / bare:.2f}"
            )
    finally:
        await producer.stop()
        await db.dispose()
        await delete_topics(KAFKA, topic)
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    uvloop.run(main())  # the services' event loop (uvicorn's choice when uvloop is installed)
