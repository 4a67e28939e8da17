"""Issue 30 item 2: one outbox row can never stop the relay. Rows the broker refuses for good (a topic name
Kafka does not allow, a topic it does not have, a record larger than a batch) are moved aside with the
reason; the rows behind them flow on, the rows of the same key wait behind them in order, and a privacy
officer requeues one after a fix. Against the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from services.common.auth import create_token
from services.common.events import CloudEvent
from services.common.kafka import ensure_topics
from services.common.operations import figures
from services.common.outbox import enqueue
from services.dsar.events import DsarAnswerRecorded
from tests.conftest import build_app, eventually, running
from tests.integration.test_outbox_consumer import read_topic


async def test_bad_rows_are_moved_aside_and_the_rest_flows(
    kafka: str, make_settings: Any, db_url: str, topic_prefix: str
) -> None:
    app = build_app("dsar", make_settings("dsar", db_url, consumers_enabled=False))
    rt = app.state.runtime
    good = topic_prefix + "dsar.events.v1"

    def event(n: int, key: str) -> CloudEvent:
        payload = DsarAnswerRecorded(request_id=f"req-{n}", holder="h", outcome=str(n))
        return CloudEvent.of(payload, source="urn:test", subject=key)

    async with running(app) as client:
        await ensure_topics(kafka, rt.topics(), partitions=3, replication=1)
        async with rt.db.transaction() as s:
            await enqueue(s, good, event(0, "anna"))
            await enqueue(s, "", event(1, "bram"))  # the jam of issue 30: a row without a topic
            await enqueue(s, good, event(2, "carla"))
            await enqueue(s, topic_prefix + "no.such.topic.v1", event(3, "dirk"))
            await enqueue(s, good, event(4, "bram"))  # after bram's dead row: waits behind it, in order
            await enqueue(s, good, event(5, "eva"))
            await enqueue(s, good, event(6, "fien"))
        # the good ones are published, the bad ones moved aside with their reason
        records = await read_topic(kafka, good, 4)
        assert sorted(json.loads(r.value)["outcome"] for r in records) == ["0", "2", "5", "6"]

        async def dead() -> list[Any]:
            async with rt.db.read() as s:
                return list(await s.execute(text("SELECT id, topic, key, reason FROM outbox_dead ORDER BY id")))

        rows = await eventually(dead)
        assert [(r.topic, r.key) for r in rows] == [("", "bram"), (topic_prefix + "no.such.topic.v1", "dirk")]
        assert "not a valid topic name" in rows[0].reason and "has no topic" in rows[1].reason
        f = await figures(rt)
        assert (f.dead, f.held, f.backlog) == (2, 1, 1), "bram's later row waits; nothing else is left"
        staff = {"authorization": f"Bearer {await create_token(rt.db, 'dpo', ['dpo'])}"}
        listed = (await client.get("/admin/outbox/dead", headers=staff)).json()
        assert [d["waiting_behind"] for d in listed] == [1, 0]
        # the privacy officer requeues bram's row on the right topic: it goes out, then the row behind it
        refused = await client.post(f"/admin/outbox/{rows[0].id}/requeue", json={}, headers=staff)
        assert refused.status_code == 422 and "give a topic" in refused.text
        wrong = await client.post(f"/admin/outbox/{rows[0].id}/requeue", json={"topic": "x"}, headers=staff)
        assert wrong.status_code == 422
        r = await client.post(f"/admin/outbox/{rows[0].id}/requeue", json={"topic": good}, headers=staff)
        assert r.status_code == 200, r.text
        records = await read_topic(kafka, good, 6)
        bram = [json.loads(x.value)["outcome"] for x in records if x.key == b"bram"]
        assert bram == ["1", "4"], "bram's events in their order"
        async with rt.db.read() as s:
            entry = (
                await s.execute(text("SELECT entry FROM ledger_entries WHERE event_type LIKE '%outbox.requeued'"))
            ).scalar_one()
        assert json.loads(entry)["data"]["new_topic"] == good and json.loads(entry)["data"]["by"] == "dpo"
        f = await figures(rt)
        assert (f.dead, f.held, f.backlog) == (1, 0, 0)
        assert rt.relay.dead_lettered == 2
        scrape = await client.get(
            "/metrics", headers={"authorization": f"Bearer {await create_token(rt.db, 's', ['system'])}"}
        )
        assert 'privacy_outbox_dead_rows{service="dsar"} 1.0' in scrape.text
        assert 'privacy_outbox_oldest_unpublished_age_seconds{service="dsar"} 0.0' in scrape.text
