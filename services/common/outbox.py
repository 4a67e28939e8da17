"""Transactional outbox: rows written with the state change, published by a relay after commit."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.bulk import Writes, bulk_insert
from services.common.db import Database, Tx, insert_ignoring_duplicates
from services.common.events import CloudEvent
from services.common.kafka import RELAY_BATCH_BYTES, idempotent_producer
from services.common.metrics import Metrics
from services.common.models import OutboxMessage, RelayLease, table_of
from services.common.outbox_dead import move_aside, permanent, topic_problem
from services.common.telemetry import SpanKind, Tracing

log = logging.getLogger(__name__)
OUTBOX = table_of(OutboxMessage)
PRUNE_BATCH = 5000


async def enqueue(session: AsyncSession, topic: str, event: CloudEvent) -> None:
    """Add a CloudEvent to the outbox in the caller's transaction."""
    key, value, headers = event.to_record()
    await enqueue_raw(session, topic, key, value, headers)


async def enqueue_many(
    where: AsyncSession | Tx, events: list[tuple[str, CloudEvent]], writes: Writes | None = None
) -> None:
    """Many (topic, event) in one insert, in order (group commit; with `writes`, added there)."""
    rows = []
    now = datetime.now(UTC)
    for topic, event in events:
        key, value, headers = event.to_record()
        rows.append({"topic": topic, "key": key, "value": value, "headers": _stored(headers), "created_at": now})
    if rows:
        tx = Tx.of(where)
        tx.wake()
        if writes is not None:
            writes.insert(OUTBOX, rows)
        else:
            await bulk_insert(tx, OUTBOX, rows)


async def enqueue_raw(
    session: AsyncSession, topic: str, key: str | None, value: bytes | None, headers: list[tuple[str, str]]
) -> None:
    """Add any record (a tombstone on a compacted topic has value None)."""
    Tx.of(session).wake()
    await session.execute(
        insert(OUTBOX),
        [{"topic": topic, "key": key, "value": value, "headers": _stored(headers), "created_at": datetime.now(UTC)}],
    )


async def enqueue_tombstones(session: AsyncSession, topic: str, keys: list[str]) -> None:
    """A tombstone (value None) per key on a compacted topic, in one insert."""
    if not keys:
        return
    Tx.of(session).wake()
    now = datetime.now(UTC)
    rows = [{"topic": topic, "key": k, "value": None, "headers": "[]", "created_at": now} for k in keys]
    await session.execute(insert(OUTBOX), rows)


_murmur = DefaultPartitioner()


@functools.lru_cache(maxsize=65536)
def _partition(key: bytes | None, partitions: tuple[int, ...]) -> int:
    """aiokafka's default partitioner (murmur2, as Kafka's Java client), cached: a subject's key recurs."""
    partition: int = _murmur(key, list(partitions), list(partitions))
    return partition


def _stored(headers: list[tuple[str, str]]) -> str:
    """The headers as the outbox stores them: JSON (name, value) pairs, `[["ce_id","..."],...]`."""
    return orjson.dumps(headers).decode()


def _traceparent(stored: str) -> str | None:
    """The row's `ce_traceparent`, found in its stored headers without parsing them. Rows written before
    orjson have a space after the comma (`json.dumps`' separators): both forms are read."""
    at = stored.find('"ce_traceparent",')
    if at < 0:
        return None
    at += 17
    if stored.startswith(" ", at):
        at += 1
    return stored[at + 1 : at + 56] if stored.startswith('"', at) else None


async def take_lease(db: Database, name: str, owner: str, lease: timedelta) -> bool:
    """Take or renew the lease row `name` for `owner`: True while no other owner holds an unexpired one
    (one relay of a kind publishes at a time, across workers and hosts)."""
    now = datetime.now(UTC)
    async with db.transaction(span=None) as session:
        await session.execute(
            insert_ignoring_duplicates(
                session, table_of(RelayLease), {"name": name, "owner": owner, "expires_at": now + lease}
            )
        )
        result = await session.execute(
            update(RelayLease)
            .where(col(RelayLease.name) == name)
            .where((col(RelayLease.owner) == owner) | (col(RelayLease.expires_at) < now))
            .values(owner=owner, expires_at=now + lease)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _headers(stored: str) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in orjson.loads(stored)]


