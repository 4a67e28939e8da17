"""The privacy centre in a real Chromium, end to end: consent, dsar and breach served by uvicorn on local
ports (each with its own SQLite database) over the real Kafka broker, mail through a real SMTP server.
A person asks for a sign-in link, opens it from the mail, withdraws the newsletter (seen in the history
and on consent.state.v1), asks for access and opens the export; in Dutch, in English, and by keyboard."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from tests.browser.conftest import OUT, Visitor, axe, visitor
from tests.conftest import KAFKA, build_app, eventually, free_port, serve

SERVICES = ("consent", "dsar", "breach")
MONTHS_NL = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
MONTHS_EN = "January|February|March|April|May|June|July|August|September|October|November|December"


@dataclass
class Centre:
    apps: dict[str, Any]
    urls: dict[str, str]
    smtp: Any
    topic_prefix: str

    @property
    def home(self) -> str:
        return self.urls["consent"] + "/privacy"

    @property
    def ctx(self) -> Any:
        from services.consent.context import ConsentContext

        return ConsentContext.of(self.apps["consent"].state.runtime)

    async def person(self, email: str) -> None:
        """Someone we know: the newsletter and the contact form, recorded by staff on the phone."""
        from services.consent import service
        from services.consent.decisions import Evidence
        from services.consent.domain import Channel
        from services.consent.schemas import CaptureIn, Notice, PurposeChoice

        cmd = CaptureIn(
            email=email,
            purposes=[
                PurposeChoice(purpose="newsletter", granted=True),
                PurposeChoice(purpose="contact", granted=True),
            ],
            channel=Channel.PHONE,
            notice=Notice(version="phone-script-3", hash="0" * 64),
            note="asked on the phone <b>twice</b>",
        )
        await service.capture(self.ctx, cmd, Evidence(None, None, None, False, None), actor="staff:anna")

    async def mail(self, to: str, subject_part: str, *, within: float = 30) -> str:
        def found() -> Any:
            return [m for m in self.smtp.to(to) if subject_part in m["Subject"]]

        messages = await eventually(found, within=within)
        body: str = messages[-1].get_body(preferencelist=("plain",)).get_content()
        return body

    async def link_in(self, to: str, subject_part: str, path: str) -> str:
        body = await self.mail(to, subject_part)
        found = re.findall(rf"(http://127\.0\.0\.1:\d+{path}\S+)", body)
        assert found, body
        return found[0]

    async def state_on_kafka(self, email: str) -> dict[str, str]:
        """The newest consent.state.v1 record of this person, read from the broker."""
        subject = self.ctx.rt.recorder.pseudonym(email)
        consumer = AIOKafkaConsumer(
            self.topic_prefix + "consent.state.v1", bootstrap_servers=KAFKA, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            latest: dict[str, str] = {}
            batches = await consumer.getmany(timeout_ms=3000)
            for records in batches.values():
                for r in records:
                    if r.key == subject.encode() and r.value:
                        latest = json.loads(r.value)["purposes"]
            return latest
        finally:
            await consumer.stop()


@contextlib.asynccontextmanager
async def running_centre(
    make_settings: Callable[..., Any], tmp_path: Path, smtp: Any, prefix: str
) -> AsyncIterator[Centre]:
    ports = {s: free_port() for s in SERVICES}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    common = {
        "mail_enabled": True,
        "smtp_port": smtp.port,
        "rate_limit_per_minute": 10_000,
        "privacy_centre_url": urls["consent"] + "/privacy",
    }
    async with contextlib.AsyncExitStack() as stack:
        apps = {}
        for s in SERVICES:
            extra = {"dsar_url": urls["dsar"]} if s == "consent" else {}
            db = f"sqlite+aiosqlite:///{tmp_path}/{s}.db"
            apps[s] = build_app(s, make_settings(s, db, public_base_url=urls[s], **common, **extra))
            await stack.enter_async_context(serve(apps[s], ports[s]))
        for app in apps.values():
            await eventually(app.state.runtime.consumers[0].ready.is_set, within=60)
        yield Centre(apps, urls, smtp, prefix)


@pytest.fixture
async def centre(
    make_settings: Callable[..., Any], tmp_path: Path, smtp: Any, topic_prefix: str
) -> AsyncIterator[Centre]:
    async with running_centre(make_settings, tmp_path, smtp, topic_prefix) as c:
        yield c


PAGE_HEADERS = {"referrer-policy": "no-referrer", "x-content-type-options": "nosniff", "cache-control": "no-store"}


def check_headers(response: Any) -> None:
    headers = response.headers
    for name, value in PAGE_HEADERS.items():
        assert headers.get(name) == value, (response.url, name, headers.get(name))
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp


async def goto(v: Visitor, url: str) -> Any:
    response = await v.page.goto(url)
    check_headers(response)
    return response


async def shots(v: Visitor, name: str) -> None:
    """The page at 1280 px, then at 360 px (full length), into the test's output, with its size."""
    OUT.mkdir(parents=True, exist_ok=True)
    size = await v.run("performance.getEntriesByType('navigation')[0].decodedBodySize")
    sizes = OUT / "centre-page-sizes.json"
    known = json.loads(sizes.read_text()) if sizes.exists() else {}
    sizes.write_text(json.dumps({**known, name: size}, indent=1, sort_keys=True))
    await v.page.set_viewport_size({"width": 1280, "height": 800})
    await v.page.screenshot(path=str(OUT / f"centre-{name}-1280.png"), full_page=True)
    await v.page.set_viewport_size({"width": 360, "height": 740})
    await v.page.screenshot(path=str(OUT / f"centre-{name}-360.png"), full_page=True)
    await v.page.screenshot(path=str(OUT / f"centre-{name}-360-top.png"))
    width = await v.run("document.documentElement.scrollWidth")
    assert width <= 360, f"{name}: the page scrolls sideways at 360 px ({width} px wide)"
    await v.page.set_viewport_size({"width": 1280, "height": 800})


