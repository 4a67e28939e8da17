"""Statement Art. 4: the KvK number of a payment form, checked against a local KvK API (the fake speaks
the API Basisprofiel's paths, `apikey` header, answers and errors) by the real client over HTTP; the
outcome only, with the capture and in the ledger; an unavailable register retried later, a circuit that
opens, and a capture that is never held up."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from services.common.auth import create_site_key
from services.consent import kvk
from services.consent.context import ConsentContext
from services.consent.kvk_client import Circuit, KvkClient
from services.consent.kvk_rules import Given, Outcome, compare
from services.consent.models import KvkCheck
from services.fakes.kvk import create as fake_kvk
from tests.conftest import build_app, running, serve
from tests.notices import NOTICE

ORIGIN = "https://www.jezaakvoorelkaar.nl"
KEY = "l7xx-test-key"


@pytest.fixture
async def register() -> Any:
    app = fake_kvk(KEY)
    async with serve(app) as url:
        yield app, url


@pytest.fixture
async def consent(make_settings: Any, db_url: str, register: Any) -> Any:
    fake, url = register
    settings = make_settings(
        "consent", db_url, kvk_base_url=url, kvk_api_key=KEY, kvk_timeout_seconds=0.5, kvk_retry_interval_seconds=1
    )
    app = build_app("consent", settings)
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"x-site-key": key, "origin": ORIGIN})
        yield app, client, fake


def payment(**company: Any) -> dict[str, Any]:
    return {
        "email": "boekhouding@donald.example.nl",
        "name": "Donald",
        "channel": "payment_form",
        "notice": NOTICE,
        "purposes": [{"purpose": "invoicing", "granted": True}],
        "data_categories": ["company_name", "kvk_number", "email"],
        **company,
    }


async def ledger_checks(client: Any) -> list[dict[str, Any]]:
    lines = (await client.get("/ledger/entries")).text.splitlines()[1:]
    entries = [json.loads(line.split(" ", 1)[1]) for line in lines]
    return [e["data"] for e in entries if e["type"].endswith("consent.kvk.checked")]


async def test_match_mismatch_and_not_found_are_recorded_with_the_capture(consent: Any) -> None:
    app, client, fake = consent
    r = await client.post(
        "/v1/consents",
        json=payment(kvk_number="68750110", company_name="Test B.V. Donald", postcode="8911AB", house_number="3"),
    )
    assert r.status_code == 201, r.text
    check = r.json()["kvk_check"]
    assert check["outcome"] == "match" and check["mismatches"] == [] and check["reference"]["api-version"]
    receipt_id = r.json()["receipt"]["consentReceiptID"]

    r = await client.post(
        "/v1/consents",
        json=payment(kvk_number="68750110", company_name="Donald Bakkerij", postcode="1012 AB", house_number="3"),
    )
    assert r.json()["kvk_check"]["outcome"] == "mismatch"
    assert r.json()["kvk_check"]["mismatches"] == ["address"], "a trade name counts as the name"
    r = await client.post("/v1/consents", json=payment(kvk_number="12345678", company_name="Bestaat Niet"))
    assert r.json()["kvk_check"]["outcome"] == "not_found"

    checks = await ledger_checks(client)
    assert [c["outcome"] for c in checks] == ["match", "mismatch", "not_found"]
    assert checks[0]["receipt_id"] == receipt_id and checks[1]["mismatches"] == ["address"]
    # a check, not enrichment: nothing of the register's answer is kept
    async with app.state.runtime.db.read() as s:
        from sqlmodel import select

        rows = list((await s.execute(select(KvkCheck))).scalars())
    stored = json.dumps([r.model_dump(mode="json") for r in rows]) + json.dumps(checks)
    for theirs in ("Hizzaarderlaan", "Leeuwarden", "Test BV Donald", "vestigingsnummer"):
        assert theirs not in stored
    assert all(r.sealed is None for r in rows), "done checks keep nothing of what was entered"
    assert fake.state.requests == ["68750110", "68750110", "12345678"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kvk_number": "1234567", "company_name": "X"}, "kvk_number"),
        ({"kvk_number": "12345678a", "company_name": "X"}, "kvk_number"),
        ({"kvk_number": "12 345 678", "company_name": "X"}, "kvk_number"),
        ({"kvk_number": "68750110"}, "company_name"),
        ({"kvk_number": "68750110", "company_name": "X", "postcode": "ABCD 12"}, "postcode"),
    ],
)
async def test_a_malformed_kvk_number_is_a_422_naming_the_field(consent: Any, body: dict[str, Any], field: str) -> None:
    _, client, fake = consent
    r = await client.post("/v1/consents", json=payment(**body))
    assert r.status_code == 422 and field in r.text
    assert fake.state.requests == [], "nothing is sent to the register"


async def test_only_the_payment_form_asks_for_a_kvk_number(consent: Any) -> None:
    _, client, _ = consent
    body = payment(kvk_number="68750110", company_name="Test BV Donald")
    body.update(channel="contact_form", purposes=[{"purpose": "contact", "granted": True}])
    r = await client.post("/v1/consents", json=body)
    assert r.status_code == 422 and "payment form" in r.text


@pytest.mark.parametrize("number, reason", [("90000500", "(500)"), ("90000503", "(503)"), ("90000429", "(429)")])
async def test_an_erroring_register_never_blocks_the_capture_and_is_retried(
    consent: Any, number: str, reason: str
) -> None:
    app, client, _ = consent
    r = await client.post("/v1/consents", json=payment(kvk_number=number, company_name="Fout BV"))
    assert r.status_code == 201 and r.json()["states"] == {"invoicing": "granted"}
    check = r.json()["kvk_check"]
    assert check["outcome"] == "unavailable" and reason in check["reason"] and check["retry_at"]
    ctx = ConsentContext.of(app.state.runtime)
    # the register recovers: the job asks again when the time has come
    from services.fakes import kvk as fake_module

    address = {"straatnaam": "Kade", "huisnummer": 1, "postcode": "1011 AA", "plaats": "Amsterdam"}
    fake_module.COMPANIES[number] = {"naam": "Fout BV", "handelsnamen": [], "adres": address}
    fake_module.ERRORS.pop(number)
    try:
        assert await kvk.retry_due(ctx) == 0, "not yet due"
        from datetime import UTC, datetime, timedelta

        assert await kvk.retry_due(ctx, now=datetime.now(UTC) + timedelta(seconds=5)) == 1
    finally:
        fake_module.COMPANIES.pop(number)
        fake_module.ERRORS[number] = int(reason.strip("()"))
    checks = await ledger_checks(client)
    assert [(c["outcome"], c["attempt"]) for c in checks] == [("unavailable", 1), ("match", 2)]


async def test_a_slow_register_times_out_and_a_wrong_key_is_unavailable(consent: Any, register: Any) -> None:
    _, client, _ = consent
    started = time.monotonic()
    r = await client.post("/v1/consents", json=payment(kvk_number="90000999", company_name="Traag BV"))
    assert r.status_code == 201 and time.monotonic() - started < 2.5, "the capture waited only the timeout"
    assert r.json()["kvk_check"]["outcome"] == "unavailable" and "within 0.5 s" in r.json()["kvk_check"]["reason"]

    _, url = register
    wrong = KvkClient(url, "not-the-key", timeout=1.0)
    result = await wrong.check(Given("68750110", "Test BV Donald"))
    assert result.outcome == Outcome.UNAVAILABLE and "API key" in (result.reason or "")


async def test_repeated_failures_open_the_circuit(register: Any) -> None:
    fake, url = register
    client = KvkClient(url, KEY, timeout=1.0, circuit=Circuit(failures=3, cooldown=0.5))
    for _ in range(3):
        assert (await client.check(Given("90000503", "X"))).outcome == Outcome.UNAVAILABLE
    asked = len(fake.state.requests)
    result = await client.check(Given("68750110", "Test BV Donald"))
    assert result.outcome == Outcome.UNAVAILABLE and "circuit open" in (result.reason or "")
    assert len(fake.state.requests) == asked, "an open circuit sends nothing"
    await asyncio.sleep(0.6)  # the cooldown: one trial goes through, and a success closes the circuit
    assert (await client.check(Given("68750110", "Test BV Donald"))).outcome == Outcome.MATCH
    assert not client.circuit.open


async def test_no_kvk_api_configured_checks_nothing_and_says_so(make_settings: Any, sqlite_url: str) -> None:
    app = build_app("consent", make_settings("consent", sqlite_url))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"x-site-key": key, "origin": ORIGIN})
        r = await client.post("/v1/consents", json=payment(kvk_number="68750110", company_name="Test BV Donald"))
        assert r.json()["kvk_check"]["outcome"] == "not_configured" and r.json()["kvk_check"]["retry_at"] is None


def test_the_comparison_rules() -> None:
    profile = {
        "naam": "Je Zaak voor Elkaar B.V.",
        "handelsnamen": [{"naam": "JzvE"}],
        "_embedded": {"hoofdvestiging": {"adressen": [{"postcode": "2841 LZ", "huisnummer": 12}]}},
    }
    assert compare(Given("1", "je zaak voor elkaar bv"), profile).outcome == Outcome.MATCH
    assert compare(Given("1", "JzvE", "2841lz", "12"), profile).outcome == Outcome.MATCH
    assert compare(Given("1", "JzvE", "2841 LZ"), profile).outcome == Outcome.MATCH, "postcode alone"
    assert compare(Given("1", "Andere Zaak", "2841LZ", "14"), profile).mismatches == ("company_name", "address")
    assert compare(Given("1", "JzvE"), {}).outcome == Outcome.MISMATCH


async def test_a_pending_check_of_an_erased_person_is_closed_not_sent(consent: Any) -> None:
    app, client, fake = consent
    r = await client.post("/v1/consents", json=payment(kvk_number="90000503", company_name="Weg BV"))
    assert r.json()["kvk_check"]["outcome"] == "unavailable"
    ctx = ConsentContext.of(app.state.runtime)
    subject = ctx.rt.recorder.pseudonym("boekhouding@donald.example.nl")
    async with ctx.rt.db.transaction() as s:
        await ctx.rt.vault.shred(s, subject)  # an erasure (GDPR 17) came first
    asked = len(fake.state.requests)
    from datetime import UTC, datetime, timedelta

    assert await kvk.retry_due(ctx, now=datetime.now(UTC) + timedelta(hours=1)) == 0
    assert len(fake.state.requests) == asked, "nothing sent for an erased person"
    async with ctx.rt.db.read() as s:
        row = await s.get(KvkCheck, r.json()["kvk_check"]["check_id"])
    assert row is not None and row.sealed is None and row.next_attempt_at is None and "erased" in (row.reason or "")
