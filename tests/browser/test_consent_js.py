"""consent.js in a real Chromium: the banner on the demo site, prior blocking, withdrawal, GPC, a new
notice version, the keyboard, offline and a failing API, and what a bad site key does to a page."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from services.common.auth import create_site_key, revoke_site_key
from tests.browser.conftest import Site, banner_config, running_site, until_banner, visitor
from tests.conftest import eventually

RAN = "[window.demoRan?.analytics ?? null, window.demoRan?.tracking ?? null, window.demoInlineAnalytics ?? null]"
QUEUE = "JSON.parse(localStorage.getItem('privacyconsent.queue') || '[]').length"


@pytest.fixture
async def site(make_settings: Any, pg_url: str, smtp: Any, kafka: str) -> Any:
    async with running_site(make_settings, pg_url, smtp) as s:
        yield s


async def records_of(site: Site, browser_id: str, at_least: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        records: list[dict[str, Any]] = (await site.history_of_browser(browser_id))["records"]
        return records if len(records) >= at_least else None

    result: list[dict[str, Any]] = await eventually(enough, within=10)
    return result


def states(records: list[dict[str, Any]]) -> dict[str, str]:
    return {r["purpose"]: r["state"] for r in records}  # the last record per purpose wins


async def test_refuse_all_runs_nothing_and_the_server_holds_the_refusal(chromium: Any, site: Site) -> None:
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        banner = v.page.get_by_role("dialog", name="Cookies op deze site")
        await banner.wait_for()
        refuse = banner.get_by_role("button", name="Alles weigeren", exact=True)
        accept = banner.get_by_role("button", name="Alles accepteren", exact=True)
        await banner.evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")  # it slides in
        # the AP: refusing as easy as accepting, on the first layer, side by side, the same weight
        r, a = await refuse.bounding_box(), await accept.bounding_box()
        assert r and a and r["y"] == a["y"] and abs(r["width"] - a["width"]) < 2 and r["height"] == a["height"]
        style = "e => { const s = getComputedStyle(e); return [s.fontWeight, s.fontSize, s.backgroundColor, s.color] }"
        assert await refuse.evaluate(style) == await accept.evaluate(style)
        # who processes the data and for what, on the first layer
        text = await banner.inner_text()
        assert "Google Analytics" in text and "Wendy Kerssens Social Advertising" in text
        assert await banner.get_by_role("checkbox").count() == 0, "no boxes, so none pre-ticked"
        # no cookie wall: the page behind the banner still works
        await v.page.get_by_label("Naam").first.fill("typed while the banner is up")

        await refuse.click()
        await banner.wait_for(state="detached")
        assert await v.run(RAN) == [None, None, None]
        assert await v.page.locator("iframe.video").get_attribute("src") is None
        assert "geblokkeerd" in await v.page.locator("#status-analytics").inner_text()

        records = await records_of(site, await v.browser_id(), 2)
        assert states(records) == {
            "analytics_cookies": "denied",
            "tracking_cookies": "denied",
        }
        notice = json.loads(await v.run("localStorage.getItem('privacyconsent.notice.nl')"))
        for record in records:
            assert record["channel"] == "cookie_banner"
            assert (record["notice_version"], record["notice_hash"]) == (notice["version"], notice["hash"])
            ev = record["evidence"]  # a refusal keeps only what proves it: where, when, GPC (no IP, no browser)
            assert ev["page"] == site.url + "/" and ev["gpc"] is False and ev["site"] == site.key
            assert "user_agent" not in ev and "ip" not in ev

        # Consent Mode v2: denied by default before anything, then the update
        layer = await v.run("dataLayer.map(a => Array.from(a))")
        assert layer[0][:2] == ["consent", "default"] and layer[0][2]["analytics_storage"] == "denied"
        assert layer[0][2]["wait_for_update"] == 500
        assert layer[-1][:2] == ["consent", "update"] and set(layer[-1][2].values()) == {"denied"}

        await v.page.reload()
        await v.until("window.PrivacyConsent && PrivacyConsent.get().functional")
        assert await v.page.locator(".pc-b").count() == 0, "the choice is remembered"
        assert v.errors == [] and v.warnings == []


async def test_accept_all_runs_the_blocked_scripts_once_with_the_pages_nonce(chromium: Any, site: Site) -> None:
    async with visitor(chromium) as v:
        csp_violations: list[str] = []
        v.page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles accepteren").click()
        await v.until("window.demoRan?.tracking === 1 && window.demoRan?.analytics === 1")
        # the inline snippet ran under the demo's nonce-only CSP: the nonce was carried over
        assert await v.run(RAN) == [1, 1, True] and csp_violations == []
        assert (await v.page.locator("iframe.video").get_attribute("src")) == "/embed"
        frame = v.page.frame_locator("iframe.video")
        await frame.locator("#embed-loaded").wait_for()
        assert "draait" in await v.page.locator("#status-tracking").inner_text()
        await v.shot("consent-js-accepted-nl-1280", full_page=True)
        layer = await v.run("dataLayer.map(a => Array.from(a))")
        assert layer[-1][:2] == ["consent", "update"]
        assert layer[-1][2] == {
            "analytics_storage": "granted",
            "ad_storage": "granted",
            "ad_user_data": "granted",
            "ad_personalization": "granted",
        }
        records = await records_of(site, await v.browser_id(), 2)
        assert states(records)["tracking_cookies"] == "granted"
        # the next page: the choice applies at once, no banner
        await v.page.reload()
        await v.until("window.demoRan?.tracking === 1")
        assert await v.page.locator(".pc-b").count() == 0
        bid = next(c for c in await v.context.cookies() if c["name"] == "pc_bid")
        assert bid["sameSite"] == "Lax" and bid["secure"] is False and bid["httpOnly"] is False  # http here


async def test_withdrawing_in_the_settings_is_one_click_and_reloads_without_the_tracker(
    chromium: Any, site: Site
) -> None:
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles accepteren").click()
        await v.until("window.demoRan?.tracking === 1")
        assert "demo_tracking" in {c["name"] for c in await v.context.cookies()}

        await v.page.get_by_role("button", name="Cookie-instellingen").click()  # data-consent-settings
        settings = v.page.get_by_role("dialog", name="Cookie-instellingen")
        await settings.wait_for()
        assert await settings.get_by_label("Analytische cookies").is_checked()
        async with v.page.expect_navigation():
            await settings.get_by_role("button", name="Alles weigeren").click()
        await v.until("window.PrivacyConsent && PrivacyConsent.get().functional")
        assert await v.run(RAN) == [None, None, None], "nothing keeps running after a withdrawal"
        assert not {"demo_tracking", "demo_analytics"} & {c["name"] for c in await v.context.cookies()}

        records = await records_of(site, await v.browser_id(), 4)
        assert states(records) == {
            "analytics_cookies": "withdrawn",
            "tracking_cookies": "withdrawn",
        }


async def test_gpc_refuses_tracking_with_reason_gpc_and_only_the_settings_layer_can_enable_it(
    chromium: Any, site: Site
) -> None:
    async with visitor(chromium, gpc=True) as v:
        await v.page.goto(site.url + "/")
        banner = v.page.get_by_role("dialog", name="Cookies op deze site")
        assert "Global Privacy Control" in await banner.inner_text()
        await banner.get_by_role("button", name="Alles accepteren").click()
        await v.until("window.demoRan?.analytics === 1")
        assert await v.run("window.demoRan?.tracking ?? null") is None
        records = await records_of(site, await v.browser_id(), 2)
        tracking = [r for r in records if r["purpose"] == "tracking_cookies"][-1]
        assert (tracking["state"], tracking["reason"]) == ("denied", "gpc") and tracking["evidence"]["gpc"] is True
        assert states(records)["analytics_cookies"] == "granted"

        # an explicit later choice in the settings layer, recorded as such
        await v.page.get_by_role("button", name="Cookie-instellingen").click()
        settings = v.page.get_by_role("dialog", name="Cookie-instellingen")
        box = settings.get_by_label("Tracking cookies", exact=False)
        assert not await box.is_checked()
        assert "Global Privacy Control" in await settings.inner_text()
        await box.check()
        await settings.get_by_role("button", name="Keuze opslaan").click()
        await v.until("window.demoRan?.tracking === 1")
        records = await records_of(site, await v.browser_id(), 4)
        tracking = [r for r in records if r["purpose"] == "tracking_cookies"][-1]
        assert (tracking["state"], tracking["reason"]) == ("granted", "explicit choice over gpc")


async def test_a_new_notice_version_or_an_old_choice_brings_the_banner_back(chromium: Any, site: Site) -> None:
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles accepteren").click()
        await v.until("window.demoRan?.tracking === 1")

        await site.restart(purposes_file=str(banner_config("2027-02-01")))
        await until_banner(v)
        assert await v.run(RAN) == [None, None, None], "a choice for another notice does not apply"
        await v.page.get_by_role("button", name="Alles accepteren").click()
        records = await records_of(site, await v.browser_id(), 4)
        assert records[-1]["notice_version"] == "2027-02-01"

        # the same version with another text (its SHA-256 changed): the banner asks again (GDPR 7(1))
        await site.restart(purposes_file=str(banner_config("2027-02-01", title="Cookies op onze site")))
        await until_banner(v, "Cookies op onze site")
        await v.page.get_by_role("button", name="Alles accepteren").click()
        await records_of(site, await v.browser_id(), 6)

        # twelve months later (renew_after_days 365) the banner asks again
        await v.run(
            "(() => { const c = JSON.parse(localStorage.getItem('privacyconsent'));"
            " c.at -= 366 * 864e5; localStorage.setItem('privacyconsent', JSON.stringify(c)); })()"
        )
        await v.page.reload()
        await v.page.get_by_role("dialog", name="Cookies op onze site").wait_for()


async def test_keyboard_only_through_both_layers(chromium: Any, site: Site) -> None:
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for()
        focused = "document.activeElement.textContent || document.activeElement.id"
        outline = "getComputedStyle(document.activeElement).outlineStyle"
        await v.page.keyboard.press("Tab")
        assert await v.run(focused) == "Alles weigeren", "the banner is the first thing Tab reaches"
        assert await v.run(outline) != "none", "focus is visible"
        await v.page.keyboard.press("Tab")
        assert await v.run(focused) == "Alles accepteren"
        await v.page.keyboard.press("Tab")
        assert await v.run(focused) == "Instellingen"
        await v.page.keyboard.press("Enter")
        dialog = v.page.get_by_role("dialog", name="Cookie-instellingen")
        await dialog.wait_for()
        assert await dialog.get_attribute("aria-modal") == "true"
        assert await v.run("document.activeElement.id") == "pc-c-analytics"
        await v.page.keyboard.press("Shift+Tab")
        assert await v.run(focused) == "Privacyverklaring", "Shift-Tab wraps to the last item"
        await v.page.keyboard.press("Tab")
        assert await v.run("document.activeElement.id") == "pc-c-analytics", "Tab wraps to the first"
        await v.page.keyboard.press("Escape")
        await dialog.wait_for(state="detached")
        assert await v.run(focused) == "Instellingen", "focus returns to what opened the settings"

        await v.page.keyboard.press("Enter")
        await dialog.wait_for()
        await v.page.keyboard.press("Space")  # analytics on
        for _ in range(4):  # tracking box, refuse, accept, save
            await v.page.keyboard.press("Tab")
        assert await v.run(focused) == "Keuze opslaan"
        await v.page.keyboard.press("Enter")
        await v.until("window.demoRan?.analytics === 1")
        assert await v.run("window.demoRan?.tracking ?? null") is None
        records = await records_of(site, await v.browser_id(), 2)
        assert states(records)["analytics_cookies"] == "granted"
        assert states(records)["tracking_cookies"] == "denied"


async def test_settings_reopen_before_the_closed_layers_close_event_has_run(chromium: Any, site: Site) -> None:
    """Escape closes the dialog at once but its `close` event runs as a later task: a click on
    "Instellingen" in between (a fast keyboard, a busy machine) opened nothing, and the late event then
    removed the layer. Now the click opens the settings, and the late event leaves the new layer alone."""
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for()
        layers = await v.run(
            "(async () => { PrivacyConsent.open(); document.querySelector('dialog.pc-s').close();"
            " PrivacyConsent.open(); await new Promise((r) => setTimeout(r, 100));"
            " return [...document.querySelectorAll('dialog.pc-s')].map((d) => d.open); })()"
        )
        assert layers == [True], "one settings layer, open"
        await v.page.get_by_role("dialog", name="Cookie-instellingen").wait_for()
        await v.page.get_by_role("button", name="Sluiten").click()
        await v.page.get_by_role("dialog", name="Cookie-instellingen").wait_for(state="detached")
        assert await v.run("document.querySelectorAll('dialog.pc-s').length") == 0
        assert v.errors == []


async def test_offline_then_online_the_choice_arrives_once(chromium: Any, site: Site) -> None:
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for()
        await v.context.set_offline(True)
        await v.page.get_by_role("button", name="Alles weigeren").click()
        await v.until(f"{QUEUE} === 1")
        assert await v.run("PrivacyConsent.get()") == {"functional": True, "analytics": False, "tracking": False}
        assert (await site.history_of_browser(await v.browser_id()))["records"] == []
        await v.context.set_offline(False)
        await v.until(f"{QUEUE} === 0", within=20)
        records = await records_of(site, await v.browser_id(), 2)
        await v.page.wait_for_timeout(2500)  # a second delivery would show by now
        assert len((await site.history_of_browser(await v.browser_id()))["records"]) == 2 == len(records)
        assert v.errors == []


@pytest.mark.parametrize("status", [429, 503])
async def test_a_failing_api_still_applies_the_choice_and_retries(chromium: Any, site: Site, status: int) -> None:
    async with visitor(chromium) as v:
        failed: list[int] = []

        async def once(route: Any) -> None:
            if not failed:
                failed.append(status)
                headers = {"access-control-allow-origin": site.url, "retry-after": "1"}
                await route.fulfill(status=status, headers=headers, json={"detail": "try later"})
            else:
                await route.continue_()

        await v.page.route(f"{site.consent_url}/v1/cookies", once)
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles accepteren").click()
        await v.until("window.demoRan?.tracking === 1")  # applied locally at once
        await v.until(f"{QUEUE} === 0", within=20)
        assert failed == [status]
        records = await records_of(site, await v.browser_id(), 2)
        assert states(records)["analytics_cookies"] == "granted" and len(records) == 2
        assert v.errors == []


async def test_a_bad_site_key_or_origin_shows_no_banner_and_warns_once(chromium: Any, site: Site) -> None:
    db = site.consent_app.state.runtime.db
    revoked = await create_site_key(db, "old shop", [site.url])
    await revoke_site_key(db, revoked)
    elsewhere = await create_site_key(db, "other shop", ["https://elders.example.nl"])
    body = '<p id="content">Gewone inhoud</p><form data-consent-purposes="newsletter"><button>Ok</button></form>'
    for name, key in (("unknown", "sk_unknown_key_123"), ("revoked", revoked), ("origin", elsewhere)):
        async with visitor(chromium) as v:
            await v.page.goto(site.page(name, body, key=key))
            await v.until("window.PrivacyConsent")
            await v.run("PrivacyConsent.ready")
            assert await v.page.locator(".pc-b").count() == 0, name
            assert await v.page.locator("#content").is_visible()
            assert await v.page.locator("form input[type=checkbox]").count() == 0
            ours = [w for w in v.warnings if w.startswith("[consent.js]")]
            assert len(ours) == 1 and "refused" in ours[0], (name, v.warnings)
            assert v.errors == [], name


async def test_unknown_purposes_in_a_form_are_named_in_a_warning(chromium: Any, site: Site) -> None:
    form = (
        '<form data-consent-purposes="newsletter nonsense, other_thing"><label for="e">E-mail</label>'
        '<input id="e" type="email" name="email"><button>Aanmelden</button></form>'
    )
    async with visitor(chromium) as v:
        await v.page.goto(site.page("purposes", form))
        await v.run("PrivacyConsent.ready")
        assert await v.page.locator("form input[type=checkbox]").count() == 1
        ours = [w for w in v.warnings if w.startswith("[consent.js]")]
        assert len(ours) == 1 and "nonsense, other_thing" in ours[0]
        assert v.errors == []


async def test_a_later_page_shows_the_kept_notice_at_once_and_the_server_still_decides(
    chromium: Any, site: Site
) -> None:
    async with visitor(chromium) as v:
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for()
        await v.until("localStorage.getItem('privacyconsent.notice.nl')")

        async def slow(route: Any) -> None:
            await asyncio.sleep(1.5)
            with contextlib.suppress(Exception):  # the page may have moved on meanwhile
                await route.continue_()

        await v.page.route(f"{site.consent_url}/v1/banner*", slow)
        await v.page.goto(site.url + "/")
        started = asyncio.get_running_loop().time()
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for()
        assert asyncio.get_running_loop().time() - started < 1.0, "shown before the server answered"

        # the site key revoked since: the server's refusal takes the banner away again
        await revoke_site_key(site.consent_app.state.runtime.db, site.key)
        await asyncio.sleep(5.5)  # the service's credential cache
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for()
        await v.page.get_by_role("dialog", name="Cookies op deze site").wait_for(state="detached", timeout=5000)
        assert any("refused" in w for w in v.warnings)


async def test_the_information_page_in_a_browser(chromium: Any, site: Site) -> None:
    """/privacy/notice, where every form's consent box leads: no accessibility violation at either width, in
    words (no ids, no True/False), and every link reachable by keyboard alone."""
    from tests.browser.conftest import axe

    async with visitor(chromium, bypass_csp=True) as v:  # only so that axe-core's script can be added
        for width, lang in ((1280, "nl"), (360, "en")):
            await v.page.set_viewport_size({"width": width, "height": 800})
            await v.page.goto(f"{site.consent_url}/privacy/notice?lang={lang}")
            assert not await axe(v.page), (width, lang)
            text = await v.page.inner_text("main")
            assert not any(raw in text for raw in ("True", "False", "None", "legal_obligation", "_cookies"))
        links = await v.page.locator("main a").count()
        reached = set()
        for _ in range(links + 5):
            await v.page.keyboard.press("Tab")
            reached.add(await v.run("document.activeElement.getAttribute('href')"))
        assert "/privacy?lang=en" in reached and "/privacy/notice?lang=nl" in reached
        assert v.errors == []


async def test_the_google_analytics_client_id_is_sent_once_after_analytics_is_granted(
    chromium: Any, site: Site
) -> None:
    """Issue 32: Google Analytics erases only by its client id. Once analytics is granted and GA's tag set the
    `_ga` cookie (the demo's stand-in sets it as Google's does), consent.js sends the id once; it is kept sealed
    for the browser. A refusal sends nothing, and a later page view does not send it again."""
    from sqlalchemy import text

    async def kept() -> int:
        async with site.consent_app.state.runtime.db.read() as s:
            return int((await s.execute(text("SELECT count(*) FROM analytics_ids"))).scalar_one())

    async with visitor(chromium) as v:
        sent: list[str] = []
        v.page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/v1/analytics-ids") else None)
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles weigeren", exact=True).click()
        await v.page.reload()
        await v.until("window.PrivacyConsent && PrivacyConsent.get().functional")
        await asyncio.sleep(3.5)
        assert sent == [] and await v.run("document.cookie.includes('_ga=')") is False

    async with visitor(chromium) as v:
        sent = []
        v.page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/v1/analytics-ids") else None)
        await v.page.goto(site.url + "/")
        await v.page.get_by_role("button", name="Alles accepteren").click()
        client_id = await v.until("JSON.parse(localStorage.getItem('privacyconsent.ga'))", within=15)
        cookie = await v.run("document.cookie.match(/_ga=GA1\\.1\\.([0-9.]+)/)[1]")
        assert client_id == cookie and len(sent) == 1
        assert await eventually(kept, within=10) == 1
        await v.page.reload()
        await v.until("window.PrivacyConsent && PrivacyConsent.get().analytics")
        await asyncio.sleep(3.5)
        assert len(sent) == 1 and await kept() == 1, "sent once, not on every page view"
        assert v.errors == []