async def accessible(v: Visitor, name: str) -> None:
    found = await axe(v.page)
    assert not found, f"{name}: {found}"


async def sign_in(c: Centre, v: Visitor, email: str, *, lang: str = "nl") -> None:
    await goto(v, c.home + ("?lang=en" if lang == "en" else ""))
    await v.page.fill("#email", email)
    await v.page.click("button[type=submit]")
    await v.page.wait_for_selector("text=" + ("Check your mail" if lang == "en" else "Kijk in je mail"))
    url = await c.link_in(email, "privacy", "/privacy/sign-in/")
    await goto(v, url)
    await v.page.click("button[type=submit]")
    await v.page.wait_for_selector("text=" + ("Signed in as" if lang == "en" else "Ingelogd als"))


async def test_journey_in_dutch(chromium: Any, centre: Centre) -> None:
    c, email = centre, "eva.de.vries@example.nl"
    await c.person(email)
    async with visitor(chromium, bypass_csp=True) as v:
        # 1. ask for a sign-in link (the page never says whether the address is known)
        await goto(v, c.home)
        assert await v.run("document.documentElement.lang") == "nl"
        await accessible(v, "sign-in")
        await shots(v, "sign-in")
        await v.page.fill("#email", email)
        await v.page.click("button[type=submit]")
        await v.page.wait_for_selector("text=Kijk in je mail")
        await shots(v, "sent")
        # 2. read it from the SMTP server, open it: a button, then the centre
        body = await c.mail(email, "privacycentrum")
        assert "werkt één keer" in body and "Your link to the privacy centre" in body, "Dutch first, English below"
        link = re.findall(r"(http://127\.0\.0\.1:\d+/privacy/sign-in/\S+)", body)[0]
        await goto(v, link)
        await accessible(v, "open-link")
        await shots(v, "open-link")
        await v.page.click("button:has-text('Inloggen')")
        await v.page.wait_for_selector("text=Ingelogd als")
        check_headers(await v.page.reload())
        cookie = next(x for x in await v.context.cookies() if x["name"] == "privacy_centre")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and email not in cookie["value"]
        text = await v.page.inner_text("main")
        assert "Periodieke waardevolle informatie (nieuwsbrief)" in text and "Gegeven op" in text
        assert "Alleen met je toestemming" in text and "Hoogstens bewaard 2 jaar" in text
        assert "ActiveCampaign" in text, "who receives the data (statement Art. 8)"
        assert "newsletter" not in text and "granted" not in text, "no ids, no English state words"
        assert "<b>twice</b>" in text, "what staff typed is shown as text, not markup"
        await accessible(v, "home")
        await shots(v, "home")
        # the used link is refused with a page offering a new one
        await goto(v, link)
        await v.page.click("button:has-text('Inloggen')")
        await v.page.wait_for_selector("text=Deze link is al gebruikt")
        await accessible(v, "used-link")
        await shots(v, "used-link")
        await goto(v, c.home)

        # 3. withdraw the newsletter: one press; seen in the history and on consent.state.v1
        card = v.page.locator("section.card", has_text="nieuwsbrief")
        await card.locator("button", has_text="Intrekken").click()
        await v.page.wait_for_selector("text=Je hebt je toestemming ingetrokken voor")
        card = v.page.locator("section.card", has_text="nieuwsbrief")
        assert "Ingetrokken" in await card.inner_text()
        history = await v.page.inner_text("#history ~ section.record >> nth=0")
        assert "ingetrokken" in history and "het privacycentrum" in history
        assert await v.page.locator("a", has_text="Controleer dit bewijs zelf").count() >= 3
        await shots(v, "withdrawn")
        state = await eventually(lambda: _withdrawn(c, email), within=20)
        assert state["newsletter"] == "withdrawn" and state["contact"] == "granted"

        # 4. ask for access: the sign-in is the identity check; the export opens from the centre
        corrections = v.page.locator("fieldset[data-show-when]")
        assert not await corrections.is_visible(), "the correction fields show only for a correction"
        await v.page.select_option("#kind", "rectification")
        assert await corrections.is_visible()
        await v.page.select_option("#kind", "access")
        assert not await corrections.is_visible()
        await v.page.click("button:has-text('Verzoek versturen')")
        await v.page.wait_for_selector("text=Je verzoek is ontvangen")
        await c.mail(email, "Je gegevens staan klaar", within=60)
        for _ in range(100):
            await goto(v, c.home)
            if await v.page.locator("a", has_text="bekijk je gegevens").count():
                break
            await v.page.wait_for_timeout(300)
        row = await v.page.inner_text("#requests ~ table")
        assert "Inzage" in row and "Afgehandeld" in row
        await shots(v, "requests")
        await v.page.click("a:has-text('bekijk je gegevens')")
        await v.page.wait_for_selector("text=Alle gegevens die we van je hebben")
        check_headers(await v.page.reload())
        export = await v.page.inner_text("main")
        for section in ("Je toestemmingen", "Je verzoeken", "Meldingen van datalekken", "Wie je gegevens ontvangen"):
            assert section in export
        assert "Bron: consent" not in export and "gpc: False" not in export and "granted" not in export
        assert re.search(rf"\d{{1,2}} ({MONTHS_NL}) \d{{4}} om \d\d:\d\d", export), "dates written out"
        assert "Notitie van de medewerker: asked on the phone <b>twice</b>." in export
        await accessible(v, "export")
        await shots(v, "export")
        # sign out ends the session
        await goto(v, c.home)
        await v.page.click("button:has-text('Uitloggen')")
        await v.page.wait_for_selector("text=Je bent uitgelogd")
        assert not [x for x in await v.context.cookies() if x["name"] == "privacy_centre"]


