"""The privacy centre's rules over HTTP (the browser journeys are in tests/browser): sign-in answers that
tell nothing, limits, used and expired links, CSRF, a withdrawal that fails halfway, requests through
dsar (and dsar being down), and no token or address in any log line."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import build_app, eventually, free_port, running, serve
from tests.notices import NOTICE

EMAIL = "noor@example.nl"
SENT_NL = "Als het adres klopt, is er een mail met een link om in te loggen onderweg"


@dataclass
class Stack:
    consent: Any
    client: httpx.AsyncClient
    dsar: Any
    smtp: Any

    @property
    def ctx(self) -> Any:
        from services.consent.context import ConsentContext

        return ConsentContext.of(self.consent.state.runtime)

    async def sign_in_link(self, email: str) -> str:
        before = len(self.smtp.to(email))
        r = await self.client.post("/privacy/sign-in", data={"email": email, "lang": "nl"})
        assert r.status_code == 200 and SENT_NL in r.text
        mail = await eventually(lambda: self.smtp.to(email)[before:], within=20)
        body = mail[-1].get_body(preferencelist=("plain",)).get_content()
        return re.findall(r"https://consent\.example\.nl(/privacy/sign-in/\S+)", body)[0]

    async def press(self, link: str) -> Any:
        """Open the link's page and press its button, as the browser that opened the mail does."""
        page = await self.client.get(link)
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        return await self.client.post(link, data={"nonce": nonce[1] if nonce else ""})

    async def signed_in(self, email: str) -> str:
        """Sign in; returns the CSRF token of the session (read from the page, as a browser would)."""
        r = await self.press(await self.sign_in_link(email))
        assert r.status_code == 303 and r.headers["location"].startswith("/privacy")
        page = await self.client.get("/privacy")
        assert "Ingelogd als" in page.text, page.text[:500]
        return re.findall(r'name="csrf" value="([^"]+)"', page.text)[0]


@contextlib.asynccontextmanager
async def stack(make_settings: Callable[..., Any], tmp_path: Path, smtp: Any) -> AsyncIterator[Stack]:
    port = free_port()
    mail = {"mail_enabled": True, "smtp_port": smtp.port}
    dsar = build_app("dsar", make_settings("dsar", f"sqlite+aiosqlite:///{tmp_path}/dsar.db", **mail))
    consent = build_app(
        "consent",
        make_settings(
            "consent",
            f"sqlite+aiosqlite:///{tmp_path}/consent.db",
            public_base_url="https://consent.example.nl",
            dsar_url=f"http://127.0.0.1:{port}",
            centre_mails_per_hour=3,
            **mail,
        ),
    )
    async with serve(dsar, port), running(consent) as client:
        yield Stack(consent, client, dsar, smtp)


@pytest.fixture
async def centre(make_settings: Callable[..., Any], tmp_path: Path, smtp: Any) -> AsyncIterator[Stack]:
    async with stack(make_settings, tmp_path, smtp) as s:
        yield s


async def _known(s: Stack, email: str) -> None:
    from services.consent import service
    from services.consent.decisions import Evidence
    from services.consent.domain import Channel
    from services.consent.schemas import CaptureIn, Notice, PurposeChoice

    browser = "browser-of-" + email.split("@")[0]
    for who in ({"browser_id": browser}, {"email": email, "browser_id": browser}):  # the second links them
        cmd = CaptureIn(
            **who,
            purposes=[PurposeChoice(purpose="newsletter", granted=True)],
            channel=Channel.PHONE,
            notice=Notice(version="phone-3", hash="0" * 64),
        )
        await service.capture(s.ctx, cmd, Evidence(None, None, None, False, None), actor="staff:test")


async def _states(s: Stack, email: str) -> dict[str, str]:
    from services.consent import subjects

    states: dict[str, str] = (await subjects.history(s.ctx, s.ctx.rt.recorder.pseudonym(email)))["states"]
    return states


