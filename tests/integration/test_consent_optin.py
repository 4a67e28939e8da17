"""Double opt-in and parental consent through a real local SMTP server: read the mail, follow the link."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.common.auth import create_site_key
from tests.conftest import build_app, eventually, running
from tests.notices import NOTICE

ORIGIN = "https://www.jezaakvoorelkaar.nl"


@pytest.fixture
async def consent(make_settings: Any, db_url: str, smtp: Any) -> Any:
    settings = make_settings(
        "consent", db_url, mail_enabled=True, smtp_port=smtp.port, public_base_url="https://consent.example.nl"
    )
    app = build_app("consent", settings)
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"x-site-key": key, "origin": ORIGIN})
        yield app, client, smtp


def link(message: Any, kind: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = re.findall(rf"https://consent\.example\.nl(/v1/{kind}/\S+)", body)
    assert found, body
    return found[0]


async def test_newsletter_double_opt_in(consent: Any) -> None:
    app, client, smtp = consent
    r = await client.post(
        "/v1/consents",
        json={
            "email": "piet@example.nl",
            "name": "Piet",
            "channel": "newsletter_signup",
            "notice": NOTICE,
            "purposes": [{"purpose": "newsletter", "granted": True}],
            "page": f"{ORIGIN}/nieuwsbrief",
        },
    )
    assert r.status_code == 201 and r.json()["states"] == {"newsletter": "pending_confirmation"}
    assert r.json()["confirmation"] == "newsletter"
    await eventually(lambda: smtp.to("piet@example.nl"), within=20)
    mail = smtp.to("piet@example.nl")[0]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "unsubscribe" in mail["List-Unsubscribe"]
    confirm = link(mail, "confirm")
    page = await client.get(confirm)
    assert page.status_code == 200 and "<form" in page.text, "a GET shows a button; it does not confirm"
    async with app.state.runtime.db.read() as s:
        token_hashes = (await s.execute(text("SELECT token_hash FROM optin_tokens"))).scalars().all()
    assert confirm.rsplit("/", 1)[1] not in str(token_hashes), "only the token's hash is stored"
    r = await client.post(confirm, headers={"user-agent": "Mail client"})
    assert r.status_code == 200 and "Periodieke waardevolle informatie (nieuwsbrief)" in r.text, "by its name"
    again = await client.post(confirm)
    assert again.status_code == 410 and "al gebruikt" in again.text, "a page for the person, not JSON"
    assert (await client.post("/v1/confirm/" + "x" * 43)).status_code == 404
    # evidence of the double opt-in: mail sent at, clicked at, click IP
    history = await _history(app, client, "piet@example.nl")
    granted = next(r for r in history["records"] if r["state"] == "granted")
    assert granted["reason"] == "double opt-in confirmed"
    assert granted["evidence"]["mail_sent_at"] and granted["evidence"]["clicked_at"]
    assert granted["evidence"]["ip"] == "203.0.113.7"
    pending = next(r for r in history["records"] if r["state"] == "pending_confirmation")
    assert pending["evidence"]["page"] == f"{ORIGIN}/nieuwsbrief" and pending["evidence"]["email"] == "piet@example.nl"
    # one-click unsubscribe as a mail client does it (RFC 8058)
    unsubscribe = link(mail, "unsubscribe")
    r = await client.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and "Je bent afgemeld voor: Periodieke waardevolle informatie" in r.text
    assert (await _history(app, client, "piet@example.nl"))["states"] == {"newsletter": "withdrawn"}
    tampered = unsubscribe[:-3] + ("AAA" if not unsubscribe.endswith("AAA") else "BBB")
    assert (await client.post(tampered)).status_code == 404


async def test_expired_confirmation_link(consent: Any) -> None:
    app, client, smtp = consent
    await client.post(
        "/v1/consents",
        json={
            "email": "kees@example.nl",
            "channel": "newsletter_signup",
            "notice": NOTICE,
            "purposes": [{"purpose": "newsletter", "granted": True}],
        },
    )
    await eventually(lambda: smtp.to("kees@example.nl"), within=20)
    async with app.state.runtime.db.transaction() as s:
        await s.execute(text("UPDATE optin_tokens SET expires_at = :t"), {"t": datetime.now(UTC) - timedelta(hours=1)})
    r = await client.post(link(smtp.to("kees@example.nl")[0], "confirm"))
    assert r.status_code == 410 and "verlopen" in r.text
    assert (await _history(app, client, "kees@example.nl"))["states"] == {"newsletter": "pending_confirmation"}


async def test_under_16_waits_for_a_parent(consent: Any) -> None:
    app, client, smtp = consent
    r = await client.post(
        "/v1/consents",
        json={
            "email": "sam@example.nl",
            "channel": "opt_in_form",
            "notice": NOTICE,
            "date_of_birth": "2013-03-01",
            "parent_email": "ouder@example.nl",
            "purposes": [{"purpose": "leads", "granted": True}],
        },
    )
    assert r.status_code == 201 and r.json()["states"] == {"leads": "pending_parent"}
    await eventually(lambda: smtp.to("ouder@example.nl"), within=20)
    assert not smtp.to("sam@example.nl"), "the child gets no mail"
    assert (await client.post(link(smtp.to("ouder@example.nl")[0], "confirm"))).status_code == 200
    history = await _history(app, client, "sam@example.nl")
    assert history["states"] == {"leads": "granted"}
    assert [r["reason"] for r in history["records"]] == ["under 16", "parent confirmed"]


async def test_report_of_a_minor_restricts_at_once_and_erases_nothing(
    kafka: str, consent: Any, topic_prefix: str
) -> None:
    """Anyone with a site key can report: processing stops at once (restricted, published), nothing is
    destroyed until the person confirms or a privacy officer decides (dsar)."""
    app, client, _ = consent
    await client.post(
        "/v1/consents",
        json={
            "email": "kid@example.nl",
            "channel": "chat",
            "notice": NOTICE,
            "age": 17,
            "purposes": [{"purpose": "chat", "granted": True}],
        },
    )
    r = await client.post(
        "/v1/minor-reports",
        json={"email": "kid@example.nl", "reporter_email": "mama@example.nl", "details": "mijn zoon is 12"},
    )
    assert r.status_code == 202 and r.json()["status"] == "received"
    history = await _history(app, client, "kid@example.nl")
    assert history["states"] == {"chat": "restricted"}
    assert all(isinstance(rec["evidence"], dict) for rec in history["records"]), "nothing was shredded"
    from tests.integration.test_outbox_consumer import header, read_topic

    events = await read_topic(kafka, topic_prefix + "consent.events.v1", 3)
    assert [header(e, "ce_type").split("privacy.")[1] for e in events][-2:] == [
        "consent.restricted",
        "consent.minor.reported",
    ]
    states = await read_topic(kafka, topic_prefix + "consent.state.v1", 2)
    assert json.loads(states[-1].value)["purposes"] == {"chat": "restricted"}


async def _history(app: Any, client: Any, email: str) -> Any:
    from services.common.auth import create_token

    token = await create_token(app.state.runtime.db, f"dpo-{email}", ["dpo"])
    r = await client.post(
        "/admin/subjects/history", json={"email": email}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_erasure_keeps_what_a_legal_obligation_keeps_until_its_period_ends(consent: Any) -> None:
    """GDPR 17(3)(b): a minor report's (or any) erasure destroys the person's key, but the evidence of their
    invoicing records (legal obligation: the fiscal retention period) stays readable, sealed apart, with the
    reason and until when; the retention job destroys it then."""
    from datetime import UTC, datetime, timedelta

    from services.common.auth import create_token
    from services.consent import retention, subjects
    from services.consent.context import ConsentContext

    app, client, _ = consent
    staff = await create_token(app.state.runtime.db, "desk", ["admin"])
    body = {
        "email": "klant@example.nl",
        "channel": "payment_form",
        "notice": NOTICE,
        "kvk_number": "12345678",
        "company_name": "Bakkerij B.V.",
        "purposes": [{"purpose": "invoicing", "granted": True}, {"purpose": "contact", "granted": True}],
    }
    r = await client.post("/admin/consents", json=body, headers={"authorization": f"Bearer {staff}"})
    assert r.status_code == 201, r.text
    ctx = ConsentContext.of(app.state.runtime)
    subject = app.state.runtime.recorder.pseudonym("klant@example.nl")
    kept: list[str] = []
    async with app.state.runtime.db.transaction() as s:
        assert await subjects.erase_in(ctx, s, subject, "erasure request dsr_test", kept=kept)
    assert len(kept) == 1 and kept[0].startswith("invoicing: legal obligation (GDPR 17(3)(b)), kept until 20")
    history = await subjects.history(ctx, subject)
    evidence = {rec["purpose"]: rec["evidence"] for rec in history["records"]}
    assert evidence["contact"] == "erased"
    assert evidence["invoicing"]["company_name"] == "Bakkerij B.V." and evidence["invoicing"]["kept_until"].year >= 2033
    assert (await retention.run(ctx, datetime.now(UTC) + timedelta(days=2558)))["shredded"] >= 1
    history = await subjects.history(ctx, subject)
    assert {rec["purpose"]: rec["evidence"] for rec in history["records"]}["invoicing"] == "erased", "then it goes"


async def test_an_unconfirmed_sign_up_and_a_childs_data_go_with_their_link(consent: Any) -> None:
    """GDPR 5(1)(c), (e): a sign-up nobody confirmed, and a child's data no parent confirmed, are kept as long as
    the mailed link works and a day more, then expire and are shredded: not the purpose's whole period."""
    from services.consent import retention
    from services.consent.context import ConsentContext

    app, client, smtp = consent
    ctx = ConsentContext.of(app.state.runtime)
    signed_up = datetime.now(UTC)
    for body in (
        {
            "email": "kees@example.nl",
            "channel": "newsletter_signup",
            "purposes": [{"purpose": "newsletter", "granted": True}],
        },
        {
            "email": "sam@example.nl",
            "channel": "opt_in_form",
            "date_of_birth": "2013-03-01",
            "parent_email": "ouder@example.nl",
            "name": "Sam",
            "purposes": [{"purpose": "leads", "granted": True}],
        },
    ):
        assert (await client.post("/v1/consents", json={**body, "notice": NOTICE})).status_code == 201
    await eventually(lambda: smtp.to("ouder@example.nl") and smtp.to("kees@example.nl"), within=20)
    parent_mail = smtp.to("ouder@example.nl")[0].get_body(preferencelist=("plain",)).get_content()
    assert "wij verwijderen ze een dag nadat de link is verlopen. De link werkt 72 uur." in parent_mail
    optin_mail = smtp.to("kees@example.nl")[0].get_body(preferencelist=("plain",)).get_content()
    assert "zonder klik verwijderen we de gegevens een dag nadat de link is verlopen" in optin_mail

    # the link's 72 hours and the day after: still kept (a click on its way still counts)
    assert await retention.run(ctx, signed_up + timedelta(hours=95)) == {"expired": 0, "shredded": 0, "rekeyed": 0}
    # then they go: both people had nothing else, so both are shredded (not after 2 years and 1 year)
    assert await retention.run(ctx, signed_up + timedelta(hours=97)) == {"expired": 2, "shredded": 2, "rekeyed": 0}
    for email in ("kees@example.nl", "sam@example.nl"):
        history = await _history(app, client, email)
        assert history["states"] == {} and all(r["evidence"] in ("erased", None) for r in history["records"]), history
        assert history["records"][0]["evidence"] == "erased", "the sign-up's details are gone"


