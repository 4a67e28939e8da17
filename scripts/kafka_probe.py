"""Exit 0 when a Kafka broker accepts a real produce (acks=all) on a probe topic.

Usage: kafka_probe.py HOST:PORT [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

PROBE_TOPIC = "_local.probe"


async def probe(bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await admin.start()
    try:
        if PROBE_TOPIC not in await admin.list_topics():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(PROBE_TOPIC, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=3000)
    await producer.start()
    try:
        await producer.send_and_wait(PROBE_TOPIC, b"ping")
    finally:
        await producer.stop()
    # Ready also means a consumer group can be joined: a new broker creates its group coordinator (the
    # __consumer_offsets topic) on the first request for one; ask for it here, not in the services' start.
    consumer = AIOKafkaConsumer(PROBE_TOPIC, bootstrap_servers=bootstrap, group_id="_local.probe")
    await consumer.start()
    try:
        await consumer._coordinator.ensure_coordinator_known()
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(probe(args.bootstrap), args.timeout))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        print(f"kafka not ready at {args.bootstrap}: {exc!r}", file=sys.stderr)
        return 1
    print(f"kafka ready at {args.bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
