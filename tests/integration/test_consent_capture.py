"""Consent capture, withdrawal, cookies, third parties and bad input, through HTTP on a real app."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

import pytest
from sqlalchemy import text

from services.common.auth import create_site_key, create_token
from services.common.ledger import merkle
from services.common.ledger.note import NoteVerifier
from tests.conftest import build_app, running
from tests.integration.test_outbox_consumer import header, read_topic
from tests.notices import NOTICE

ORIGIN = "https://www.jezaakvoorelkaar.nl"


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url, rate_limit_per_minute=1000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"x-site-key": key, "origin": ORIGIN, "user-agent": "Mozilla/5.0 test"})
        yield app, client


def capture_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "Anna.de.Vries@example.nl",
        "name": "Anna",
        "channel": "contact_form",
        "purposes": [{"purpose": "contact", "granted": True}, {"purpose": "leads", "granted": False}],
        "data_categories": ["name", "email"],
        "notice": NOTICE,
        "page": f"{ORIGIN}/contact",
    }
    body.update(overrides)
    return body


async def test_capture_returns_a_receipt_backed_by_the_ledger(consent: Any) -> None:
    app, client = consent
    r = await client.post("/v1/consents", json=capture_body(), headers={"sec-gpc": "1"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["states"] == {"contact": "granted", "leads": "denied"}
    receipt = out["receipt"]
    assert receipt["version"] == "KI-CR-v1.1.0" and receipt["jurisdiction"] == "NL"
    assert receipt["collectionMethod"] == "contact_form"
    assert receipt["piiControllers"][0]["piiController"] == "Je zaak voor Elkaar B.V."
    purposes = {p["purposeId"]: p for p in receipt["services"][0]["purposes"]}
    assert purposes["contact"]["consentType"] == "EXPLICIT" and purposes["contact"]["state"] == "granted"
    assert purposes["contact"]["piiCategory"] == ["name", "email"]
    # every decision has a ledger entry whose inclusion proof verifies against the signed checkpoint
    vkey = (await client.get("/ledger/public-key")).json()["vkey"]
    for ref in receipt["ledger"]:
        proof = (await client.get(path_of(app, ref["inclusion_proof"]))).json()
        cp = NoteVerifier(vkey).open(proof["checkpoint"])
        entry = base64.b64decode(proof["entry"])
        merkle.verify_inclusion(
            proof["seq"], cp.size, merkle.leaf_hash(entry), [base64.b64decode(p) for p in proof["proof"]], cp.root
        )
        leaf = json.loads(entry)
        assert leaf["data"]["record_id"] == ref["record_id"]
        assert "Anna" not in entry.decode() and "example.nl" not in entry.decode(), "no plaintext in the ledger"
    # a public answer tells the caller nothing it did not send: no history link, no pseudonym
    assert out["history_url"] is None and "historyUrl" not in receipt
    assert receipt["piiPrincipalId"] == "Anna.de.Vries@example.nl"
    # the evidence the server observed is in the history (decrypted for the person; staff read it here)
    history = await history_of(app, client, "anna.de.vries@example.nl")
    evidence = history["records"][0]["evidence"]
    assert evidence["ip"] == "203.0.113.7" and evidence["user_agent"] == "Mozilla/5.0 test"
    assert evidence["page"] == f"{ORIGIN}/contact" and evidence["gpc"] is True
    assert evidence["email"] == "Anna.de.Vries@example.nl" and evidence["site"]
    assert history["states"] == {"contact": "granted", "leads": "denied"}


def path_of(app: Any, url: str) -> str:
    return url.replace(app.state.runtime.settings.public_base_url, "")


async def history_of(app: Any, client: Any, email: str) -> Any:
    """What staff read of a person (the person reads it in the privacy centre, signed in by mail)."""
    token = await create_token(app.state.runtime.db, "dpo-" + hashlib.sha256(email.encode()).hexdigest()[:8], ["dpo"])
    r = await client.post(
        "/admin/subjects/history", json={"email": email}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_withdrawal_takes_effect_at_once_and_is_published(kafka: str, consent: Any, topic_prefix: str) -> None:
    """The browser id the caller presents withdraws at once; an address only through the person's own
    mailbox (tests/security/test_site_key.py), never by a caller who only knows it."""
    _app, client = consent
    browser = {"browser_id": "b_withdraw000001"}
    await client.post(
        "/v1/consents",
        json=capture_body(
            email=None,
            **browser,
            purposes=[{"purpose": "contact", "granted": True}, {"purpose": "chat", "granted": True}],
        ),
    )
    r = await client.post("/v1/withdrawals", json={**browser, "purposes": ["chat"]})
    assert r.status_code == 200, r.text
    assert r.json()["withdrawn"] == ["chat"] and r.json()["confirmation_mailed"] is False and "states" not in r.json()
    r = await client.post("/v1/withdrawals", json={**browser, "all": True})
    assert r.json()["withdrawn"] == ["contact"]
    again = await client.post("/v1/withdrawals", json={**browser, "all": True})
    assert again.json()["withdrawn"] == [], "a repeated withdrawal changes nothing"
    events = await read_topic(kafka, topic_prefix + "consent.events.v1", 4)
    types = [header(e, "ce_type").rsplit(".", 1)[-1] for e in events]
    assert types.count("granted") == 2 and types.count("withdrawn") == 2
    states = await read_topic(kafka, topic_prefix + "consent.state.v1", 3)
    last = json.loads(states[-1].value)
    assert last["purposes"] == {"contact": "withdrawn", "chat": "withdrawn"}
    assert states[-1].key == events[0].key, "both topics keyed by the pseudonym"


async def test_cookie_banner_and_global_privacy_control(consent: Any) -> None:
    _, client = consent
    body = {"browser_id": "b_0123456789abcdef", "analytics": True, "tracking": True, "notice": NOTICE}
    r = await client.post("/v1/cookies", json=body, headers={"sec-gpc": "1"})
    assert r.status_code == 201, r.text
    assert r.json()["states"] == {
        "analytics_cookies": "granted",
        "tracking_cookies": "denied",
    }
    tracking = next(p for p in r.json()["receipt"]["services"][0]["purposes"] if p["purposeId"] == "tracking_cookies")
    assert tracking["state"] == "denied"
    r = await client.post("/v1/cookies", json={**body, "browser_id": "b_fedcba9876543210"})
    assert r.json()["states"]["tracking_cookies"] == "granted"


async def test_browser_choices_link_to_a_person(consent: Any) -> None:
    app, client = consent
    await client.post(
        "/v1/cookies", json={"browser_id": "b_linkme000001", "analytics": True, "tracking": False, "notice": NOTICE}
    )
    await client.post("/v1/consents", json=capture_body(browser_id="b_linkme000001"))
    history = await history_of(app, client, "anna.de.vries@example.nl")
    assert history["linked_browsers"] == 1
    assert history["states"]["browser:analytics_cookies"] == "granted"


async def test_third_parties_only_with_explicit_consent(consent: Any) -> None:
    app, client = consent
    r = await client.post(
        "/v1/consents",
        json=capture_body(
            purposes=[{"purpose": "third_party_sharing", "granted": True, "third_party": "Acme Events B.V."}]
        ),
    )
    assert r.status_code == 201 and r.json()["states"] == {
        "third_party_sharing:Acme Events B.V.": "pending_confirmation"
    }
    assert r.json()["confirmation"] == "newsletter", "sharing with a third party is confirmed by mail first"
    r = await client.post(
        "/v1/consents",
        json=capture_body(
            purposes=[{"purpose": "third_party_sharing", "granted": True, "third_party": "ActiveCampaign"}]
        ),
    )
    assert r.status_code == 422 and "one of our processors" in r.text
    r = await client.post(
        "/v1/consents", json=capture_body(purposes=[{"purpose": "third_party_sharing", "granted": True}])
    )
    assert r.json()["errors"][0]["loc"] == ["body", "purposes", 0, "third_party"]
    token = await create_token(app.state.runtime.db, "dpo", ["dpo"])
    processors = (await client.get("/admin/processors", headers={"authorization": f"Bearer {token}"})).json()
    assert len(processors) == 13 and {p["name"] for p in processors} >= {"ActiveCampaign", "Manychat", "TeamLeader"}
    r = await client.put(
        "/admin/processors/manychat", json={"agreement": "signed"}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.json()["agreement"] == "signed"


async def test_staff_channels_need_the_admin_api(consent: Any) -> None:
    app, client = consent
    body = capture_body(channel="phone", note="called on 24 Nov, agreed to be called back")
    r = await client.post("/v1/consents", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "channel"]
    token = await create_token(app.state.runtime.db, "front desk", ["admin"])
    r = await client.post("/admin/consents", json=body, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 201 and r.json()["states"]["contact"] == "granted"
    dpo = await create_token(app.state.runtime.db, "dpo", ["dpo"])
    history = (
        await client.post(
            "/admin/subjects/history",
            json={"email": "anna.de.vries@example.nl"},
            headers={"authorization": f"Bearer {dpo}"},
        )
    ).json()
    assert history["records"][0]["recorded_by"] == "front desk"
    assert history["records"][0]["evidence"]["note"].startswith("called on")


@pytest.mark.parametrize(
    ("change", "loc", "status"),
    [
        ({"email": "not-an-email"}, ["body", "email"], 422),
        ({"purposes": [{"purpose": "spam", "granted": True}]}, ["body", "purposes", 0, "purpose"], 422),
        (
            {"purposes": [{"purpose": "contact", "granted": True, "legal_basis": "contract"}]},
            ["body", "purposes", 0, "legal_basis"],
            422,
        ),
        (
            {"purposes": [{"purpose": "contact", "granted": True}, {"purpose": "contact", "granted": False}]},
            ["body", "purposes", 1, "purpose"],
            422,
        ),
        ({"email": None, "browser_id": None}, ["body"], 422),
        ({"notice": {"version": "1", "hash": "abc"}}, ["body", "notice", "hash"], 422),
        ({"age": 14}, ["body", "parent_email"], 422),
        ({"purposes": []}, ["body", "purposes"], 422),
        ({"unexpected": 1}, ["body", "unexpected"], 422),
    ],
)
async def test_bad_input_names_the_field(consent: Any, change: dict[str, Any], loc: list[Any], status: int) -> None:
    _, client = consent
    r = await client.post("/v1/consents", json=capture_body(**change))
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["loc"][: len(loc)] == loc


async def test_unknown_site_key_origin_size_and_malformed_json(consent: Any) -> None:
    _, client = consent
    assert (
        await client.post("/v1/consents", json=capture_body(), headers={"x-site-key": "sk_nope"})
    ).status_code == 401
    r = await client.post("/v1/consents", json=capture_body(), headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    big = capture_body(name="x" * 70_000)
    r = await client.post("/v1/consents", json=big)
    assert r.status_code == 413
    r = await client.post("/v1/consents", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    # nothing that was accepted is lost: earlier captures are still there
    ok = await client.post("/v1/consents", json=capture_body())
    assert ok.status_code == 201


async def test_a_client_gone_before_its_body_arrived_is_not_a_server_error(
    consent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that disconnects mid-body (a closed tab, a load tool stopping) gets no answer and leaves
    no error with a traceback: nothing was accepted."""
    app, client = consent
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(k.lower().encode(), v.encode()) for k, v in client.headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/consents",
        "raw_path": b"/v1/consents",
        "root_path": "",
        "query_string": b"",
        "headers": [*headers, (b"content-type", b"application/json"), (b"content-length", b"400")],
        "client": ("203.0.113.9", 40000),
        "server": ("test", 80),
    }
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    assert not any(m["type"] == "http.response.start" and m["status"] >= 500 for m in sent)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "logged as a server error"
    assert any(getattr(r, "status", None) == 499 for r in caplog.records), "the request log says why"
    assert (await client.post("/v1/consents", json=capture_body())).status_code == 201