async def test_a_refusal_keeps_only_what_proves_it(consent: Any) -> None:
    """A refusal needs no proof of an informed act: whose it was, when and where; not the name, the note, the
    internet address or the browser that a form sent along."""
    app, client, _ = consent
    body = {
        "email": "lot@example.nl",
        "name": "Lot de Vries",
        "note": "bel me liever niet",
        "channel": "contact_form",
        "notice": NOTICE,
        "page": "https://www.jezaakvoorelkaar.nl/contact",
        "purposes": [{"purpose": "contact", "granted": False}],
    }
    assert (await client.post("/v1/consents", json=body, headers={"user-agent": "Firefox/140"})).status_code == 201
    given = {**body, "email": "eva@example.nl", "purposes": [{"purpose": "contact", "granted": True}]}
    assert (await client.post("/v1/consents", json=given, headers={"user-agent": "Firefox/140"})).status_code == 201
    refused = (await _history(app, client, "lot@example.nl"))["records"][0]["evidence"]
    assert set(refused) <= {"email", "at", "page", "site", "gpc"} and refused["email"] == "lot@example.nl"
    assert refused["page"] == "https://www.jezaakvoorelkaar.nl/contact"
    kept = (await _history(app, client, "eva@example.nl"))["records"][0]["evidence"]
    assert kept["name"] == "Lot de Vries" and kept["user_agent"] == "Firefox/140", "a consent keeps its proof"
