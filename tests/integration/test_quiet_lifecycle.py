"""A service started while Kafka cannot be reached, and stopped before it ever could, leaves nothing
unclosed behind it (aiokafka says so at error level when a client is collected unclosed) and says why
it is not ready; a first start against a new broker logs no error for its group coordinator."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from services.common.consumer import EventConsumer
from services.common.db import Database
from services.common.logs import CoordinatorNotYet
from tests.conftest import build_app, free_port, running


class Records(logging.Handler):
    """Every record, whatever the service's logging setup did to the root logger's handlers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def unclosed_clients() -> list[str]:
    gc.collect()
    return [
        repr(o)[:80]
        for o in gc.get_objects()
        if isinstance(o, AIOKafkaProducer | AIOKafkaConsumer) and getattr(o, "_closed", True) is False
    ]


async def test_a_consumer_stopped_while_waiting_for_the_broker_closes_its_clients(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """Kafka is going away (an earlier `make run` stops it) while a consumer (re)starts: stopping the
    service then must close the consumer and its dead-letter producer, not leave them to the collector."""
    before = len(unclosed_clients())

    async def refused(self: Any) -> None:
        raise KafkaConnectionError("broker going away")

    monkeypatch.setattr(AIOKafkaProducer, "start", refused)
    db = Database(sqlite_url)
    consumer = EventConsumer(db, "127.0.0.1:9", group="quiet-test", topics=["quiet.topic"], handlers={})
    monkeypatch.setattr(AIOKafkaConsumer, "start", lambda self: asyncio.sleep(0))
    task = asyncio.create_task(consumer.run())
    await asyncio.sleep(0.3)  # in its start loop: the consumer started, the producer refused
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await db.dispose()
    del task, consumer
    assert len(unclosed_clients()) == before


async def test_stopping_while_kafka_is_unreachable_says_why_and_leaves_nothing(
    make_settings: Any, sqlite_url: str
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    before = len(unclosed_clients())
    app = build_app("consent", make_settings("consent", sqlite_url, kafka_bootstrap_servers=dead))
    records = Records()
    logging.getLogger().addHandler(records)
    try:
        async with running(app) as client:
            r = await client.get("/readyz")
            assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
            assert "kafka" in r.json()["problems"] and r.json()["detail"].startswith("not ready: ")
            assert "not yet compared with Kafka" in r.json()["problems"]["ledger"]
            await asyncio.sleep(2.5)  # the runtime has tried to compare its ledger with Kafka, and tries again
    finally:
        logging.getLogger().removeHandler(records)
    del app, client
    assert len(unclosed_clients()) == before
    assert not [r.getMessage() for r in records.records if "Unclosed" in r.getMessage()]
    assert any("cannot compare the ledger with Kafka yet" in r.getMessage() for r in records.records), "it says why"


def test_the_group_coordinator_not_yet_there_is_said_once_as_information(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    saved = coordinator.filters[:]
    coordinator.filters[:] = [CoordinatorNotYet()]
    CoordinatorNotYet.said = False
    try:
        for _ in range(3):
            coordinator.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
        coordinator.error("Heartbeat failed: something else")
    finally:
        coordinator.filters[:] = saved
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [m for level, m in messages if level >= logging.ERROR] == ["Heartbeat failed: something else"]
    assert sum("not available yet" in m for _, m in messages) == 1
