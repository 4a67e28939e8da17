"""The privacy officer's console in a real Chromium, over the three live services (uvicorn, real Kafka, a
real SMTP server): sign in with a token, work an erasure request with a manual holder to completion,
register a breach found 70 hours ago and take it through its clock to the AP, see a capture in the chart,
verify a ledger and see a tampered export rejected offline; refusals (scope, CSRF) and axe-core."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text as sql

from services.common.auth import create_site_key, create_token
from services.console.main import create
from services.console.settings import ConsoleSettings
from services.demo.main import create as demo
from tests.browser.conftest import OUT, Visitor, axe, visitor
from tests.browser.test_privacy_centre import Centre, check_headers, running_centre
from tests.conftest import eventually, free_port, serve

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pt_console_officer_" + "x" * 20


@contextlib.asynccontextmanager
async def running_console(centre: Centre) -> AsyncIterator[str]:
    settings = ConsoleSettings(
        session_key=base64.b64encode(os.urandom(32)).decode(),
        consent_url=centre.urls["consent"],
        dsar_url=centre.urls["dsar"],
        breach_url=centre.urls["breach"],
    )
    async with serve(create(settings), free_port()) as url:
        yield url


@pytest.fixture
async def console(
    make_settings: Callable[..., Any], tmp_path: Path, smtp: Any, topic_prefix: str
) -> AsyncIterator[tuple[Centre, str]]:
    async with running_centre(make_settings, tmp_path, smtp, topic_prefix) as centre:
        for app in centre.apps.values():
            await create_token(app.state.runtime.db, "Anna de Vries (FG)", ["dpo"], token=TOKEN)
            await create_token(app.state.runtime.db, "monitoring", ["system"], token="pt_system_only_" + "y" * 20)
        async with running_console(centre) as url:
            yield centre, url


async def page_shots(v: Visitor, name: str) -> None:
    """Desktop and phone width, full page, into the test output (docs/console/ keeps the ones that explain)."""
    OUT.mkdir(parents=True, exist_ok=True)
    await v.page.set_viewport_size({"width": 1280, "height": 800})
    await v.page.screenshot(path=str(OUT / f"console-{name}-1280.png"), full_page=True)
    await v.page.set_viewport_size({"width": 360, "height": 800})
    await v.page.screenshot(path=str(OUT / f"console-{name}-360.png"), full_page=True)
    await v.page.set_viewport_size({"width": 1280, "height": 800})
    problems = await axe(v.page)
    assert not problems, (name, problems)


async def _restored_and_refused(centre: Centre) -> None:
    """What the ledgers page shows of a restore and of a witness that refuses (issue 33)."""
    import hashlib

    from services.common.ledger.tables import LedgerRecovery, LedgerWitness
    from services.common.ledger.witness import Witnesses

    async with centre.apps["consent"].state.runtime.db.transaction() as tx:
        detail = "restored at 12 entries; 7 rebuilt from the journal and 3 re-applied"
        tx.add(
            LedgerRecovery(
                outcome="recovered", restored_size=12, published_size=19, recovered=7, reapplied=3, detail=detail
            )
        )
    name, key = "witness.example.org", b"\x04" + bytes(range(32))
    key_hash = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex()
    vkey = f"{name}+{key_hash}+{base64.b64encode(key).decode()}"
    breach = centre.apps["breach"].state.runtime
    breach.witnesses = Witnesses({"http://127.0.0.1:9/": vkey})
    why = "it has cosigned size 40 of breach.privacy.local/ledger, and we serve 31: our history went back"
    async with breach.db.transaction() as tx:
        tx.add(LedgerWitness(name=name, url="http://127.0.0.1:9/", size=40, state="refused", detail=why))


async def submit(v: Visitor, selector: str) -> None:
    """Press a form's button and wait for the page it leads to (every console form is a real POST)."""
    async with v.page.expect_navigation():
        await v.page.click(selector)


async def sign_in(v: Visitor, url: str, token: str = TOKEN) -> None:
    await v.page.goto(url + "/")
    assert "/sign-in" in v.page.url
    await v.page.fill("#token", token)
    await submit(v, "button[type=submit]")