class OutboxRelay:
    """Publishes unpublished outbox rows in id order and marks each only after the broker's ack.

    Only the holder of the lease row publishes, so two relays never publish the same row or
    reorder a key's records; a crash between publish and mark re-publishes (consumers dedupe by id).
    """

    LEASE = "outbox"

    def __init__(
        self,
        db: Database,
        bootstrap: str,
        *,
        client_id: str,
        poll_seconds: float = 0.2,
        batch_size: int = 500,
        lease_seconds: float = 15.0,
        linger_seconds: float = 0.005,
        keep: timedelta = timedelta(days=7),
        prune_seconds: float = 60.0,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics("outbox", enabled=False)
        self.tracing = tracing
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.owner = f"{client_id}-{uuid.uuid4().hex[:8]}"
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        # Like a producer's linger.ms: after a wake-up, wait this long so that the commits of the next
        # few milliseconds go out in the same round (one read, one send, one mark) instead of one each.
        self.linger = linger_seconds
        self._renew_at = 0.0  # time.monotonic() after which the lease must be renewed before publishing
        # Published rows are kept `keep` long (what went out, when: for diagnosis), then deleted: without
        # this the table grows by every event ever published. Kafka and the ledger keep the events.
        self.keep = keep
        self.prune_seconds = prune_seconds
        self._prune_at = 0.0
        self.pruned = 0
        self._wake = asyncio.Event()
        self._partitions: dict[str, list[int]] = {}
        self._isolate: set[tuple[str, int]] = set()  # partitions whose last batch the broker refused for good
        self.published = 0
        self.dead_lettered = 0
        db.commit_hooks.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        close_listener = await self.db.store.listen(self._wake.set)
        producer = idempotent_producer(self.bootstrap, client_id=self.client_id, max_batch_size=RELAY_BATCH_BYTES)
        try:
            await self._start(producer)
            while True:
                try:
                    if await self._hold_lease():
                        count = await self.publish_once(producer)
                        if time.monotonic() >= self._prune_at:
                            full = await self.prune_once() == PRUNE_BATCH
                            self._prune_at = time.monotonic() + (1.0 if full else self.prune_seconds)
                        if count >= self.batch_size:
                            continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay iteration failed; retrying")
                    await asyncio.sleep(1.0)
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                # that arrives as the wait ends, and the loop would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                self._wake.clear()
                await asyncio.sleep(self.linger)
        finally:
            await producer.stop()
            if close_listener is not None:
                await close_listener()

    async def _start(self, producer: Any) -> None:
        while True:
            try:
                await producer.start()
                return
            except Exception as exc:  # noqa: BLE001 - broker down: wait for it, requests go on
                log.warning("outbox relay cannot reach Kafka yet: %r", exc)
                await asyncio.sleep(2.0)

    async def _hold_lease(self) -> bool:
        """Take or renew the lease. Renewed when a third of it is gone, not every round: a round's own
        transaction for this cost as much as the publishing. Another relay can only take the lease once
        it has expired, two thirds of its time after we last stopped relying on it."""
        if time.monotonic() < self._renew_at:
            return True
        self._renew_at = 0.0
        held = await take_lease(self.db, self.LEASE, self.owner, self.lease)
        if held:
            self._renew_at = time.monotonic() + self.lease.total_seconds() / 3
        return held

    async def _partitions_of(self, producer: Any, topic: str) -> list[int] | None:
        """The topic's partitions, or None when the broker answered and has no such topic (auto-creation
        is off: a permanent refusal). No broker answering raises (transient: the round is retried)."""
        known = producer.client.cluster.partitions_for_topic(topic)
        if not known:
            cluster = await producer.client.fetch_all_metadata()  # KafkaError when no broker answers
            if not cluster.partitions_for_topic(topic):
                return None
        partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return partitions

    async def _send(self, producer: Any, rows: Sequence[Any]) -> tuple[list[int], dict[int, str]]:
        """Publish rows as one record batch per partition (aiokafka's per-record `send` cost more than the
        rest of the relay); returns the ids acknowledged, and the rows refused for good with the reason
        (`outbox_dead`: they are moved aside, and the later rows of their key wait this round). The
        partition is the one a Java client and aiokafka's default partitioner pick (murmur2 of the key), so
        keyed order is what consumers expect."""
        batches: dict[tuple[str, int], list[tuple[Any, list[int]]]] = {}
        dead: dict[int, str] = {}
        dead_keys: set[str] = set()
        for row_id, topic, key, value, headers in rows:
            if key is not None and key in dead_keys:
                continue  # behind a row of its key refused this round: it waits, in order
            why = topic_problem(topic)
            partitions = self._partitions.get(topic) if why is None else None
            if why is None and partitions is None:
                partitions = await self._partitions_of(producer, topic)
                if partitions is None:
                    why = f"the broker has no topic {topic!r} (and creates none)"
            try:
                record_headers = _headers(headers)
            except (ValueError, TypeError):
                why = why or "its stored headers are not a JSON list of [name, value] pairs"
            if why is not None or partitions is None:
                dead[row_id] = why or "no partitions"
                if key is not None:
                    dead_keys.add(key)
                continue
            raw_key = key.encode() if key is not None else None
            partition = _partition(raw_key, tuple(partitions))
            chain = batches.setdefault((topic, partition), [])
            record = {"timestamp": None, "key": raw_key, "value": value, "headers": record_headers}
            alone = (topic, partition) in self._isolate  # a batch the broker refused: find its bad record
            if alone or not chain or chain[-1][0].append(**record) is None:
                batch = producer.create_batch()
                if batch.append(**record) is None:
                    dead[row_id] = f"the record is larger than a record batch ({RELAY_BATCH_BYTES} bytes)"
                    if key is not None:
                        dead_keys.add(key)
                    continue
                chain.append((batch, []))
            chain[-1][1].append(row_id)
        started = time.perf_counter()
        with self._span(rows):
            sends = [
                (topic, partition, ids, await producer.send_batch(batch, topic, partition=partition))
                for (topic, partition), chain in batches.items()
                for batch, ids in chain
            ]
            acked: list[int] = []
            failed: set[tuple[str, int]] = set()
            for topic, partition, ids, fut in sends:
                try:
                    await fut
                except Exception as exc:  # noqa: BLE001 - left unpublished, retried in order next round
                    if (topic, partition) not in failed and permanent(exc):
                        if len(ids) == 1:  # the broker refuses this record for good
                            dead[ids[0]] = f"the broker refused it: {exc!r}"[:2000]
                        else:  # one of these: next round each goes in a batch of its own
                            self._isolate.add((topic, partition))
                    log.warning("outbox rows %s..%s not acknowledged: %r", ids[0], ids[-1], exc)
                    failed.add((topic, partition))
                    self._partitions.pop(topic, None)  # the topic may have changed
                    continue
                if (topic, partition) not in failed:  # never mark a record past an unacked one of its partition
                    acked.extend(ids)
                    self._isolate.discard((topic, partition))
        if self.metrics.enabled:
            self.metrics.child(self.metrics.outbox_latency).observe(time.perf_counter() - started)
            self.metrics.inc(self.metrics.outbox_published, amount=len(acked))
        return acked, dead

    def _span(self, rows: Sequence[Any]) -> Any:
        """One span per round, linked to the span that wrote each row (at most 32 links): the records
        themselves carry the writer's context on to the consumers."""
        if self.tracing is None:
            return contextlib.nullcontext()
        parents = [p for p in (_traceparent(row[4]) for row in rows[:32]) if p] if self.tracing.recording else []
        return self.tracing.span(
            "outbox publish",
            kind=SpanKind.PRODUCER,
            links=parents,
            attributes={"messaging.batch.message_count": len(rows)},
        )

    async def publish_once(self, producer: Any) -> int:
        """Publish one batch; returns how many rows it marked. Both statements stand alone, each its own
        transaction (on PostgreSQL asyncpg itself, without BEGIN and COMMIT): through a session they cost
        more CPU than the publishing."""
        rows = await self.db.store.unpublished(self.db, OUTBOX, self.batch_size)
        if not rows:
            return 0
        acked, dead = await self._send(producer, rows)
        if acked:
            await self._mark(acked)
            self.published += len(acked)
        if dead:
            moved = await move_aside(self.db, dead)
            self.dead_lettered += moved
            for row_id, why in dead.items():
                log.error("outbox row %s moved aside (the rows of its key wait behind it): %s", row_id, why)
            if self.metrics.enabled:
                self.metrics.inc(self.metrics.outbox_dead_lettered, amount=moved)
        return len(acked) + len(dead)

    async def prune_once(self) -> int:
        """Delete published rows older than `keep`, at most PRUNE_BATCH, looking only at the PRUNE_BATCH
        oldest rows (the primary key's start): bounded work even when there is nothing to delete."""
        cutoff = datetime.now(UTC) - self.keep
        oldest = select(OUTBOX.c.id, OUTBOX.c.published_at).order_by(OUTBOX.c.id).limit(PRUNE_BATCH).subquery()
        old = select(oldest.c.id).where(oldest.c.published_at < cutoff)
        async with self.db.transaction(span=None) as session:
            result = await session.execute(delete(OUTBOX).where(OUTBOX.c.id.in_(old)))
        count = int(result.rowcount)  # type: ignore[attr-defined]
        self.pruned += count
        return count

    async def _mark(self, acked: list[int]) -> None:
        await self.db.store.mark_published(self.db, OUTBOX, acked, datetime.now(UTC))