async def test_rate_limit_answers_429_with_retry_after(make_settings: Any, sqlite_url: str) -> None:
    app = build_app("consent", make_settings("consent", sqlite_url, rate_limit_per_minute=3))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "w", [ORIGIN])
        codes = [
            (await client.post("/v1/consents", json=capture_body(), headers={"x-site-key": key})).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [201, 201, 201] and codes[-1] == 429
        r = await client.post("/v1/consents", json=capture_body(), headers={"x-site-key": key})
        assert int(r.headers["retry-after"]) >= 1


async def test_duplicate_capture_is_two_records_and_one_state(consent: Any) -> None:
    """A replayed request is recorded again (it is evidence of what was sent); the state does not double."""
    app, client = consent
    first = await client.post("/v1/consents", json=capture_body())
    second = await client.post("/v1/consents", json=capture_body())
    assert first.json()["receipt"]["consentReceiptID"] != second.json()["receipt"]["consentReceiptID"]
    history = await history_of(app, client, "anna.de.vries@example.nl")
    assert len(history["records"]) == 4 and history["states"] == {"contact": "granted", "leads": "denied"}


@pytest.mark.parametrize("lax", [1, 0, "true", "false", "yes", "no", "1", None, "on"])
async def test_a_choice_is_json_true_or_false_and_nothing_else(consent: Any, lax: Any) -> None:
    """A consent is an unambiguous act (GDPR 4(11)): `1`, `"yes"` or `"true"` is not one, and `0` is not a
    refusal. Each is refused with the field named, and nothing is recorded."""
    app, client = consent
    body = capture_body(purposes=[{"purpose": "contact", "granted": lax}])
    r = await client.post("/v1/consents", json=body)
    assert r.status_code == 422, (lax, r.text)
    assert any(e["loc"][-1] == "granted" for e in r.json()["errors"]), r.text
    cookies = {"browser_id": "browser-strict-1", "analytics": True, "tracking": lax, "notice": NOTICE}
    r = await client.post("/v1/cookies", json=cookies)
    assert r.status_code == 422 and any(e["loc"][-1] == "tracking" for e in r.json()["errors"]), (lax, r.text)
    async with app.state.runtime.db.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM consent_records"))).scalar_one() == 0
    assert (await client.post("/v1/cookies", json={**cookies, "tracking": False})).status_code == 201
