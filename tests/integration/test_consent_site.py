"""What a website embeds, over HTTP: consent.js (latest and pinned, SRI, caching, gzip), the notice the
banner is built from (site key and origin checks readable by the page), and the server's side of the
banner's rules: GPC from the page, a choice over GPC, and a refusal after a grant as a withdrawal."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from services.common.auth import create_site_key, create_token, revoke_site_key
from services.common.crypto import canonical_json
from services.consent import assets
from services.consent.context import ConsentContext
from services.consent.domain import catalogue_from, load_catalogue
from services.consent.notice import NoticeError, parse_banner, public_notice
from tests.conftest import build_app, running

ORIGIN = "https://www.jezaakvoorelkaar.nl"
CONFIG = Path(assets.__file__).parent / "purposes.json"


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url, rate_limit_per_minute=1000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"origin": ORIGIN, "user-agent": "Mozilla/5.0 test"})
        yield app, client, key


async def test_the_script_is_served_cached_gzipped_and_pinnable(consent: Any) -> None:
    _, client, _ = consent
    newest = assets.newest()
    assert newest is not None
    r = await client.get("/v1/consent.js", headers={"accept-encoding": "identity"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.content == newest.body and r.headers["cache-control"] == "public, max-age=3600, stale-while-revalidate=600"
    assert r.headers["access-control-allow-origin"] == ORIGIN  # a site key's origin: named
    anywhere = await client.get("/v1/consent.js", headers={"origin": "https://any.example"})
    assert anywhere.headers["access-control-allow-origin"] == "*", "readable for <script integrity crossorigin>"
    again = await client.get("/v1/consent.js", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    zipped = await client.get("/v1/consent.js", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == newest.body  # httpx unzips
    assert len(newest.gzipped) < 8 * 1024

    versions = (await client.get("/v1/consent-js")).json()
    assert versions["newest"] == newest.version
    pinned = versions["versions"][-1]
    r = await client.get(pinned["url"].removeprefix("http://127.0.0.1:8001"))
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert pinned["integrity"] == "sha384-" + base64.b64encode(hashlib.sha384(r.content).digest()).decode()
    assert f'integrity="{newest.integrity}"' in versions["tag"]
    missing = await client.get("/v1/consent-0.0.1.js")
    assert missing.status_code == 404 and newest.version in missing.json()["detail"]
    assert (await client.get("/v1/consent-1.0.js")).status_code == 422


async def test_the_notice_needs_the_site_key_and_its_origin_and_says_why_not(consent: Any) -> None:
    app, client, key = consent
    r = await client.get("/v1/banner", params={"site_key": key, "lang": "en"})
    assert r.status_code == 200, r.text
    notice = r.json()
    assert notice["lang"] == "en" and notice["texts"]["refuse"] == "Refuse all"
    assert [c["id"] for c in notice["categories"]] == ["functional", "analytics", "tracking"]
    assert notice["categories"][0]["required"] is True and notice["categories"][2]["gpc"] is True
    assert "Google Analytics" in notice["categories"][1]["processors"]
    # every party the tracking cookies reach is named, not only the two agencies: Meta (_fbp) and Google (ads)
    assert notice["categories"][2]["processors"] == [
        "Wendy Kerssens Social Advertising",
        "Internet Marketing Support",
        "Meta Platforms Ireland",
        "Google Ireland",
    ]
    assert notice["texts"]["processors"] == "Recipients"
    assert notice["purposes"]["newsletter"]["label"] == "Yes, I consent to: Newsletter."
    body = {k: v for k, v in notice.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert notice["hash"] == hashlib.sha256(canonical).hexdigest(), "the hash covers every word shown"
    assert r.headers["access-control-allow-origin"] == ORIGIN
    same = await client.get(
        "/v1/banner", params={"site_key": key, "lang": "en"}, headers={"if-none-match": r.headers["etag"]}
    )
    assert same.status_code == 304
    nl = (await client.get("/v1/banner", params={"site_key": key})).json()
    assert nl["texts"]["refuse"] == "Alles weigeren" and nl["hash"] != notice["hash"]
    assert (await client.get("/v1/banner", params={"site_key": key, "lang": "de"})).status_code == 422

    # refusals a page on any origin can read (so consent.js can say why it shows no banner)
    wrong = await client.get("/v1/banner", params={"site_key": key}, headers={"origin": "https://evil.example"})
    assert wrong.status_code == 403 and wrong.headers["access-control-allow-origin"] == "*"
    assert "https://evil.example" in wrong.json()["detail"]
    unknown = await client.get("/v1/banner", params={"site_key": "sk_nothing"}, headers={"origin": "https://x.nl"})
    assert unknown.status_code == 401 and unknown.headers["access-control-allow-origin"] == "*"
    await revoke_site_key(app.state.runtime.db, revoked := await create_site_key(app.state.runtime.db, "x", [ORIGIN]))
    assert (await client.get("/v1/banner", params={"site_key": revoked})).status_code == 401
    # that exception is for this path only: other refusals stay unreadable cross-origin
    other = await client.post("/v1/cookies", headers={"origin": "https://evil.example", "x-site-key": key}, json={})
    assert "access-control-allow-origin" not in other.headers


def cookies(notice: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "browser_id": "browser-0123456789",
        "analytics": True,
        "tracking": True,
        "notice": {"version": notice["version"], "hash": notice["hash"]},
        "page": ORIGIN + "/",
    }
    return body | overrides


async def test_gpc_from_the_page_a_choice_over_it_and_a_refusal_after_a_grant(consent: Any) -> None:
    app, client, key = consent
    client.headers["x-site-key"] = key
    notice = (await client.get("/v1/banner", params={"site_key": key})).json()

    r = await client.post("/v1/cookies", json=cookies(notice, gpc=True))
    assert r.status_code == 201, r.text
    assert r.json()["states"] == {
        "analytics_cookies": "granted",
        "tracking_cookies": "denied",
    }
    r = await client.post("/v1/cookies", json=cookies(notice, gpc=True, tracking_over_gpc=True))
    assert r.json()["states"]["tracking_cookies"] == "granted"
    bad = await client.post("/v1/cookies", json=cookies(notice, tracking=False, tracking_over_gpc=True))
    assert bad.status_code == 422 and "tracking_over_gpc" in bad.text

    r = await client.post("/v1/cookies", json=cookies(notice, analytics=False, tracking=False))
    assert r.json()["states"] == {
        "analytics_cookies": "withdrawn",
        "tracking_cookies": "withdrawn",
    }, "GDPR 7(3): refusing what was given is withdrawing it"
    r = await client.post("/v1/cookies", json=cookies(notice, analytics=False, tracking=False))
    assert r.json()["states"]["analytics_cookies"] == "denied", "nothing was given to withdraw"

    from services.consent import subjects
    from services.consent.context import ConsentContext

    ctx = ConsentContext.of(app.state.runtime)
    history = await subjects.history(ctx, ctx.browser_pseudonym("browser-0123456789"))
    tracking = [r for r in history["records"] if r["purpose"] == "tracking_cookies"]
    assert [(r["state"], r["reason"]) for r in tracking] == [
        ("denied", "gpc"),
        ("granted", "explicit choice over gpc"),
        ("withdrawn", None),
        ("denied", None),
    ]
    assert tracking[0]["evidence"]["gpc"] is True and tracking[2]["evidence"]["gpc"] is False


def test_the_notice_is_checked_at_start_and_its_hash_follows_its_words() -> None:
    raw = json.loads(CONFIG.read_text())
    catalogue = load_catalogue(CONFIG)
    banner = parse_banner(raw["banner"], catalogue)
    one = public_notice(banner, catalogue, lang="nl", policy_url="https://x.nl/privacy")
    raw["banner"]["texts_nl"]["accept"] = "Alles goed"
    two = public_notice(parse_banner(raw["banner"], catalogue), catalogue, lang="nl", policy_url="https://x.nl/privacy")
    assert one["hash"] != two["hash"] and one["version"] == two["version"]
    assert "{controller}" not in one["texts"]["text"] and "Je zaak voor Elkaar B.V." in one["texts"]["text"]
    assert public_notice(banner, catalogue, lang="fr", policy_url="")["lang"] == "nl"

    broken = json.loads(CONFIG.read_text())["banner"]
    broken["categories"][1]["purpose"] = "analytics"
    with pytest.raises(NoticeError, match="unknown purpose 'analytics'"):
        parse_banner(broken, catalogue)
    broken = json.loads(CONFIG.read_text())["banner"]
    broken["categories"][2]["consent_mode"] = ["ad_storage", "tcf_string"]
    with pytest.raises(NoticeError, match="tcf_string"):
        parse_banner(broken, catalogue)
    # a cookie must say who it reaches, and that one must be named to the visitor
    broken = json.loads(CONFIG.read_text())["banner"]
    del broken["categories"][2]["set_by"]["_fbp"]
    with pytest.raises(NoticeError, match=r"say who cookies \['_fbp'\] reach"):
        parse_banner(broken, catalogue)
    broken = json.loads(CONFIG.read_text())["banner"]
    broken["categories"][2]["set_by"]["_fbp"] = "TikTok"
    with pytest.raises(NoticeError, match=r"\['TikTok'\] receive its cookies but are not among the recipients"):
        parse_banner(broken, catalogue)
    no_google = json.loads(CONFIG.read_text())
    no_google["purposes"][8]["other_recipients"] = ["Meta Platforms Ireland"]
    with pytest.raises(NoticeError, match="Consent Mode signals go to Google"):
        parse_banner(no_google["banner"], catalogue_from(no_google))
    broken = json.loads(CONFIG.read_text())["banner"]
    del broken["texts_en"]["refuse"]
    with pytest.raises(NoticeError, match="refuse"):
        parse_banner(broken, catalogue)


def test_the_gzipped_copy_is_the_script() -> None:
    newest = assets.newest()
    assert newest is not None and gzip.decompress(newest.gzipped) == newest.body


async def test_the_notice_is_not_rate_limited_but_choices_are(make_settings: Any, sqlite_url: str) -> None:
    """Every page view asks for the notice: visitors behind one address (an office) must not lose the banner."""
    app = build_app("consent", make_settings("consent", sqlite_url, rate_limit_per_minute=2))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"origin": ORIGIN, "x-site-key": key})
        answers = [(await client.get("/v1/banner", params={"site_key": key})).status_code for _ in range(5)]
        assert answers == [200] * 5
        notice = (await client.get("/v1/banner", params={"site_key": key})).json()
        posted = [(await client.post("/v1/cookies", json=cookies(notice))).status_code for _ in range(3)]
        assert posted == [201, 201, 429]
        unknown = await client.get("/v1/banner", params={"site_key": "sk_unknown"}, headers={"x-site-key": ""})
        assert unknown.status_code == 401, "the key and origin are still checked"


async def test_every_notice_text_is_kept_by_its_hash_and_the_information_is_made_from_the_configuration(
    consent: Any,
) -> None:
    """GDPR 7(1): a choice names the notice's SHA-256, and the text behind it can be shown; GDPR 13/14: the
    information page says what the configuration does, and every form's consent box links to it."""
    app, client, key = consent
    notice = (await client.get("/v1/banner", params={"site_key": key, "lang": "nl"})).json()
    assert notice["notice_url"].endswith("/privacy/notice?lang=nl")
    again = await client.get("/v1/banner", params={"site_key": key, "lang": "nl"})
    assert again.json()["hash"] == notice["hash"]
    kept = await client.get(f"/v1/notices/{notice['hash']}")
    assert kept.status_code == 200 and kept.json()["notice"] == notice, "the text exactly as served"
    assert (await client.get("/v1/notices/" + "0" * 64)).status_code == 404
    assert (await client.get("/v1/notices/not-a-hash")).status_code == 422
    async with app.state.runtime.db.read() as s:
        from sqlalchemy import text

        rows = (await s.execute(text("SELECT event_type FROM ledger_entries"))).scalars().all()
    # the banner and the tests' own form text (tests/notices.py), each once however often it is served
    assert rows.count("nl.jzve.privacy.consent.notice.archived") == 2

    page = await client.get("/privacy/notice", params={"lang": "nl"})
    assert page.status_code == 200
    html = page.text
    assert "Periodieke waardevolle informatie (nieuwsbrief)" in html and "Zolang je toestemming staat" in html
    assert "Belastingdienst" in html and "De wet verplicht ons deze gegevens te bewaren" in html
    assert "buiten de EER, beschermd door EU-US Data Privacy Framework" in html
    assert "Dit is direct marketing: bezwaar maakt er altijd een eind aan." in html
    assert "Het register van datalekken bijhouden" in html and "naar de rechter" in html
    assert "SHA-256 van het verwerkingsregister" in html
    english = (await client.get("/privacy/notice", params={"lang": "en"})).text
    assert "Newsletter" in english and "As long as your consent stands" in english


