"""Consent over time and across services: retention, access fragments, erasure, minor reports (real Kafka)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.common.auth import create_site_key, create_token
from services.common.catalog import load_all
from services.common.contracts import DataSubjectRequestStarted, RequestKind, open_fragment
from services.common.events import CloudEvent
from services.common.ledger.verify import verify_export
from services.consent import retention
from services.consent.context import ConsentContext
from tests.conftest import build_app, eventually, running, system
from tests.integration.test_outbox_consumer import header, read_topic
from tests.notices import NOTICE

load_all()


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        client.headers["x-site-key"] = key
        token = await create_token(app.state.runtime.db, "dpo", ["dpo", "admin"])
        yield app, client, {"authorization": f"Bearer {token}"}


async def test_retention_expires_and_shreds(kafka: str, consent: Any, topic_prefix: str) -> None:
    app, client, auth = consent
    await client.post(
        "/v1/consents",
        json={
            "email": "oud@example.nl",
            "channel": "chat",
            "notice": NOTICE,
            "purposes": [{"purpose": "chat", "granted": True}],
        },
    )
    await client.post(
        "/v1/consents",
        json={
            "email": "blijft@example.nl",
            "channel": "newsletter_signup",
            "notice": NOTICE,
            "purposes": [{"purpose": "newsletter", "granted": True}],
        },
    )
    ctx = ConsentContext.of(app.state.runtime)
    assert await retention.run(ctx) == {"expired": 0, "shredded": 0, "rekeyed": 0}
    # an unconfirmed sign-up goes with its link (72 hours and a day), long before the chat's year is over
    days_later = datetime.now(UTC) + timedelta(hours=97)
    assert await retention.run(ctx, now=days_later) == {"expired": 1, "shredded": 1, "rekeyed": 0}
    unconfirmed = await client.post("/admin/subjects/history", json={"email": "blijft@example.nl"}, headers=auth)
    assert unconfirmed.json()["states"] == {}, "a pending sign-up goes with its link"
    kept = (await client.post("/admin/subjects/history", json={"email": "oud@example.nl"}, headers=auth)).json()
    assert kept["states"] == {"chat": "granted"}
    later = datetime.now(UTC) + timedelta(days=366)
    assert await retention.run(ctx, now=later) == {"expired": 1, "shredded": 1, "rekeyed": 0}
    gone = (await client.post("/admin/subjects/history", json={"email": "oud@example.nl"}, headers=auth)).json()
    assert gone["states"] == {} and gone["records"][0]["evidence"] == "erased"
    assert [r["state"] for r in gone["records"]] == ["granted", "expired"]
    types = [header(e, "ce_type") for e in await read_topic(kafka, topic_prefix + "consent.events.v1", 6)]
    assert "nl.jzve.privacy.consent.expired" in types and "nl.jzve.privacy.subject.shredded" in types
    state = await read_topic(kafka, topic_prefix + "consent.state.v1", 4)
    erased = app.state.runtime.recorder.pseudonym("oud@example.nl").encode()
    assert [r.value is None for r in state if r.key == erased] == [False, True], (
        "a tombstone clears the erased subject from the compacted topic"
    )
    vkey = (await client.get("/ledger/public-key")).json()["vkey"]
    verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)


async def produce(kafka: str, topic: str, payload: Any, subject: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        key, value, headers = CloudEvent.of(payload, source="urn:jzve:privacy:dsar", subject=subject).to_kafka()
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_access_request_gets_a_sealed_fragment(kafka: str, consent: Any, topic_prefix: str) -> None:
    app, client, _ = consent
    rt = app.state.runtime
    await eventually(lambda: rt.consumers[0].ready.is_set())
    await client.post(
        "/v1/consents",
        json={
            "email": "inzage@example.nl",
            "name": "Ine",
            "channel": "contact_form",
            "notice": NOTICE,
            "purposes": [{"purpose": "contact", "granted": True}],
        },
    )
    subject = rt.recorder.pseudonym("inzage@example.nl")
    request = DataSubjectRequestStarted(
        request_id="dsr_access0001",
        kind=RequestKind.ACCESS,
        subject=subject,
        deadline=datetime.now(UTC) + timedelta(days=30),
    )
    await produce(kafka, topic_prefix + "dsar.events.v1", request, subject)
    events = await read_topic(kafka, topic_prefix + "consent.events.v1", 2)
    answer = json.loads(next(e.value for e in events if header(e, "ce_type").endswith("holder.answered")))
    assert answer["outcome"] == "provided" and "inzage@example.nl" not in json.dumps(answer)
    fragment = open_fragment(rt.sealing, "dsr_access0001", answer["fragment"])
    assert fragment["records"][0]["evidence"]["email"] == "inzage@example.nl"
    assert fragment["records"][0]["purpose"] == "contact"
    # GDPR 15(1)(c): the recipients of this person's purposes (the contact form's four), not all 13 processors
    assert {r["name"] for r in fragment["recipients"]} == {"WordPress", "GravityForms", "Google Drive", "TeamLeader"}
    assert fragment["purposes"]["contact"]["retention_days"] == 365
    async with rt.db.read() as s:
        entry = await rt.ledger.entry(
            s, event_id=header(next(e for e in events if header(e, "ce_type").endswith("holder.answered")), "ce_id")
        )
    assert json.loads(entry.entry)["data"]["fragment"].startswith("sha256:"), "the ledger keeps only a digest"


async def test_minor_report_starts_erasure_everywhere(kafka: str, make_settings: Any) -> None:
    """consent restricts at once; dsar opens an erasure request that waits for a decision (a report is no
    identity check); once a privacy officer decides, consent and breach answer and dsar completes."""
    async with system(make_settings, ("consent", "dsar", "breach")) as (apps, clients):
        consent_rt, dsar_rt = apps["consent"].state.runtime, apps["dsar"].state.runtime
        key = await create_site_key(consent_rt.db, "website", ["https://www.example.nl"])
        await clients["consent"].post(
            "/v1/consents",
            headers={"x-site-key": key},
            json={
                "email": "jong@example.nl",
                "channel": "chat",
                "notice": NOTICE,
                "age": 18,
                "purposes": [{"purpose": "chat", "granted": True}],
            },
        )
        r = await clients["consent"].post(
            "/v1/minor-reports", headers={"x-site-key": key}, json={"email": "jong@example.nl", "details": "is 13"}
        )
        assert r.status_code == 202
        from sqlalchemy import text

        young = consent_rt.recorder.pseudonym("jong@example.nl")
        async with consent_rt.db.read() as s:
            held = (await s.execute(text("SELECT reason FROM restrictions WHERE subject = :s"), {"s": young})).all()
        assert [r[0] for r in held] == ["minor report: restricted until decided (GDPR 18(1))"], (
            "a restriction like any other: retention paused, and lifting it is told to the person first"
        )

        async def waiting() -> Any:
            async with dsar_rt.db.read() as s:
                return (
                    await s.execute(text("SELECT id, state FROM dsar_requests WHERE channel = 'minor_report'"))
                ).first()

        request_id, state = await eventually(waiting, within=60)
        assert state == "received", "nothing is erased on a report alone"
        dpo = await create_token(dsar_rt.db, "dpo", ["dpo"])
        decided = await clients["dsar"].post(
            f"/admin/requests/{request_id}/decide",
            json={"note": "the parent confirmed by phone"},
            headers={"authorization": f"Bearer {dpo}"},
        )
        assert decided.status_code == 200 and decided.json()["state"] == "in_progress", decided.text

        async def completed() -> Any:
            async with dsar_rt.db.read() as s:
                return (
                    await s.execute(
                        text("SELECT state FROM dsar_requests WHERE channel = 'minor_report' AND state = 'completed'")
                    )
                ).scalar_one_or_none()

        assert await eventually(completed, within=60) == "completed"
        async with consent_rt.db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM restrictions"))).scalar_one() == 0, "erased with them"