async def test_the_officers_morning(console: tuple[Centre, str], chromium: Any) -> None:
    centre, url = console
    dsar = centre.apps["dsar"].state.runtime
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as api:
        # a processor that erases by hand, and a person who asks to be erased
        holder = {"name": "mailchimp", "kind": "manual", "description": "erases on request by mail"}
        assert (await api.put(centre.urls["dsar"] + "/admin/holders/mailchimp", json=holder)).status_code == 200
        body = {"kind": "erasure", "email": "noor@example.nl", "channel": "email", "identity_verified": True}
        created = (await api.post(centre.urls["dsar"] + "/admin/requests", json=body)).json()
    # a visitor of the demo website accepts the cookie banner: consent.js records it with consent
    demo_port = free_port()
    demo_origin = f"http://127.0.0.1:{demo_port}"
    key = await create_site_key(centre.apps["consent"].state.runtime.db, "demo", [demo_origin])
    async with serve(demo(consent_url=centre.urls["consent"], site_key=key), demo_port), visitor(chromium) as site:
        await site.page.goto(demo_origin + "/")
        await site.page.get_by_role("button", name="Alles accepteren").click()
        await eventually(lambda: _recorded(centre, "analytics_cookies"), within=20)

    async with visitor(chromium, bypass_csp=True) as v:
        await v.page.goto(url + "/sign-in")
        await page_shots(v, "sign-in")
        await sign_in(v, url)
        assert v.page.url == url + "/"
        check_headers(await v.page.reload())
        text = await v.page.inner_text("main")
        assert "Open verzoeken" in text and "verwijdering" in text
        # the demo site's capture is in the chart's data: its figures say so, and so does its table
        chart = v.page.locator("figure.chart[data-purpose=analytics_cookies]")
        assert "1 gegeven" in await chart.locator("figcaption").inner_text()
        assert await chart.locator("rect.bar.granted").count() == 1
        assert (await chart.locator("table.figures tbody td").first.text_content() or "").strip() == "1"
        await page_shots(v, "overview")
        cookie = next(c for c in await v.context.cookies() if c["name"] == "console")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        assert TOKEN not in await v.page.content()

        # the erasure request: the Kafka holders answer by themselves, the manual one by this form
        await v.page.goto(f"{url}/requests/{created['id']}")
        await v.until("document.querySelector('tr[data-holder=consent] td').textContent.trim() !== 'wacht'", 30)
        await v.page.reload()
        await page_shots(v, "request")
        await v.page.select_option("#holder", "mailchimp")
        await v.page.select_option("#outcome", "erased")
        await v.page.fill("#reason", "bevestigd per mail door Mailchimp")
        await submit(v, "section[aria-labelledby=h-close] button[type=submit]")
        answer = await v.page.inner_text("tr[data-holder=mailchimp]")
        assert "gewist" in answer and "Anna de Vries (FG)" in answer, answer
        request = await eventually(lambda: _state(dsar, created["id"], "completed"), within=30)
        assert request

        # a breach found 70 hours ago: registered through the AP form's fields
        await v.page.goto(url + "/breaches/new")
        await submit(v, "form[action='/breaches'] button[type=submit]")  # empty: fields named, nothing made
        assert "het formulier klopt nog niet" in (await v.page.inner_text("main")).lower()
        aware = (datetime.now(ZoneInfo("Europe/Amsterdam")) - timedelta(hours=70)).strftime("%Y-%m-%dT%H:%M")
        await v.page.fill("#title", "Klantbestand gemaild naar verkeerde ontvanger")
        await v.page.fill("#description", "Een export met namen en e-mailadressen ging naar een leverancier.")
        await v.page.fill("#awareness_at", aware)
        await v.page.check("#n-confidentiality")
        await v.page.check("#c-email")
        await v.page.check("#c-name_address")
        await v.page.fill("#subjects_min", "120")
        await v.page.fill("#subjects_max", "80")  # below the minimum: refused, input kept
        await submit(v, "form[action='/breaches'] button[type=submit]")
        assert await v.page.input_value("#title") == "Klantbestand gemaild naar verkeerde ontvanger"
        await page_shots(v, "breach-form-errors")
        await v.page.fill("#subjects_max", "150")
        await submit(v, "form[action='/breaches'] button[type=submit]")
        clock = await v.page.inner_text(".clock")
        assert "uur" in clock and ("1.9" in clock or "2.0" in clock or "2 " in clock), clock
        await page_shots(v, "breach")

        # assess: the suggestion beside the person's decision
        for name, value in [("sensitivity", "medium"), ("volume", "medium"), ("severity", "medium")]:
            await v.page.select_option(f"#{name}", value)
        await v.page.select_option("#ease_of_identification", "high")
        await submit(v, "button[value=suggest]")
        assert "Voorstel van het systeem" in await v.page.inner_text("#suggestion")
        await v.page.select_option("#outcome", "risk")
        await v.page.fill("#reasons", "Namen en adressen bij één leverancier; geen bijzondere gegevens.")
        await submit(v, "button[value=decide]")
        assert "Besluit van Anna de Vries (FG)" in await v.page.inner_text("section[aria-labelledby=h-risk]")

        # the AP notification: prepared, printed, submitted
        await submit(v, "form[action$='/notifications'] button[type=submit]")
        link = v.page.locator("a", has_text="Afdrukbaar formulier")
        href = await link.get_attribute("href")
        assert href
        printable = await v.context.new_page()
        check_headers(await printable.goto(url + href))
        headings = await printable.locator("h2").all_inner_texts()
        assert "Meldformulier datalekken" in await printable.inner_text("main")
        assert [h.split(".")[0] for h in headings] == [str(n) for n in range(10)], headings  # sections 0-9
        await printable.screenshot(path=str(OUT / "console-ap-notification.png"), full_page=True)
        await printable.close()
        await v.page.fill("input[name=ap_reference]", "AP-2026-0042")
        await submit(v, "form[action$='/submission'] button[type=submit]")
        assert "Gemeld bij de AP" in await v.page.inner_text(".clock")

        # a system told of consent changes by webhook, one of whose deliveries was given up on after a day
        hook = {"url": "https://crm.jezaakvoorelkaar.invalid/hooks/consent", "purposes": ["newsletter", "leads"]}
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as api:
            assert (await api.put(centre.urls["consent"] + "/admin/webhooks/crm", json=hook)).status_code == 200
        async with centre.apps["consent"].state.runtime.db.transaction() as tx:
            await tx.execute(
                sql(
                    "INSERT INTO push_deliveries (endpoint, subject, message_id, payload, attempts, last_error,"
                    " created_at, dead_at) VALUES ('crm', 'p', 'msg_1', '{\"type\": \"consent.state.changed\"}', 14,"
                    " 'answered 503', :at, :at)"
                ),
                {"at": datetime.now(ZoneInfo("UTC"))},
            )
        # consent was restored from a backup and recovered on start; breach's witness refuses its history
        await _restored_and_refused(centre)
        # a ledger verifies; a tampered export does not, offline
        await v.page.goto(url + "/ledgers")
        restore = await v.page.inner_text("#restore-consent")
        assert "Teruggezet en hersteld" in restore and "7 regels zijn uit Kafka herbouwd" in restore
        assert "WEIGERT onze geschiedenis" in await v.page.inner_text("#breach")
        hooks = await v.page.inner_text("section[aria-labelledby=h-webhooks]")
        assert "crm" in hooks and "leads, newsletter" in hooks and "GET /admin/webhooks/deliveries/dead" in hooks
        await submit(v, "#consent form button")
        assert "het grootboek klopt" in await v.page.inner_text("#verdict")
        await page_shots(v, "ledgers")
        # someone changes a recorded entry in dsar's database: verifying says so, unmistakably
        async with dsar.db.transaction() as tx:
            await tx.execute(sql("UPDATE ledger_entries SET entry = :e WHERE seq = 0"), {"e": b'{"forged": true}'})
        await submit(v, "#dsar form button")
        verdict = v.page.locator("#verdict.bad")
        assert "HET GROOTBOEK KLOPT NIET" in await verdict.inner_text()
        await page_shots(v, "ledger-broken")
        export = await v.context.request.get(url + "/ledgers/consent/export")
        lines = (await export.text()).splitlines()
        path = OUT / "consent-ledger-tampered.txt"
        lines[2] = lines[2].replace("leads", "newsletter") if "leads" in lines[2] else lines[2][:-2] + "x}"
        path.write_text("\n".join(lines) + "\n")
        verify = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.common.ledger.verify", str(path), "--no-progress",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        said = (await verify.communicate())[0].decode()
        assert verify.returncode == 1, said

        # CSRF: a form posted without its token is refused, and nothing changes
        r = await v.context.request.post(url + f"/requests/{created['id']}/refuse", form={"reason": "x" * 20})
        assert r.status == 403 and "CSRF" in await r.text()

        # the other pages, looked at
        for name, path_ in [("requests", "/requests"), ("breaches", "/breaches"), ("processors", "/processors")]:
            await v.page.goto(url + path_)
            await page_shots(v, name)
        await v.page.goto(url + "/people")
        await v.page.fill("#email", "noor@example.nl")
        await submit(v, "main form button[type=submit]")
        assert "Van dit adres is niets vastgelegd" in await v.page.inner_text("main"), "erased"
        await page_shots(v, "people")
        kept = next(c for c in await v.context.cookies() if c["name"] == "console")
        await submit(v, "header form.signout button")
        assert "/sign-in" in v.page.url
        await v.page.goto(url + "/")
        assert "/sign-in" in v.page.url, "signed out is signed out"
        await v.context.add_cookies([kept])  # a copy of the cookie from before: it opens nothing now
        await v.page.goto(url + "/")
        assert "/sign-in" in v.page.url
    assert not v.errors