async def test_a_choice_names_a_text_on_file_or_is_refused(consent: Any) -> None:
    """GDPR 7(1): a public capture naming a hash this service never served is refused, and nothing is kept of
    it; the banner's hash, or a form text staff put on file, is accepted. A staff capture (a phone call) may
    name a text not on file: it is recorded, and the history says the text is not on file."""
    app, client, key = consent
    public = {"x-site-key": key}
    made_up = {
        "email": "wie@example.nl",
        "channel": "contact_form",
        "notice": {"version": "1", "hash": "c" * 64},
        "purposes": [{"purpose": "contact", "granted": True}],
    }
    refused = await client.post("/v1/consents", json=made_up, headers=public)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "notice", "hash"]
    assert "never served a notice with this hash" in refused.json()["detail"]
    staff = {"authorization": "Bearer " + await create_token(app.state.runtime.db, "dpo", ["dpo", "admin"])}
    history = await client.post("/admin/subjects/history", json={"email": "wie@example.nl"}, headers=staff)
    assert history.json()["records"] == [], "a refused capture keeps nothing"

    # the banner's own hash, before anyone fetched the banner: it is served, so it is put on file as it is named
    sha = public_notice_hash(app)
    given = await client.post("/v1/consents", json={**made_up, "notice": {"version": "x", "hash": sha}}, headers=public)
    assert given.status_code == 201, given.text
    kept = await client.get(f"/v1/notices/{sha}")
    assert kept.status_code == 200

    # a form's own words, put on file by staff: its hash is the SHA-256 of what GET /v1/notices returns
    text = {"version": "2026-12", "lang": "en", "text": "I agree to be called back.", "labels": {"contact": "Call me"}}
    assert (await client.post("/admin/notices", json=text, headers=public)).status_code == 401, "not with a site key"
    filed = await client.post("/admin/notices", json=text, headers=staff)
    assert filed.status_code == 201, filed.text
    again = await client.post("/admin/notices", json=text, headers=staff)
    assert again.json()["sha256"] == filed.json()["sha256"], "the same text, the same hash"
    served = (await client.get(f"/v1/notices/{filed.json()['sha256']}")).json()["notice"]
    without = {k: v for k, v in served.items() if k != "hash"}
    assert hashlib.sha256(canonical_json(without)).hexdigest() == filed.json()["sha256"], "anyone can check it"
    on_form = {**made_up, "email": "formulier@example.nl", "notice": {"version": "2026-12", "hash": served["hash"]}}
    assert (await client.post("/v1/consents", json=on_form, headers=public)).status_code == 201
    too_long = {**text, "text": "x" * 20_001}
    assert (await client.post("/admin/notices", json=too_long, headers=staff)).status_code == 422

    phoned = {**made_up, "email": "gebeld@example.nl", "channel": "phone"}
    assert (await client.post("/admin/consents", json=phoned, headers=staff)).status_code == 201
    records = (await client.post("/admin/subjects/history", json={"email": "gebeld@example.nl"}, headers=staff)).json()[
        "records"
    ]
    assert [r["notice_on_file"] for r in records] == [False], "recorded, and marked: the text is not on file"
    formed = (
        await client.post("/admin/subjects/history", json={"email": "formulier@example.nl"}, headers=staff)
    ).json()["records"]
    assert [r["notice_on_file"] for r in formed] == [True]


def public_notice_hash(app: Any) -> str:
    notice = ConsentContext.of(app.state.runtime).notice("nl")
    assert notice is not None
    return str(notice["hash"])