async def _withdrawn(c: Centre, email: str) -> dict[str, str] | None:
    state = await c.state_on_kafka(email)
    return state if state.get("newsletter") == "withdrawn" else None


async def test_journey_in_english(chromium: Any, centre: Centre) -> None:
    c, email = centre, "sam.jones@example.nl"
    await c.person(email)
    async with visitor(chromium, bypass_csp=True) as v:
        await sign_in(c, v, email, lang="en")
        assert await v.run("document.documentElement.lang") == "en"
        text = await v.page.inner_text("main")
        assert "Newsletter" in text and "Given on" in text and "Only with your consent" in text
        await accessible(v, "home-en")
        await shots(v, "home-en")
        await v.page.locator("section.card", has_text="Newsletter").locator("button", has_text="Withdraw").click()
        await v.page.wait_for_selector("text=You withdrew your consent for Newsletter")
        await v.page.select_option("#kind", "access")
        await v.page.click("button:has-text('Send request')")
        await v.page.wait_for_selector("text=Your request was received")
        body = await c.mail(email, "Your data is ready", within=60)
        assert body.index("Here is an overview") < body.index("Hier is een overzicht"), "English first"
        for _ in range(100):
            await goto(v, c.home + "?lang=en")
            if await v.page.locator("a", has_text="open your data").count():
                break
            await v.page.wait_for_timeout(300)
        await v.page.click("a:has-text('open your data')")
        await v.page.wait_for_selector("text=All the data we hold about you")
        export = await v.page.inner_text("main")
        assert "Data breach notices" in export and "withdrawn" in export and "Newsletter" in export
        assert "ActiveCampaign: email marketing" in export and "e-mailmarketing" not in export, "no Dutch left"
        assert re.search(rf"\d{{1,2}} ({MONTHS_EN}) \d{{4}} at \d\d:\d\d", export), "dates written out"
        await accessible(v, "export-en")
        await shots(v, "export-en")


