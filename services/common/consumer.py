"""Idempotent Kafka consumers: effect and event id in one transaction, offsets committed after it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.db import Database, insert_ignoring_duplicates
from services.common.events import CloudEvent, EventData, EventError
from services.common.kafka import idempotent_producer
from services.common.metrics import Metrics
from services.common.models import InboxEvent, table_of
from services.common.telemetry import SpanKind, Tracing

log = logging.getLogger(__name__)

Handler = Callable[[Any, CloudEvent, Any], Awaitable[None]]  # (session, event, payload)
HANDLER_ATTEMPTS = 3


class EventConsumer:
    """Consumes `topics` as consumer group `group`; applies each event once; dead-letters the rest."""

    def __init__(
        self,
        db: Database,
        bootstrap: str,
        *,
        group: str,
        topics: list[str],
        handlers: dict[type[EventData], Handler],
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics(group, enabled=False)
        self.tracing = tracing
        self._consumer: Any = None
        self._done: dict[tuple[str, int], int] = {}  # next offset to handle, per partition
        self.bootstrap = bootstrap
        self.group = group
        self.topics = topics
        self.handlers = {model.type_name(): handler for model, handler in handlers.items()}
        self.dlq_topic = f"{group}.dlq"
        self.applied = 0
        self.dead_lettered = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=200,
        )
        producer = idempotent_producer(self.bootstrap, client_id=f"{self.group}-dlq")
        self._consumer = consumer
        try:
            await self._start(consumer, producer)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                self.ready.set()
                for tp, messages in batches.items():
                    for message in messages:
                        await self._handle(message, producer)
                    # Every effect above is committed: now the offset may move past them.
                    await consumer.commit({tp: messages[-1].offset + 1})
                    self._done[(tp.topic, tp.partition)] = messages[-1].offset + 1
        finally:  # also when stopped while still waiting for the broker: nothing is left unclosed
            await consumer.stop()
            await producer.stop()

    async def _start(self, consumer: AIOKafkaConsumer, producer: Any) -> None:
        started_consumer = False
        while True:
            try:
                if not started_consumer:
                    await consumer.start()
                    started_consumer = True
                await producer.start()
                return
            except Exception as exc:  # noqa: BLE001 - broker not up yet
                log.warning("consumer %s cannot reach Kafka yet: %r", self.group, exc)
                await asyncio.sleep(2.0)

    def lag(self) -> dict[tuple[str, int], int]:
        """Records behind each assigned partition's end (what the last fetch saw)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        out = {}
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None:
                out[(tp.topic, tp.partition)] = max(0, end - self._done.get((tp.topic, tp.partition), end))
        return out

    async def _handle(self, message: Any, producer: Any) -> None:
        try:
            event = CloudEvent.from_kafka(message.value, list(message.headers or ()))
            if event.type not in self.handlers:
                event.payload()  # an unknown or malformed type is dead-lettered; a known one ignored
                self.metrics.inc(self.metrics.consumer_records, self.group, "ignored")
                return
            payload = event.payload()
        except EventError as exc:
            await self._dead_letter(producer, message, str(exc), "malformed")
            return
        traced = (
            self.tracing.span(
                f"consume {event.type}",
                kind=SpanKind.CONSUMER,
                parent=event.traceparent,
                attributes={"messaging.destination.name": message.topic, "messaging.message.id": event.id},
            )
            if self.tracing
            else contextlib.nullcontext()
        )
        with traced:
            for attempt in range(1, HANDLER_ATTEMPTS + 1):
                try:
                    applied = await self.apply(event, payload)
                    self.metrics.inc(self.metrics.consumer_records, self.group, "applied" if applied else "duplicate")
                    return
                except Exception as exc:
                    log.exception("consumer %s failed on %s (attempt %d)", self.group, event.id, attempt)
                    if attempt == HANDLER_ATTEMPTS:
                        await self._dead_letter(producer, message, f"handler failed: {exc!r}", "handler_failed")
                    else:
                        await asyncio.sleep(0.5 * attempt)

    async def apply(self, event: CloudEvent, payload: EventData) -> bool:
        """Apply once: False when this consumer already applied the event (a redelivery)."""
        async with self.db.transaction() as session:
            result = await session.execute(
                insert_ignoring_duplicates(
                    session,
                    table_of(InboxEvent),
                    {
                        "consumer": self.group,
                        "source": event.source,
                        "event_id": event.id,
                        "processed_at": datetime.now(UTC),
                    },
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            await self.handlers[event.type](session, event, payload)
        self.applied += 1
        return True

    async def _dead_letter(self, producer: Any, message: Any, reason: str, kind: str) -> None:
        log.warning("dead-lettering %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason)
        headers = [
            *(message.headers or ()),
            ("dlq-reason", reason[:2000].encode()),
            ("dlq-topic", message.topic.encode()),
            ("dlq-partition", str(message.partition).encode()),
            ("dlq-offset", str(message.offset).encode()),
            ("dlq-group", self.group.encode()),
        ]
        await producer.send_and_wait(self.dlq_topic, value=message.value, key=message.key, headers=headers)
        self.dead_lettered += 1
        self.metrics.inc(self.metrics.dead_letters, self.group, kind)


__all__ = ["EventConsumer", "Handler", "TopicPartition"]
