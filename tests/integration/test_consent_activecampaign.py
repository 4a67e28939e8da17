"""The ActiveCampaign webhook, fed exactly as ActiveCampaign posts: form-encoded, PHP-style keys."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from services.common.auth import create_token
from services.consent import service, webhooks
from services.consent.context import ConsentContext
from tests.conftest import build_app, running
from tests.notices import NOTICE

FORM = {"content-type": "application/x-www-form-urlencoded"}


def ac_body(kind: str, email: str = "lotte@example.nl", **extra: str) -> bytes:
    fields = {
        "type": kind,
        "date_time": "2026-11-24 10:15:00",
        "initiated_from": "public",
        "initiated_by": "public",
        "list": "1",
        "contact[id]": "42",
        "contact[email]": email,
        "contact[first_name]": "Lotte",
        "contact[last_name]": "Bakker",
        "contact[ip]": "198.51.100.4",
        "contact[tags]": "klant",
    }
    fields.update(extra)
    return urlencode(fields).encode()


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app(
        "consent",
        make_settings(
            "consent",
            db_url,
            activecampaign_webhook_secret="s3cret-path-value",
            activecampaign_list_purposes='{"1": ["newsletter"], "7": ["leads"]}',
        ),
    )
    async with running(app) as client:
        staff = await create_token(app.state.runtime.db, "desk", ["admin"])
        given = await client.post(
            "/admin/consents",  # leads is confirmed by the person first on a public form; staff record it given
            headers={"authorization": f"Bearer {staff}"},
            json={
                "email": "lotte@example.nl",
                "channel": "opt_in_form",
                "notice": NOTICE,
                "purposes": [{"purpose": "leads", "granted": True}],
            },
        )
        assert given.status_code == 201, given.text
        admin = await create_token(app.state.runtime.db, "staff", ["admin", "dpo"])
        await client.post(
            "/admin/consents",
            headers={"authorization": f"Bearer {admin}"},
            json={
                "email": "lotte@example.nl",
                "channel": "email",
                "notice": NOTICE,
                "purposes": [{"purpose": "newsletter", "granted": True}],
            },
        )
        client.headers["authorization"] = f"Bearer {admin}"
        yield app, client


async def states(client: Any, email: str = "lotte@example.nl") -> dict[str, str]:
    return (await client.post("/admin/subjects/history", json={"email": email})).json()["states"]


URL = "/webhooks/activecampaign/s3cret-path-value"


async def test_unsubscribe_withdraws_the_mapped_purposes(consent: Any) -> None:
    _app, client = consent
    assert await states(client) == {"leads": "granted", "newsletter": "granted"}
    r = await client.post(
        URL,
        content=ac_body("unsubscribe", **{"unsubscribe[reason]": "te veel mail", "campaign[id]": "9"}),
        headers=FORM,
    )
    assert r.status_code == 200 and r.json()["detail"] == "withdrawn: newsletter"
    assert await states(client) == {"leads": "granted", "newsletter": "withdrawn"}
    history = (await client.post("/admin/subjects/history", json={"email": "lotte@example.nl"})).json()
    last = history["records"][-1]
    assert last["channel"] == "activecampaign" and last["reason"] == "activecampaign unsubscribe: te veel mail"
    assert last["evidence"]["contact[id]"] == "42" and last["evidence"]["initiated_by"] == "public"
    # the same call again (at-least-once delivery): the first answer, no second effect
    r = await client.post(
        URL,
        content=ac_body("unsubscribe", **{"unsubscribe[reason]": "te veel mail", "campaign[id]": "9"}),
        headers=FORM,
    )
    assert r.status_code == 200 and r.json()["detail"] == "withdrawn: newsletter"
    assert (
        len((await client.post("/admin/subjects/history", json={"email": "lotte@example.nl"})).json()["records"]) == 3
    )
    # handled: the raw body, which only the service's purpose key could open, is gone; the evidence stays in
    # the ledger, sealed for the person (and shredded with them)
    from sqlalchemy import text

    async with _app.state.runtime.db.read() as s:
        kept = [
            (status, len(body))
            for status, body in await s.execute(text("SELECT status, body FROM activecampaign_deliveries"))
        ]
    assert kept == [("processed", 0)]


async def test_public_unsubscribe_with_list_array(consent: Any) -> None:
    _, client = consent
    body = urlencode(
        [
            ("type", "unsubscribe"),
            ("date_time", "2026-11-24T10:15:00+01:00"),
            ("contact[email]", "LOTTE@example.nl"),
            ("list[0][id]", "7"),
            ("list[1][id]", "99"),
        ]
    ).encode()
    r = await client.post(URL, content=body, headers=FORM)
    assert r.status_code == 200 and r.json()["detail"] == "withdrawn: leads"
    assert (await states(client))["leads"] == "withdrawn"


async def test_subscribe_and_update_are_not_consent(consent: Any) -> None:
    app, client = consent
    await client.post(URL, content=ac_body("unsubscribe"), headers=FORM)
    for kind in ("subscribe", "update"):
        r = await client.post(URL, content=ac_body(kind, **{"form[id]": "3"}), headers=FORM)
        assert r.status_code == 200 and "not as consent" in r.json()["detail"]
    assert (await states(client))["newsletter"] == "withdrawn", "a subscribe in ActiveCampaign is no consent here"
    async with app.state.runtime.db.read() as s:
        noted = (
            await s.execute(
                text(
                    "SELECT count(*) FROM ledger_entries "
                    "WHERE event_type = 'nl.jzve.privacy.consent.activecampaign.noted'"
                )
            )
        ).scalar_one()
    assert noted == 2


async def test_wrong_secret_unknown_type_unmapped_list(consent: Any) -> None:
    _, client = consent
    r = await client.post("/webhooks/activecampaign/wrong", content=ac_body("unsubscribe"), headers=FORM)
    assert r.status_code == 404
    r = await client.post(URL, content=ac_body("deal_task_complete"), headers=FORM)
    assert r.status_code == 200 and "unknown type" in r.json()["detail"]
    r = await client.post(URL, content=ac_body("open"), headers=FORM)
    assert r.status_code == 200 and "acknowledged" in r.json()["detail"]
    r = await client.post(URL, content=ac_body("unsubscribe", list="55"), headers=FORM)
    assert r.status_code == 200 and "not mapped" in r.json()["detail"]
    assert (await states(client))["newsletter"] == "granted"


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"type=unsubscribe&contact[email]=", FORM, "contact[email]' is missing"),
        (urlencode({"type": "unsubscribe", "contact[email]": "nope"}).encode(), FORM, "not an email address"),
        (urlencode({"contact[email]": "a@example.nl"}).encode(), FORM, "'type' is missing"),
        (ac_body("unsubscribe", date_time="24/11/2026"), FORM, "date_time"),
        (b"\xff\xfe", FORM, "not application/x-www-form-urlencoded"),
        (
            b'{"type": "unsubscribe"}',
            {"content-type": "application/json"},
            "expected application/x-www-form-urlencoded",
        ),
    ],
)
async def test_malformed_bodies_are_400_with_the_reason_and_kept(
    consent: Any, body: bytes, headers: dict[str, str], reason: str
) -> None:
    _app, client = consent
    r = await client.post(URL, content=body, headers=headers)
    assert r.status_code == 400 and reason in r.json()["detail"]
    assert r.status_code != 410


@pytest.mark.parametrize(
    "body",
    [b"type=unsubscribe&contact[email]=", ac_body("unsubscribe"), ac_body("open"), ac_body("update")],
    ids=["malformed", "unsubscribe", "acknowledged", "noted"],
)
async def test_a_replay_gets_the_first_answer_and_changes_nothing(consent: Any, body: bytes) -> None:
    app, client = consent
    first = await client.post(URL, content=body, headers=FORM)
    before = (await client.post("/admin/subjects/history", json={"email": "lotte@example.nl"})).json()
    for _ in range(2):
        again = await client.post(URL, content=body, headers=FORM)
        assert (again.status_code, again.headers["content-type"], again.content) == (
            first.status_code,
            first.headers["content-type"],
            first.content,
        )
    after = (await client.post("/admin/subjects/history", json={"email": "lotte@example.nl"})).json()
    assert after["records"] == before["records"] and after["states"] == before["states"]
    async with app.state.runtime.db.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM activecampaign_deliveries"))).scalar() == 1
    if first.status_code == 400:
        problem = first.json()
        assert first.headers["content-type"] == "application/problem+json"
        assert problem["status"] == 400 and problem["instance"] == "/webhooks/activecampaign/{secret}"
        assert "s3cret" not in first.text, "the secret path segment is not echoed"


async def test_processing_failure_loses_nothing(consent: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, client = consent
    real = service.withdraw_in
    calls = {"n": 0}

    async def broken(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(service, "withdraw_in", broken)
    r = await client.post(URL, content=ac_body("unsubscribe"), headers=FORM)
    assert r.status_code == 202 and calls["n"] == 1
    assert (await states(client))["newsletter"] == "granted"
    monkeypatch.setattr(service, "withdraw_in", real)
    from datetime import timedelta

    assert await webhooks.retry_failed(ConsentContext.of(app.state.runtime), older_than=timedelta(0)) == 1
    assert (await states(client))["newsletter"] == "withdrawn"
    async with app.state.runtime.db.read() as s:
        statuses = (await s.execute(text("SELECT status FROM activecampaign_deliveries"))).scalars().all()
        raw = (await s.execute(text("SELECT body FROM activecampaign_deliveries"))).scalars().all()
    assert statuses == ["processed"]
    assert b"lotte@example.nl" not in raw[0], "the raw body is stored encrypted"