async def test_sign_in_tells_nothing_and_is_limited(centre: Stack) -> None:
    await _known(centre, EMAIL)
    known = await centre.client.post("/privacy/sign-in", data={"email": EMAIL, "lang": "nl"})
    unknown = await centre.client.post("/privacy/sign-in", data={"email": "nobody@example.nl", "lang": "nl"})
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r"nonce-[\w-]+")
    assert strip.sub("", known.text) == strip.sub("", unknown.text), "the same page, known or not"
    # the limit per address: 3 an hour here; the fourth answer has the same words, with 429
    for _ in range(2):
        assert (await centre.client.post("/privacy/sign-in", data={"email": EMAIL, "lang": "nl"})).status_code == 200
    limited = await centre.client.post("/privacy/sign-in", data={"email": EMAIL, "lang": "nl"})
    assert limited.status_code == 429 and SENT_NL in limited.text
    await eventually(lambda: len(centre.smtp.to(EMAIL)) == 3, within=20)
    # the limit per IP (4x the address limit) also holds for many addresses
    answers = [
        (await centre.client.post("/privacy/sign-in", data={"email": f"p{i}@example.nl", "lang": "nl"})).status_code
        for i in range(12)
    ]
    assert answers.count(429) >= 3 and set(answers) == {200, 429}


async def test_bad_address_keeps_the_input_and_names_the_field(centre: Stack) -> None:
    r = await centre.client.post("/privacy/sign-in", data={"email": "noor(at)example", "lang": "nl"})
    assert r.status_code == 422 and "Dat is geen e-mailadres" in r.text and 'value="noor(at)example"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = await centre.client.post("/privacy/sign-in", data={"lang": "nl"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"], "a page, not JSON, for a browser"


async def test_links_are_single_use_and_expire(centre: Stack) -> None:
    await _known(centre, EMAIL)
    link = await centre.sign_in_link(EMAIL)
    page = await centre.client.get(link)
    assert page.status_code == 200 and "<form" in page.text, "a GET shows a button and signs nobody in"
    assert "privacy_centre" not in page.headers.get("set-cookie", "")
    assert (await centre.press(link)).status_code == 303
    again = await centre.press(link)
    assert again.status_code == 410 and "al gebruikt" in again.text and 'action="/privacy/sign-in"' in again.text
    centre.client.cookies.clear()
    link = await centre.sign_in_link(EMAIL)
    async with centre.ctx.rt.db.transaction() as s:
        await s.execute(
            text("UPDATE centre_sign_ins SET expires_at = :t"), {"t": datetime.now(UTC) - timedelta(minutes=1)}
        )
    expired = await centre.press(link)
    assert expired.status_code == 410 and "verlopen" in expired.text and "Stuur me een link" in expired.text
    forged = await centre.press("/privacy/sign-in/" + "x" * 43)
    assert forged.status_code == 410 and "kennen we niet" in forged.text
    async with centre.ctx.rt.db.read() as s:
        stored = (await s.execute(text("SELECT token_hash, sealed FROM centre_sign_ins"))).all()
    assert all(link.rsplit("/", 1)[1].split("?")[0] not in str(row) and EMAIL not in str(row) for row in stored)


async def test_forms_need_the_session_and_its_csrf_token(centre: Stack) -> None:
    await _known(centre, EMAIL)
    csrf = await centre.signed_in(EMAIL)
    form = {"purpose": "newsletter", "lang": "nl"}
    missing = await centre.client.post("/privacy/withdraw", data=form)
    assert missing.status_code == 422
    wrong = await centre.client.post("/privacy/withdraw", data={**form, "csrf": "not-the-token"})
    assert wrong.status_code == 403 and "niets veranderd" in wrong.text
    assert (await _states(centre, EMAIL))["newsletter"] == "granted", "a forged form changes nothing"
    centre.client.cookies.clear()
    no_session = await centre.client.post("/privacy/withdraw", data={**form, "csrf": csrf})
    assert no_session.status_code == 401 and "sessie is afgelopen" in no_session.text
    assert (await _states(centre, EMAIL))["newsletter"] == "granted"