async def _recorded(centre: Centre, purpose: str) -> bool:
    from sqlmodel import select

    from services.consent.models import ConsentRecord

    async with centre.apps["consent"].state.runtime.db.read() as s:
        rows = (await s.execute(select(ConsentRecord).where(ConsentRecord.purpose == purpose))).scalars().all()
        return any(r.state == "granted" for r in rows)


async def _state(runtime: Any, request_id: str, state: str) -> bool:
    from services.dsar.models import DsarRequest

    async with runtime.db.read() as s:
        row = await s.get(DsarRequest, request_id)
        return bool(row is not None and row.state == state)


async def test_a_token_without_the_scope_is_refused_clearly(console: tuple[Centre, str], chromium: Any) -> None:
    _centre, url = console
    async with visitor(chromium, bypass_csp=True) as v:
        await sign_in(v, url, "not-a-token")
        assert "Dit token kent geen van de diensten" in await v.page.inner_text("main")
        await sign_in(v, url, "pt_system_only_" + "y" * 20)
        await v.page.goto(url + "/requests")
        text = await v.page.inner_text("main")
        assert "needs the scope" in text and "dpo" in text, text
        response = await v.page.goto(url + "/processors")
        assert response.status == 403 and "Je token mag dit niet" in await v.page.inner_text("main")
        await page_shots(v, "refused")


