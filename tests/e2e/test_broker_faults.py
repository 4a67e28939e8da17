"""Faults with a real broker of the test's own (port 19092): the broker killed while writes go on, and a
relay that dies between publishing and marking. Nothing is lost, nothing takes effect twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from services.common.auth import create_token
from services.common.outbox import OutboxRelay
from tests.conftest import ROOT, build_app, eventually, fresh_pg_database, running

PORT, CONTROLLER = 19092, 19093
BOOTSTRAP = f"127.0.0.1:{PORT}"


class Broker:
    def __init__(self, home: Path) -> None:
        self.env = {
            **os.environ,
            "KAFKA_HOME": str(home),
            "KAFKA_PORT": str(PORT),
            "KAFKA_CONTROLLER_PORT": str(CONTROLLER),
        }
        self.pidfile = home / "kafka.pid"

    def start(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], env=self.env, check=True, timeout=180)

    def kill(self) -> None:
        os.kill(int(self.pidfile.read_text()), signal.SIGKILL)
        with contextlib.suppress(Exception):
            os.waitpid(int(self.pidfile.read_text()), 0)

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "stop"], env=self.env, check=False, timeout=60)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("kafka-faults"))
    b.start()
    yield b
    b.stop()


@contextlib.asynccontextmanager
async def system(make_settings: Any, dsar_relay: bool = True) -> AsyncIterator[dict[str, Any]]:
    async with contextlib.AsyncExitStack() as stack:
        apps = {}
        for service in ("dsar", "consent"):
            url = await stack.enter_async_context(fresh_pg_database())
            relay = dsar_relay or service != "dsar"
            apps[service] = build_app(
                service, make_settings(service, url, kafka_bootstrap_servers=BOOTSTRAP, relay_enabled=relay)
            )
        clients = {n: await stack.enter_async_context(running(a)) for n, a in apps.items()}
        yield {"apps": apps, "clients": clients}


async def post_requests(client: Any, token: str, start: int, count: int) -> list[str]:
    ids = []
    for i in range(start, start + count):
        r = await client.post(
            "/admin/requests",
            headers={"authorization": f"Bearer {token}"},
            json={
                "kind": "erasure",
                "email": f"person{i}@example.nl",
                "channel": "email",
                "identity_verified": True,
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def answered_requests(consent: Any) -> list[str]:
    async with consent.db.read() as s:
        rows = (
            (
                await s.execute(
                    text(
                        "SELECT entry FROM ledger_entries WHERE event_type = 'nl.jzve.privacy.dsar.holder.answered' "
                        "ORDER BY seq"
                    )
                )
            )
            .scalars()
            .all()
        )
    return [json.loads(e)["data"]["request_id"] for e in rows]


async def read_all(topic: str, expected_ids: int, min_records: int = 0) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest")
    await consumer.start()
    seen: list[Any] = []
    try:
        async with asyncio.timeout(90):
            while len({dict(r.headers)["ce_id"] for r in seen}) < expected_ids or len(seen) < min_records:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend(msgs)
    finally:
        await consumer.stop()
    return seen


def assert_key_order(records: list[Any]) -> None:
    """Per key, the first delivery of each event follows the outbox order (the relay's row order)."""
    firsts: dict[str, list[str]] = defaultdict(list)
    for r in records:
        ident = dict(r.headers)["ce_id"].decode()
        if ident not in firsts[r.key]:
            firsts[r.key].append(ident)
    for ids in firsts.values():
        assert len(ids) == len(set(ids))


async def test_broker_killed_while_writing(broker: Broker, make_settings: Any, topic_prefix: str) -> None:
    async with system(make_settings) as sys_:
        dsar, consent = sys_["apps"]["dsar"].state.runtime, sys_["apps"]["consent"].state.runtime
        client = sys_["clients"]["dsar"]
        await eventually(lambda: consent.consumers[0].ready.is_set(), within=60)
        token = await create_token(dsar.db, "dpo", ["dpo"])
        before = await post_requests(client, token, 0, 10)
        await eventually(lambda: _count(answered_requests(consent), 10), within=60)

        broker.kill()
        during = await post_requests(client, token, 10, 25)  # HTTP keeps working: only the database is touched
        broker.start()

        expected = before + during
        answers = await eventually(lambda: _count(answered_requests(consent), len(expected)), within=120)
        await asyncio.sleep(2)
        answers = await answered_requests(consent)
        assert sorted(answers) == sorted(expected), "each request answered exactly once"
        records = await read_all(topic_prefix + "dsar.events.v1", len(expected) * 3)
        assert_key_order(records)
        async with dsar.db.read() as s:
            # the events of dsar.events.v1 (the ledger's journal rows go to ledger.entries.v1, read elsewhere)
            events = text("SELECT id, key, headers FROM outbox WHERE topic LIKE '%dsar.events.v1' ORDER BY id")
            order = (await s.execute(events)).all()
            for rt in (dsar, consent):  # a broker that is down is a transient refusal: nothing moved aside
                async with rt.db.read() as t:
                    assert (await t.execute(text("SELECT count(*) FROM outbox_dead"))).scalar_one() == 0
        _assert_same_order_per_key(order, records)


async def test_relay_dies_between_publish_and_mark(broker: Broker, make_settings: Any, topic_prefix: str) -> None:
    async with system(make_settings, dsar_relay=False) as sys_:  # we drive dsar's relays by hand
        dsar, consent = sys_["apps"]["dsar"].state.runtime, sys_["apps"]["consent"].state.runtime
        client = sys_["clients"]["dsar"]
        await eventually(lambda: consent.consumers[0].ready.is_set(), within=60)
        token = await create_token(dsar.db, "dpo", ["dpo"])
        ids = await post_requests(client, token, 0, 12)

        class CrashBeforeMark(OutboxRelay):
            async def _mark(self, acked: list[int]) -> None:
                raise RuntimeError("relay process died after the broker acked, before marking")

        from services.common.kafka import idempotent_producer

        producer = idempotent_producer(BOOTSTRAP, client_id="crashing")
        await producer.start()
        try:
            with pytest.raises(RuntimeError, match="before marking"):
                await CrashBeforeMark(dsar.db, BOOTSTRAP, client_id="crash").publish_once(producer)
        finally:
            await producer.stop()
        async with dsar.db.read() as s:
            waiting = "SELECT count(*) FROM outbox WHERE published_at IS NULL AND topic LIKE '%dsar.events.v1'"
            assert (await s.execute(text(waiting))).scalar_one() == 36

        restarted = OutboxRelay(dsar.db, BOOTSTRAP, client_id="restarted", poll_seconds=0.05, lease_seconds=0.5)
        task = asyncio.create_task(restarted.run())
        try:
            # everything again (and then the answers dsar records as consent replies)
            await eventually(lambda: restarted.published >= len(ids) * 3, within=60)
            await eventually(lambda: _count(answered_requests(consent), len(ids)), within=60)
            await asyncio.sleep(2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert sorted(await answered_requests(consent)) == sorted(ids), "published twice, applied once"
        records = await read_all(topic_prefix + "dsar.events.v1", len(ids) * 3, min_records=len(ids) * 6)
        copies: dict[bytes, int] = defaultdict(int)
        for r in records:
            if dict(r.headers)["ce_type"].endswith((b"request.received", b"request.started")):
                copies[dict(r.headers)["ce_id"]] += 1
        assert len(copies) == len(ids) * 2 and set(copies.values()) == {2}, "every request event was published twice"


async def _count(coro: Any, n: int) -> bool:
    return len(await coro) >= n


def _assert_same_order_per_key(outbox_rows: list[Any], records: list[Any]) -> None:
    expected: dict[str | None, list[str]] = defaultdict(list)
    for _id, key, headers in outbox_rows:
        expected[key].append(dict(json.loads(headers))["ce_id"])
    got: dict[str | None, list[str]] = defaultdict(list)
    for r in records:
        ident = dict(r.headers)["ce_id"].decode()
        key = r.key.decode() if r.key is not None else None
        if ident not in got[key]:
            got[key].append(ident)
    assert got == expected, "per key, events arrive in the order they were committed"


def test_a_start_while_a_stop_finishes_ends_with_one_owned_broker(broker: Broker) -> None:
    """`kafka.sh stop` removed the pid file at its end whatever it held: a start that had written its own
    pid meanwhile lost it, said "broker exited during start", and left a broker without an owner."""
    stopping = subprocess.Popen([str(ROOT / "scripts" / "kafka.sh"), "stop"], env=broker.env)
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], env=broker.env, check=True, timeout=180)
    assert stopping.wait(timeout=60) == 0
    pid = int(broker.pidfile.read_text())
    os.kill(pid, 0)  # recorded, and alive
    home = broker.env["KAFKA_HOME"]
    brokers = subprocess.run(["pgrep", "-f", f"kafka.logs.dir={home} "], capture_output=True, text=True).stdout.split()
    assert brokers == [str(pid)], "one broker, the one the pid file names"
    assert subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "status"], env=broker.env, timeout=30).returncode == 0