async def test_withdraw_covers_linked_browsers_and_a_failure_changes_nothing(
    centre: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _known(centre, EMAIL)
    csrf = await centre.signed_in(EMAIL)
    from services.consent import decisions

    real = decisions.publish_state
    calls = 0

    async def fails_second_time(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the person's records are written; the browser's publish fails
            raise RuntimeError("broker gone")
        await real(*args)

    monkeypatch.setattr(decisions, "publish_state", fails_second_time)
    before = await _states(centre, EMAIL)
    assert before == {"newsletter": "granted", "browser:newsletter": "granted"}
    # as a server answers a browser: the failure is logged with its traceback, the person gets a page
    transport = httpx.ASGITransport(app=centre.consent, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=centre.client.cookies) as c:
        failed = await c.post("/privacy/withdraw", data={"purpose": "newsletter", "csrf": csrf, "lang": "nl"})
    assert failed.status_code == 500 and "Er is niets veranderd" in failed.text
    assert await _states(centre, EMAIL) == before, "one transaction: nothing half withdrawn"
    monkeypatch.setattr(decisions, "publish_state", real)
    done = await centre.client.post("/privacy/withdraw", data={"purpose": "newsletter", "csrf": csrf, "lang": "nl"})
    assert done.status_code == 303 and "done=withdrawn" in done.headers["location"]
    assert await _states(centre, EMAIL) == {"newsletter": "withdrawn", "browser:newsletter": "withdrawn"}
    page = await centre.client.get(done.headers["location"])
    assert "Je hebt je toestemming ingetrokken voor Periodieke waardevolle informatie" in page.text
    # giving it again: the newsletter asks for a confirmation by mail first (statement Art. 15)
    again = await centre.client.post("/privacy/grant", data={"purpose": "newsletter", "csrf": csrf, "lang": "nl"})
    assert again.status_code == 303 and "done=confirm" in again.headers["location"]
    assert (await _states(centre, EMAIL))["newsletter"] == "pending_confirmation"
    await eventually(lambda: [m for m in centre.smtp.to(EMAIL) if "Bevestig je aanmelding" in m["Subject"]])
    refused = await centre.client.post("/privacy/grant", data={"purpose": "contact", "csrf": csrf, "lang": "nl"})
    assert refused.status_code == 422


async def test_requests_through_dsar_and_dsar_down(centre: Stack) -> None:
    await _known(centre, EMAIL)
    csrf = await centre.signed_in(EMAIL)
    form = {"csrf": csrf, "lang": "nl", "kind": "rectification", "text": "mijn naam <b>klopt</b> niet"}
    kept = await centre.client.post("/privacy/requests", data=form)
    assert kept.status_code == 422 and "Kies bij een correctie" in kept.text
    assert "mijn naam &lt;b&gt;klopt&lt;/b&gt; niet" in kept.text, "the input kept (escaped)"
    r = await centre.client.post("/privacy/requests", data={**form, "field_1": "name", "value_1": "Noor Bakker"})
    assert r.status_code == 303 and "done=started" in r.headers["location"]
    from services.dsar.models import DsarRequest
    from services.dsar.service import DsarContext, personal_details

    dctx = DsarContext.of(centre.dsar.state.runtime)
    async with dctx.rt.db.read() as s:
        (row,) = (await s.execute(text("SELECT id FROM dsar_requests"))).all()
        request = await s.get(DsarRequest, row.id)
        assert request is not None and request.verified_at is not None and request.channel == "privacy_centre"
        details = await personal_details(dctx, s, request)
    assert details["corrections"] == {"name": "Noor Bakker"} and details["email"] == EMAIL
    page = await centre.client.get("/privacy")
    assert "Correctie" in page.text and "In behandeling" in page.text
    # the same kind again is linked to the open one
    again = await centre.client.post("/privacy/requests", data={**form, "field_1": "name", "value_1": "N. Bakker"})
    assert "done=linked" in again.headers["location"]
    # dsar down: the centre still works and says what it cannot show; a request is not lost silently
    centre.ctx.dsar.base_url = "http://127.0.0.1:9"
    page = await centre.client.get("/privacy")
    assert (
        page.status_code == 200 and "Je verzoeken kunnen we nu niet tonen" in page.text and "nieuwsbrief" in page.text
    )
    down = await centre.client.post("/privacy/requests", data={**form, "kind": "access"})
    assert "done=unavailable" in down.headers["location"]


async def test_dsar_refuses_what_the_centre_did_not_sign(centre: Stack) -> None:
    from services.common.links import centre_assertion

    url = centre.ctx.dsar.base_url + "/v1/centre/requests"
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 422
        forged = centre_assertion(b"k" * 32, EMAIL)
        assert (await client.get(url, headers={"x-privacy-centre": forged})).status_code == 401
        genuine = centre_assertion(centre.ctx.settings.secret_bytes("centre_key"), EMAIL)
        ok = await client.get(url, headers={"x-privacy-centre": genuine})
        assert ok.status_code == 200 and ok.json() == []


async def test_no_token_or_address_in_the_logs(centre: Stack, caplog: pytest.LogCaptureFixture) -> None:
    await _known(centre, EMAIL)
    with caplog.at_level(logging.DEBUG):
        link = await centre.sign_in_link(EMAIL)
        await centre.client.get(link)
        csrf = await centre.signed_in(EMAIL)
        await centre.client.post("/privacy/withdraw", data={"purpose": "newsletter", "csrf": csrf, "lang": "nl"})
        await centre.client.post("/privacy/requests", data={"csrf": csrf, "lang": "nl", "kind": "access"})
    token = link.rsplit("/", 1)[1].split("?")[0]
    # every line the services log (the test's own SMTP server, aiosmtpd's "mail.log", is not ours)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if not r.name.startswith("mail.log"))
    assert "/privacy/sign-in/{token}" in logged, "the route's template is logged"
    assert token not in logged and EMAIL not in logged and csrf not in logged


async def test_a_purpose_on_another_basis_offers_no_consent_and_says_what_the_law_gives(centre: Stack) -> None:
    """GDPR 6, EDPB 05/2020: invoicing (a legal obligation) and support (a contract) are never asked, never
    refused and never withdrawn; the centre says on what basis they are used and what the person can do."""
    from services.consent import service
    from services.consent.decisions import Evidence
    from services.consent.domain import Channel
    from services.consent.schemas import CaptureIn, Notice, PurposeChoice

    cmd = CaptureIn(
        email=EMAIL,
        purposes=[
            PurposeChoice(purpose="invoicing", granted=True),
            PurposeChoice(purpose="support", granted=True),
            PurposeChoice(purpose="newsletter", granted=True),
        ],
        channel=Channel.EMAIL,
        notice=Notice(version="mail-1", hash="0" * 64),
        company_name="Bakkerij B.V.",
    )
    await service.capture(centre.ctx, cmd, Evidence(None, None, None, False, None), actor="staff:test")
    await centre.signed_in(EMAIL)
    page = (await centre.client.get("/privacy")).text
    other = page.split("Wat we gebruiken zonder om toestemming te vragen", 1)[1].split('<h2 id="requests">')[0]
    assert "In gebruik omdat de wet het vraagt" in other and "In gebruik voor onze overeenkomst met je" in other
    assert "Intrekken of verwijderen kan niet zolang de wet ons verplicht" in other
    assert "meenemen naar een ander (overdraagbaarheid)" in other
    assert 'action="/privacy/withdraw"' not in other, "no withdraw button for them"
    assert ">Gegeven<" not in other and "Gegeven op" not in other
    assert "Deze ontvangen voor die doelen ook gegevens, zonder onze verwerker te zijn: Belastingdienst." in page
    history = page.split('id="history"', 1)[1]
    assert (
        "Facturen sturen en administratie (fiscale bewaarplicht 7 jaar) in gebruik omdat de wet het vraagt" in history
    )

    # a form cannot refuse it, nor offer a box for it
    refusal = {
        "email": EMAIL,
        "channel": "contact_form",
        "notice": NOTICE,
        "purposes": [{"purpose": "invoicing", "granted": False}],
    }
    from services.common.auth import create_site_key

    key = await create_site_key(centre.ctx.rt.db, "site", ["https://www.example.nl"])
    r = await centre.client.post("/v1/consents", json=refusal, headers={"x-site-key": key})
    assert r.status_code == 422 and "rests on legal_obligation, not on consent: there is no consent to refuse" in r.text
    purposes = {p["id"]: p for p in (await centre.client.get("/v1/purposes")).json()["purposes"]}
    assert not purposes["invoicing"]["requires_consent"] and not purposes["support"]["requires_consent"]
    banner = (await centre.client.get("/v1/banner", params={"site_key": key})).json()
    assert "newsletter" in banner["purposes"] and not {"invoicing", "support"} & set(banner["purposes"])
