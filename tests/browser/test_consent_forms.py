"""consent.js on forms and chat widgets (statement Art. 3.2, 15): the checkbox it adds, the capture with
the notice and the page, the double opt-in mail read from the local SMTP server; and accessibility
(axe-core) and screenshots of every state a visitor sees, at 1280 and 360 px, in Dutch and English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Site, axe, running_site, visitor
from tests.conftest import eventually


@pytest.fixture
async def site(make_settings: Any, pg_url: str, smtp: Any, kafka: str) -> Any:
    async with running_site(make_settings, pg_url, smtp) as s:
        yield s


async def test_newsletter_form_captures_consent_and_the_double_opt_in_mail_goes_out(
    chromium: Any, site: Site, smtp: Any
) -> None:
    email = "anne.devries@example.nl"
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles weigeren").click()
        form = v.page.locator("form[data-consent-purposes]")
        box = form.get_by_label("Ja, ik geef toestemming voor: Periodieke waardevolle informatie (nieuwsbrief).")
        assert not await box.is_checked(), "never pre-ticked"
        assert await form.get_by_role("link", name="Privacyverklaring").get_attribute("href")
        await form.get_by_label("Naam").fill("Anne de Vries")
        await form.get_by_label("E-mailadres").fill(email)
        await box.check()
        async with v.page.expect_navigation():
            await form.get_by_role("button", name="Aanmelden").click()
        receipt = await v.page.locator("#receipt").inner_text()  # handed to the site's own form handler
        assert re.fullmatch(r"[a-z]+_[0-9a-f]{20,}", receipt)

        history = await site.history_of(email)
        newsletter = [r for r in history["records"] if r["purpose"] == "newsletter"][-1]
        assert newsletter["state"] == "pending_confirmation" and newsletter["channel"] == "newsletter_signup"
        assert newsletter["evidence"]["page"] == site.url + "/" and newsletter["evidence"]["name"] == "Anne de Vries"
        assert newsletter["notice_version"] == site.ctx.notice("nl")["version"]

        mail = (await eventually(lambda: smtp.to(email), within=20))[0]
        body = mail.get_body(preferencelist=("plain",)).get_content()
        confirm = re.findall(r"(http://127\.0\.0\.1:\d+/v1/confirm/\S+)", body)[0]
        await v.page.goto(confirm)
        await v.page.get_by_role("button").click()
        await v.page.wait_for_load_state()
        history = await site.history_of(email)
        assert history["states"]["newsletter"] == "granted"


async def test_a_form_sent_without_the_box_ticked_records_a_refusal_and_sends_no_mail(
    chromium: Any, site: Site, smtp: Any
) -> None:
    email = "geen.nieuwsbrief@example.nl"
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/en")
        await v.page.get_by_role("button", name="Refuse all").click()
        form = v.page.locator("form[data-consent-purposes]")
        assert await form.get_by_label("Yes, I consent to: Newsletter.").count() == 1, "the page's language"
        await form.get_by_label("Email address").fill(email)
        async with v.page.expect_navigation():
            await form.get_by_role("button", name="Sign up").click()
        history = await site.history_of(email)
        assert history["states"]["newsletter"] == "denied"
        assert history["linked_browsers"] == 1, "the form linked this browser's cookie choices to the person"
        record = [r for r in history["records"] if r["purpose"] == "newsletter"][-1]
        assert record["notice_hash"] == site.ctx.notice("en")["hash"], "the English notice was shown"
        await v.page.wait_for_timeout(1000)
        assert smtp.to(email) == []


async def test_a_chat_widget_captures_through_the_js_call_and_gets_the_receipt(chromium: Any, site: Site) -> None:
    email = "chat.klant@example.nl"
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles weigeren").click()
        chat = v.page.locator("#chat")
        await chat.get_by_label("Naam", exact=True).fill("Chat Klant")
        await chat.get_by_label("E-mailadres", exact=True).fill(email)
        await chat.get_by_label("Bericht", exact=True).fill("Hebben jullie morgen tijd?")
        await chat.get_by_label("Ja, jullie mogen contact met me opnemen over dit bericht.").check()
        await chat.get_by_role("button", name="Versturen").click()
        line = v.page.locator("#chat-log li", has_text="ontvangstbewijs")
        await line.wait_for()
        receipt = await v.run("document.getElementById('chat').dataset.receipt")
        assert receipt and receipt in await line.inner_text()
        history = await site.history_of(email)
        chat_record = [r for r in history["records"] if r["purpose"] == "chat"][-1]
        assert (chat_record["state"], chat_record["channel"]) == ("granted", "chat")
        # the same call from any script on the page, with an unknown purpose: a clear refusal
        out = await v.run(
            "PrivacyConsent.capture({email: 'x@example.nl', purposes: ['nope'], channel: 'chat'})"
            ".then(r => r === null ? 'refused' : 'recorded')"
        )
        assert out == "refused"
        assert any("nope" in w for w in v.warnings)


@pytest.mark.parametrize("path, lang", [("/", "nl"), ("/en", "en")])
async def test_no_serious_accessibility_violations_and_screenshots(
    chromium: Any, site: Site, path: str, lang: str
) -> None:
    names = {"nl": ("Instellingen", "Cookie-instellingen"), "en": ("Settings", "Cookie settings")}[lang]
    for width in (1280, 360):
        async with visitor(chromium, width=width, bypass_csp=True, reduced_motion="reduce") as v:
            await v.page.goto(site.url + path)
            banner = v.page.locator(".pc-b")
            await banner.wait_for()
            assert await v.run("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scroll"
            box = await banner.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
            assert await axe(v.page) == []
            await v.shot(f"consent-js-banner-{lang}-{width}")
            await v.page.get_by_role("button", name=names[0], exact=True).click()
            await v.page.get_by_role("dialog", name=names[1]).wait_for()
            assert await axe(v.page) == []
            await v.shot(f"consent-js-settings-{lang}-{width}")
            await v.page.keyboard.press("Escape")
            await v.page.get_by_role("button", name={"nl": "Alles weigeren", "en": "Refuse all"}[lang]).click()
            await v.page.locator("form[data-consent-purposes] input[type=checkbox]").wait_for()
            assert await axe(v.page) == []
            await v.shot(f"consent-js-page-{lang}-{width}", full_page=True)
