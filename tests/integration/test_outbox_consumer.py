"""Outbox relay and idempotent consumers against the real Kafka broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select, text

from services.common.catalog import load_all
from services.common.contracts import DataSubjectRequestStarted, RequestKind
from services.common.events import CloudEvent
from services.common.kafka import ensure_topics
from services.common.outbox import OutboxRelay, enqueue
from services.dsar.events import DsarAnswerRecorded
from tests.conftest import build_app, eventually, running

load_all()


async def read_topic(kafka: str, topic: str, count: int, within: float = 30.0) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    records.extend(msgs)
        # and nothing more arrives
        extra = await consumer.getmany(timeout_ms=1000)
        records.extend(m for msgs in extra.values() for m in msgs)
    finally:
        await consumer.stop()
    return records


def header(record: Any, name: str) -> str:
    return dict(record.headers)[name].decode()


async def test_two_relays_publish_each_row_once_in_key_order(
    kafka: str, make_settings: Any, db_url: str, topic_prefix: str
) -> None:
    settings = make_settings("dsar", db_url, relay_enabled=False, consumers_enabled=False)
    app = build_app("dsar", settings)
    rt = app.state.runtime
    topic = topic_prefix + "dsar.events.v1"
    async with running(app):
        await ensure_topics(kafka, rt.topics(), partitions=3, replication=1)
        for batch in range(6):
            async with rt.db.transaction() as s:
                for i in range(50):
                    n = batch * 50 + i
                    payload = DsarAnswerRecorded(request_id=f"req-{n % 7}", holder=f"h{n % 7}", outcome=str(n))
                    event = CloudEvent.of(payload, source="urn:test", subject=f"key-{n % 7}")
                    await enqueue(s, topic, event)
        relays = [OutboxRelay(rt.db, kafka, client_id=f"relay{i}", poll_seconds=0.05, batch_size=40) for i in (1, 2)]
        tasks = [asyncio.create_task(r.run()) for r in relays]
        try:
            records = await read_topic(kafka, topic, 300)
            await eventually(lambda: sum(r.published for r in relays) == 300)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    ids = [header(r, "ce_id") for r in records]
    assert len(ids) == 300 and len(set(ids)) == 300, "every row exactly once"
    per_key: dict[str, list[int]] = defaultdict(list)
    for r in records:
        per_key[r.key.decode()].append(int(json.loads(r.value)["outcome"]))
    assert all(v == sorted(v) for v in per_key.values()), "records of one key stay in order"
    async with rt.db.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one() == 0


async def test_consumer_applies_once_and_dead_letters_bad_records(
    kafka: str, make_settings: Any, db_url: str, topic_prefix: str
) -> None:
    """Consent answers an erasure request once however often it is delivered; bad records go to the DLQ."""
    app = build_app("consent", make_settings("consent", db_url))
    rt = app.state.runtime
    topic = topic_prefix + "dsar.events.v1"
    subject = "ef" * 32
    async with running(app):
        await eventually(lambda: rt.topics_ready.is_set())
        async with rt.db.transaction() as s:  # consent holds something of this subject
            await rt.vault.encrypt(s, subject, {"email": "x@example.nl"})
        request = DataSubjectRequestStarted(
            request_id="dsr_once0001",
            kind=RequestKind.ERASURE,
            subject=subject,
            deadline=datetime(2027, 1, 1, tzinfo=UTC),
        )
        event = CloudEvent.of(request, source="urn:jzve:privacy:dsar", subject=subject)
        key, value, headers = event.to_kafka()
        base = [h for h in headers if h[0] not in ("ce_type",)]
        producer = AIOKafkaProducer(bootstrap_servers=kafka)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"\x00garbage", key=b"k")  # no CloudEvent headers
            await producer.send_and_wait(topic, value, key=key, headers=headers)
            await producer.send_and_wait(topic, value, key=key, headers=headers)  # redelivery, same id
            await producer.send_and_wait(
                topic, b"{}", key=b"k", headers=[*base, ("ce_type", b"nl.jzve.privacy.unknown")]
            )
            await producer.send_and_wait(
                topic,
                b'{"request_id": 5}',
                key=b"k",
                headers=[*base, ("ce_type", b"nl.jzve.privacy.dsar.request.started")],
            )
            await producer.send_and_wait(topic, b"{oops", key=b"k", headers=headers)
            await producer.send_and_wait(topic, value, key=key, headers=headers)  # replay after bad ones
        finally:
            await producer.stop()
        dlq = await read_topic(kafka, topic_prefix + "consent.dsar.dlq", 4)
        reasons = sorted(header(r, "dlq-reason") for r in dlq)
        assert len(reasons) == 4
        assert any("not a CloudEvent" in r for r in reasons)
        assert any("unknown event type" in r for r in reasons)
        assert any("does not match the schema" in r for r in reasons)
        assert any("not JSON" in r for r in reasons)
        assert all(header(r, "dlq-topic") == topic for r in dlq)

        async def answers() -> int:
            async with rt.db.read() as s:
                return int(
                    (
                        await s.execute(
                            text(
                                "SELECT count(*) FROM ledger_entries "
                                "WHERE event_type = 'nl.jzve.privacy.dsar.holder.answered'"
                            )
                        )
                    ).scalar_one()
                )

        await eventually(answers)
        await asyncio.sleep(1.0)
        assert await answers() == 1, "three deliveries of one event id: one effect"
        async with rt.db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM subject_keys"))).scalar_one() == 0
            assert (await s.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == 1
        answered = await read_topic(kafka, topic_prefix + "consent.events.v1", 2)
        types = sorted(header(r, "ce_type") for r in answered)
        assert types == ["nl.jzve.privacy.dsar.holder.answered", "nl.jzve.privacy.subject.shredded"]
        assert (
            json.loads(next(r.value for r in answered if b"answered" in dict(r.headers)["ce_type"]))["outcome"]
            == "erased"
        )


async def test_topics_are_created_with_partitions_and_compaction(
    kafka: str, make_settings: Any, sqlite_url: str, topic_prefix: str
) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    app = build_app("consent", make_settings("consent", sqlite_url, kafka_topic_partitions=4))
    rt = app.state.runtime
    async with running(app):
        await eventually(lambda: rt.topics_ready.is_set())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        names = {topic_prefix + n for n in ("consent.events.v1", "consent.state.v1", "consent.dsar.dlq")}

        async def partitions() -> dict[str, int] | None:
            # metadata reaches the broker's cache a moment after creation: ask until it is complete
            described = await admin.describe_topics(list(names))
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            return counts if counts == dict.fromkeys(names, 4) else None

        assert await eventually(partitions, within=20, interval=0.5) == dict.fromkeys(names, 4)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic_prefix + "consent.state.v1")]
        )
        entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_published_rows_are_pruned_after_the_keep_window(
    make_settings: Any, db_url: str, monkeypatch: Any
) -> None:
    """The relay deletes published rows older than its window, oldest first and a bounded number at a time;
    unpublished rows and recently published ones stay (the table no longer grows with every event)."""
    from datetime import timedelta

    from sqlalchemy import update

    from services.common import outbox
    from services.common.outbox import OUTBOX, enqueue_raw

    app = build_app("consent", make_settings("consent", db_url, relay_enabled=False, consumers_enabled=False))
    rt = app.state.runtime
    async with running(app):
        async with rt.db.transaction() as s:
            for i in range(7):
                await enqueue_raw(s, "prune.test", f"k{i}", b"{}", [("ce_id", f"e{i}")])
        async with rt.db.read() as s:
            ids = [row[0] for row in await s.execute(select(OUTBOX.c.id).order_by(OUTBOX.c.id))]
        now = datetime.now(UTC)
        async with rt.db.transaction() as s:
            old = update(OUTBOX).where(OUTBOX.c.id.in_(ids[:3])).values(published_at=now - timedelta(days=8))
            await s.execute(old)
            await s.execute(update(OUTBOX).where(OUTBOX.c.id == ids[3]).values(published_at=now))

        relay = OutboxRelay(rt.db, "127.0.0.1:1", client_id="prune-test", keep=timedelta(days=7))
        monkeypatch.setattr(outbox, "PRUNE_BATCH", 2)  # only the two oldest rows are looked at per round
        assert await relay.prune_once() == 2
        assert await relay.prune_once() == 1
        assert await relay.prune_once() == 0
        async with rt.db.read() as s:
            left = [row[0] for row in await s.execute(select(OUTBOX.c.id).order_by(OUTBOX.c.id))]
        assert left == ids[3:], "published within the window and unpublished rows stay"
        assert relay.pruned == 3


async def test_the_relay_goes_on_after_the_database_dropped_every_connection(
    kafka: str, make_settings: Any, pg_url: str, topic_prefix: str
) -> None:
    """The relay's read and its mark run without BEGIN (each its own transaction), so a connection that
    PostgreSQL dropped fails the statement itself: the statement is run again on a fresh connection,
    and the round publishes and marks as before instead of failing and waiting a second."""
    import asyncpg

    from services.common.kafka import RELAY_BATCH_BYTES, idempotent_producer

    settings = make_settings("dsar", pg_url, relay_enabled=False, consumers_enabled=False)
    app = build_app("dsar", settings)
    rt = app.state.runtime
    topic = topic_prefix + "dsar.events.v1"

    async def enqueue_some(start: int) -> None:
        async with rt.db.transaction() as s:
            for n in range(start, start + 30):
                payload = DsarAnswerRecorded(request_id=f"req-{n}", holder="h", outcome=str(n))
                await enqueue(s, topic, CloudEvent.of(payload, source="urn:test", subject=f"key-{n % 3}"))

    async with running(app):
        await ensure_topics(kafka, rt.topics(), partitions=3, replication=1)
        relay = OutboxRelay(rt.db, kafka, client_id="relay-dropped", batch_size=500)
        producer = idempotent_producer(kafka, client_id="relay-dropped", max_batch_size=RELAY_BATCH_BYTES)
        await producer.start()
        try:
            await enqueue_some(0)
            assert await relay.publish_once(producer) == 30
            await enqueue_some(30)
            admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                # at once, before the pool can have noticed: the first statement meets a dead connection
                assert await relay.publish_once(producer) == 30, "read and marked on fresh connections"
            finally:
                await admin.close()
            assert killed >= 1, "the relay's pooled connection was among them"
            assert await relay.publish_once(producer) == 0
        finally:
            await producer.stop()
        records = await read_topic(kafka, topic, 60)
    assert sorted(int(json.loads(r.value)["outcome"]) for r in records) == list(range(60)), "each row once"
    async with rt.db.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one() == 0