async def test_keyboard_only(chromium: Any, centre: Centre) -> None:
    """Sign in and withdraw without a mouse: Tab to each control, Enter to press it."""
    c, email = centre, "kim@example.nl"
    await c.person(email)
    async with visitor(chromium) as v:
        await goto(v, c.home)
        await _tab_to(v, "#email")
        await v.page.keyboard.type(email)
        await v.page.keyboard.press("Enter")
        await v.page.wait_for_selector("text=Kijk in je mail")
        await goto(v, await c.link_in(email, "privacycentrum", "/privacy/sign-in/"))
        await _tab_to(v, "button[type=submit]")
        await v.page.keyboard.press("Enter")
        await v.page.wait_for_selector("text=Ingelogd als")
        withdraw = "section.card:has-text('nieuwsbrief') button:has-text('Intrekken')"
        await _tab_to(v, withdraw)
        outline = await v.run("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "focus is visible"
        await v.page.keyboard.press("Enter")
        await v.page.wait_for_selector("text=Je hebt je toestemming ingetrokken voor")
        assert v.errors == [], v.errors


async def _tab_to(v: Visitor, selector: str, *, limit: int = 60) -> None:
    target = await v.page.query_selector(selector)
    assert target is not None, selector
    for _ in range(limit):
        await v.page.keyboard.press("Tab")
        if await target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{selector} not reached with Tab")


async def test_every_other_page_a_person_sees(chromium: Any, centre: Centre) -> None:
    """The pages behind the links in mails (confirm, unsubscribe, history, dsar's confirmation) and the
    error pages: readable at 360 px, headers, axe, in Dutch and English."""
    from services.consent import decisions

    c, email = centre, "lotte@example.nl"
    await c.person(email)
    subject = c.ctx.rt.recorder.pseudonym(email)
    pages = {
        "confirm": c.urls["consent"] + "/v1/confirm/" + "t" * 43,
        "unsubscribe": decisions.unsubscribe_link(c.ctx, subject, ["newsletter"]),
        "history": decisions.history_link(c.ctx, subject),
        "dsar-verify": c.urls["dsar"] + "/v1/verify/" + "t" * 43,
        "export-unknown": c.urls["dsar"] + "/v1/exports/" + "t" * 43,
        "not-found": c.urls["consent"] + "/privacy/nothing-here",
    }
    async with visitor(chromium, bypass_csp=True) as v:
        for name, url in pages.items():
            for lang in ("nl", "en"):
                target = url + ("&" if "?" in url else "?") + f"lang={lang}"
                response = await v.page.goto(target)
                assert response is not None and "text/html" in response.headers["content-type"], (name, target)
                check_headers(response)
                assert await v.run("document.documentElement.lang") == lang, (name, lang)
                await accessible(v, f"{name}-{lang}")
                if lang == "nl":
                    await shots(v, name)
        text = await (await v.page.goto(pages["history"])).text()
        assert "Periodieke waardevolle informatie (nieuwsbrief)" in text and "privacycentrum" in text
        await v.page.goto(pages["export-unknown"])
        assert "Deze link of pagina kennen we niet" in await v.page.inner_text("main")
        await v.page.goto(pages["unsubscribe"])
        await v.page.click("button:has-text('Afmelden')")
        await v.page.wait_for_selector("text=Je bent afgemeld voor: Periodieke waardevolle informatie")
