"""Kafka plumbing: topic creation at startup, producer settings, connectivity check."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.common.events import Topic

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, topics: Iterable[Topic], *, partitions: int, replication: int) -> None:
    """Create missing topics with their partition count and config; never rely on auto-creation."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        new = [
            NewTopic(t.name, partitions, replication, topic_configs=t.configs())
            for t in topics
            if t.name not in existing
        ]
        for topic in new:
            try:
                await admin.create_topics([topic])
                log.info("created topic", extra={"topic": topic.name})
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def kafka_reachable(bootstrap: str, timeout_ms: int = 3000) -> None:
    """Raise unless the cluster answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:  # closed also when it could not start: no connection is left behind for the collector to find
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


# A record batch of the relay: well under the broker's and topics' default limit (message.max.bytes, 1 MiB).
# aiokafka's default of 16 KiB held ~20 outbox rows, so a round of 500 sent 25 batches and cost twice the CPU.
RELAY_BATCH_BYTES = 256 * 1024


def idempotent_producer(bootstrap: str, *, client_id: str, max_batch_size: int = 16384) -> AIOKafkaProducer:
    """acks=all and the idempotent producer: no duplicates from producer retries, order kept per partition."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=15000,
        max_batch_size=max_batch_size,
    )


async def delete_topics(bootstrap: str, prefix: str | tuple[str, ...]) -> list[str]:
    """Delete every topic whose name starts with `prefix` (or one of them: a test's or benchmark's own);
    returns them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