async def test_keyboard_only(console: tuple[Centre, str], chromium: Any) -> None:
    """Sign in, reach a page and sign out with the keyboard alone; focus is visible on every stop."""
    _centre, url = console
    async with visitor(chromium) as v:
        await v.page.goto(url + "/sign-in")
        stops = []
        for _ in range(6):
            await v.page.keyboard.press("Tab")
            stops.append(await v.run("document.activeElement.id || document.activeElement.textContent.trim()"))
            if stops[-1] == "token":
                break
        assert stops[0] in ("Naar de inhoud", "English") and stops[-1] == "token", stops
        await v.page.keyboard.type(TOKEN)
        async with v.page.expect_navigation():
            await v.page.keyboard.press("Enter")
        assert v.page.url == url + "/"
        # from the top: the skip link, then the navigation; Enter on "Verzoeken" opens the queue
        await v.page.keyboard.press("Tab")
        assert await v.run("document.activeElement.textContent.trim()") == "Naar de inhoud"
        for _ in range(10):
            await v.page.keyboard.press("Tab")
            focused = await v.run("document.activeElement.textContent.trim()")
            outline = await v.run("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", (focused, outline)
            if focused == "Verzoeken":
                break
        async with v.page.expect_navigation():
            await v.page.keyboard.press("Enter")
        assert v.page.url == url + "/requests"
        for _ in range(15):
            await v.page.keyboard.press("Tab")
            if await v.run("document.activeElement.textContent.trim()") == "Uitloggen":
                break
        async with v.page.expect_navigation():
            await v.page.keyboard.press("Enter")
        assert "/sign-in" in v.page.url
