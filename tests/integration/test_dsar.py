"""The dsar service on its own: intake, identity check by real SMTP, the clock, decisions, manual holders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.auth import create_site_key, create_token
from services.dsar import decisions, service
from tests.conftest import build_app, eventually, running
from tests.integration.test_outbox_consumer import header, read_topic

BASE = "https://dsar.example.nl"


@pytest.fixture
async def dsar(make_settings: Any, db_url: str, smtp: Any) -> Any:
    app = build_app(
        "dsar",
        make_settings(
            "dsar", db_url, mail_enabled=True, smtp_port=smtp.port, public_base_url=BASE, rate_limit_per_minute=1000
        ),
    )
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        token = await create_token(app.state.runtime.db, "dpo", ["dpo"])
        client.headers["x-site-key"] = key
        yield app, client, smtp, {"authorization": f"Bearer {token}"}


def links(message: Any, kind: str) -> list[str]:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return [m.replace(BASE, "") for m in re.findall(rf"{re.escape(BASE)}/v1/{kind}/\S+", body)]


async def mail_to(smtp: Any, address: str, n: int = 1) -> list[Any]:
    await eventually(lambda: len(smtp.to(address)) >= n, within=20)
    return smtp.to(address)


async def test_intake_verification_and_fan_out(kafka: str, dsar: Any, topic_prefix: str) -> None:
    _app, client, smtp, auth = dsar
    r = await client.post("/v1/requests", json={"kind": "access", "email": "eva@example.nl", "text": "alles"})
    assert r.status_code == 202
    unknown = await client.post("/v1/requests", json={"kind": "access", "email": "nobody-at-all@example.nl"})
    assert unknown.json() == r.json(), "the answer never tells whether an address is known"
    verify = links((await mail_to(smtp, "eva@example.nl"))[0], "verify")[0]
    queue = (await client.get("/admin/requests", headers=auth)).json()
    assert {q["state"] for q in queue} == {"received"} and len(queue) == 2
    assert all(len(q["id"]) >= 26 for q in queue), "request ids are unguessable"
    assert "<form" in (await client.get(verify)).text, "a GET does not verify"
    assert (await client.post(verify)).status_code == 200
    assert (await client.post(verify)).status_code == 404, "single use"
    assert (await client.post("/v1/verify/" + "x" * 43)).status_code == 404
    request = next(q for q in (await client.get("/admin/requests", headers=auth)).json() if q["state"] != "received")
    assert (
        request["state"] == "in_progress" and request["verified_at"] and request["waiting_for"] == ["breach", "consent"]
    )
    received = datetime.fromisoformat(request["received_at"])
    assert request["days_left"] in (29, 30, 31) and not request["overdue"]
    assert datetime.fromisoformat(request["deadline"]) > received + timedelta(days=27)
    events = await read_topic(kafka, topic_prefix + "dsar.events.v1", 4)
    types = [header(e, "ce_type").split("privacy.")[1] for e in events]
    assert types.count("dsar.request.received") == 2 and "dsar.request.started" in types
    assert "dsar.identity.verified" in types


async def test_second_request_is_linked_not_duplicated(dsar: Any) -> None:
    _, client, smtp, auth = dsar
    for _ in range(2):
        await client.post("/v1/requests", json={"kind": "erasure", "email": "dubbel@example.nl"})
    await client.post("/v1/requests", json={"kind": "access", "email": "dubbel@example.nl"})
    queue = (await client.get("/admin/requests", headers=auth)).json()
    erasure = [q for q in queue if q["kind"] == "erasure"]
    assert len(queue) == 2 and len(erasure) == 1 and erasure[0]["linked_requests"] == 1
    await mail_to(smtp, "dubbel@example.nl", 2)


async def test_reminder_then_expiry(dsar: Any) -> None:
    app, client, smtp, auth = dsar
    await client.post("/v1/requests", json={"kind": "access", "email": "traag@example.nl"})
    first = links((await mail_to(smtp, "traag@example.nl"))[0], "verify")[0]
    ctx = service.DsarContext.of(app.state.runtime)
    now = datetime.now(UTC)
    assert await decisions.run_jobs(ctx, now + timedelta(days=1)) == {"reminded": 0, "expired": 0, "shredded": 0}
    assert await decisions.run_jobs(ctx, now + timedelta(days=4)) == {"reminded": 1, "expired": 0, "shredded": 0}
    assert await decisions.run_jobs(ctx, now + timedelta(days=5)) == {"reminded": 0, "expired": 0, "shredded": 0}, (
        "one reminder"
    )
    reminder = (await mail_to(smtp, "traag@example.nl", 2))[1]
    assert reminder["Subject"].startswith("Herinnering")
    assert links(reminder, "verify")[0] != first
    assert await decisions.run_jobs(ctx, now + timedelta(days=8)) == {"reminded": 0, "expired": 1, "shredded": 0}
    assert (await client.post(first)).status_code == 410
    assert (await client.get("/admin/requests", headers=auth, params={"state": "expired"})).json()[0][
        "state"
    ] == "expired"


async def test_extension_within_the_first_month_and_refusal(dsar: Any) -> None:
    app, client, smtp, auth = dsar
    r = await client.post(
        "/admin/requests",
        headers=auth,
        json={
            "kind": "access",
            "email": "lang@example.nl",
            "channel": "letter",
            "identity_verified": True,
            "received_at": "2026-01-31T10:00:00+01:00",
        },
    )
    assert r.status_code == 201
    old = r.json()
    assert old["deadline"].startswith("2026-02-28") and old["overdue"] and old["days_left"] < 0
    late = await client.post(
        f"/admin/requests/{old['id']}/extend", headers=auth, json={"months": 2, "reason": "veel systemen te doorzoeken"}
    )
    assert late.status_code == 409 and "first month" in late.json()["detail"]
    r = await client.post(
        "/admin/requests",
        headers=auth,
        json={"kind": "erasure", "email": "lang@example.nl", "channel": "phone", "identity_verified": True},
    )
    rid = r.json()["id"]
    assert (
        await client.post(
            f"/admin/requests/{rid}/extend", headers=auth, json={"months": 3, "reason": "veel systemen te doorzoeken"}
        )
    ).status_code == 422
    ext = await client.post(
        f"/admin/requests/{rid}/extend", headers=auth, json={"months": 2, "reason": "veel systemen te doorzoeken"}
    )
    assert ext.status_code == 200 and ext.json()["state"] == "extended"
    assert ext.json()["extension_reason"] == "veel systemen te doorzoeken"
    assert ext.json()["days_left"] > 80
    mail = next(m for m in await mail_to(smtp, "lang@example.nl") if "meer tijd" in m["Subject"])
    assert "veel systemen" in mail.get_body(preferencelist=("plain",)).get_content()
    refused = await client.post(
        f"/admin/requests/{old['id']}/refuse",
        headers=auth,
        json={"reason": "kennelijk ongegrond: herhaald verzoek (AVG 12(5))"},
    )
    assert refused.json()["state"] == "refused"
    await eventually(lambda: any("afgewezen" in m["Subject"] for m in smtp.to("lang@example.nl")), within=20)
    refusal = next(m for m in smtp.to("lang@example.nl") if "afgewezen" in m["Subject"])
    text = refusal.get_body(preferencelist=("plain",)).get_content()
    assert "Autoriteit Persoonsgegevens" in text and "naar de rechter" in text
    # received on 31 January, refused in December: GDPR 12(4) wanted the reasons by 28 February
    assert "Dit antwoord komt te laat: we hadden het je uiterlijk op 28 februari 2026 moeten laten weten" in text
    assert "This answer comes late: we should have told you by 28 February 2026" in text
    async with app.state.runtime.db.read() as session:
        from sqlalchemy import text as sql

        entries = [row[0] for row in await session.execute(sql("SELECT entry FROM ledger_entries"))]
    refused_entry = next(e for e in entries if b"dsar.request.refused" in e)
    assert b'"late":true' in refused_entry.replace(b" ", b"")
    assert (
        await client.post(f"/admin/requests/{old['id']}/refuse", headers=auth, json={"reason": "nog een keer weigeren"})
    ).status_code == 409
    overdue = (await client.get("/admin/requests", headers=auth, params={"overdue": "true"})).json()
    assert [q["id"] for q in overdue] == []  # the overdue one is refused now


async def test_manual_holder_task_and_erasure_summary(dsar: Any) -> None:
    _app, client, smtp, auth = dsar
    for name in ("consent", "breach"):  # only the manual processor answers in this test
        await client.put(f"/admin/holders/{name}", headers=auth, json={"name": name, "kind": "kafka", "active": False})
    r = await client.put(
        "/admin/holders/TeamLeader",
        headers=auth,
        json={"name": "TeamLeader", "kind": "manual", "description": "CRM (Art. 8 processor)"},
    )
    assert r.status_code == 200
    r = await client.post(
        "/admin/requests",
        headers=auth,
        json={"kind": "erasure", "email": "crm@example.nl", "channel": "email", "identity_verified": True},
    )
    rid = r.json()["id"]
    assert r.json()["waiting_for"] == ["TeamLeader"]
    bad = await client.post(
        f"/admin/requests/{rid}/answers", headers=auth, json={"holder": "TeamLeader", "outcome": "refused"}
    )
    assert bad.status_code == 422 and "legal reason" in bad.json()["detail"]
    wrong = await client.post(
        f"/admin/requests/{rid}/answers", headers=auth, json={"holder": "consent", "outcome": "erased"}
    )
    assert wrong.status_code == 422
    done = await client.post(
        f"/admin/requests/{rid}/answers",
        headers=auth,
        json={
            "holder": "TeamLeader",
            "outcome": "refused",
            "reason": "GDPR 17(3)(b): facturen 7 jaar bewaren (fiscus)",
        },
    )
    assert done.json()["state"] == "completed" and done.json()["answers"][0]["answered_by"] == "dpo"
    mail = next(m for m in await mail_to(smtp, "crm@example.nl") if "verwijderd" in m["Subject"])
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Bewaard, en waarom:" in text and "TeamLeader: GDPR 17(3)(b)" in text
    assert "Autoriteit Persoonsgegevens" in text and "naar de rechter stappen (AVG art. 79)" in text
    again = await client.post(
        f"/admin/requests/{rid}/answers", headers=auth, json={"holder": "TeamLeader", "outcome": "erased"}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "delete", "email": "a@example.nl"}, 422),
        ({"kind": "access", "email": "nope"}, 422),
        ({"kind": "rectification", "email": "a@example.nl"}, 422),
        ({"kind": "access", "email": "a@example.nl", "text": "x" * 70_000}, 413),
    ],
)
async def test_bad_input(dsar: Any, body: dict[str, Any], status: int) -> None:
    _, client, _, _ = dsar
    assert (await client.post("/v1/requests", json=body)).status_code == status


async def test_intake_is_rate_limited(make_settings: Any, sqlite_url: str) -> None:
    app = build_app("dsar", make_settings("dsar", sqlite_url, rate_limit_per_minute=2))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "w", ["https://www.example.nl"])
        codes = [
            (
                await client.post(
                    "/v1/requests", headers={"x-site-key": key}, json={"kind": "access", "email": f"r{i}@example.nl"}
                )
            ).status_code
            for i in range(4)
        ]
        assert codes[:2] == [202, 202] and codes[-1] == 429


async def test_external_kafka_holder_answers_on_dsar_answers(kafka: str, dsar: Any, topic_prefix: str) -> None:
    """A registered external system answers with its own event on dsar.answers.v1."""
    from aiokafka import AIOKafkaProducer

    from services.common.contracts import HolderAnswered, Outcome, RequestKind
    from services.common.events import CloudEvent

    app, client, _, auth = dsar
    await eventually(lambda: app.state.runtime.consumers[0].ready.is_set(), within=30)
    for name in ("consent", "breach"):
        await client.put(f"/admin/holders/{name}", headers=auth, json={"name": name, "kind": "kafka", "active": False})
    await client.put("/admin/holders/webshop", headers=auth, json={"name": "webshop", "kind": "kafka"})
    r = await client.post(
        "/admin/requests",
        headers=auth,
        json={"kind": "erasure", "email": "shop@example.nl", "channel": "email", "identity_verified": True},
    )
    rid, subject = r.json()["id"], app.state.runtime.recorder.pseudonym("shop@example.nl")
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for who in ("intruder", "webshop"):  # an unregistered holder's answer changes nothing
            answer = HolderAnswered(
                request_id=rid, holder=who, kind=RequestKind.ERASURE, subject=subject, outcome=Outcome.ERASED
            )
            key, value, headers = CloudEvent.of(answer, source=f"urn:{who}", subject=subject).to_kafka()
            await producer.send_and_wait(topic_prefix + "dsar.answers.v1", value, key=key, headers=headers)
    finally:
        await producer.stop()

    async def completed() -> Any:
        body = (await client.get(f"/admin/requests/{rid}", headers=auth)).json()
        return body if body["state"] == "completed" else None

    body = await eventually(completed, within=30)
    assert [a["holder"] for a in body["answers"]] == ["webshop"]


@pytest.mark.parametrize(
    ("received_at", "why"),
    [("2028-01-10T09:00:00+01:00", "in the future"), ("2026-11-30T09:00:00", "offset"), (1764583200, "offset")],
)
async def test_a_receipt_date_is_unambiguous_and_not_in_the_future(dsar: Any, received_at: Any, why: str) -> None:
    """The legal clock starts at receipt: a request dated in 2028 would move its deadline with it."""
    _app, client, _smtp, auth = dsar
    body = {"kind": "access", "email": "jaap@example.nl", "channel": "letter", "received_at": received_at}
    r = await client.post("/admin/requests", headers=auth, json=body)
    assert r.status_code == 422, (why, r.text)
    assert any(e["loc"][-1] == "received_at" for e in r.json()["errors"]), r.text
    assert (await client.get("/admin/requests", headers=auth)).json() == [], "nothing was recorded"
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    ok = await client.post("/admin/requests", headers=auth, json={**body, "received_at": past})
    assert ok.status_code == 201 and ok.json()["days_left"] < 31


async def test_a_request_from_before_the_gdpr_is_a_422_and_the_queue_keeps_working(dsar: Any) -> None:
    """Found by `make fuzz` (seed 229908599): a received_at in the year 391 was taken, and its deadline made
    its answer and then the whole queue a 500 (days left beyond any bound)."""
    app, client = dsar[0], dsar[1]
    token = await create_token(app.state.runtime.db, "dpo-ancient", ["dpo"])
    staff = {"authorization": f"Bearer {token}"}
    body = {"kind": "erasure", "email": "oud@example.nl", "channel": "letter", "received_at": "0391-12-22T01:40:55Z"}
    r = await client.post("/admin/requests", json=body, headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "received_at", r.text
    assert "25 May 2018" in r.text
    assert (await client.get("/admin/requests", headers=staff)).status_code == 200
