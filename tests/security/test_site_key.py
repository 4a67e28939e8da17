"""Issue 29, items 1-3, 7, 8: what the public site key opens. Each attack holds the key and a victim's
address, nothing else."""

from __future__ import annotations

import json
from typing import Any

from tests.security.conftest import NOTICE, PSEUDONYM, VICTIM, Site, without_ids

STRANGER = "nobody-here@example.nl"


def capture(email: str, *choices: tuple[str, bool], **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "channel": "contact_form",
        "notice": NOTICE,
        "purposes": [{"purpose": p, "granted": g, **extra} for p, g in choices],
    }


async def test_a_capture_answer_opens_no_history_and_names_no_pseudonym(site: Site) -> None:
    """Item 1: a capture with the victim's address answered with a link to their whole history and evidence."""
    await site.victim_gives("contact", "chat")
    r = await site.client.post("/v1/consents", json=capture(VICTIM, ("chat", False)), headers=site.public)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["history_url"] is None and "historyUrl" not in out["receipt"]
    assert site.pseudonym() not in r.text and not PSEUDONYM.search(r.text), "no pseudonym in the answer"
    assert out["receipt"]["piiPrincipalId"] == VICTIM, "the person named by what the caller sent"
    assert set(out["states"]) == {"chat"}, "no state of a purpose the caller did not send"
    cookies = {"browser_id": "b_attacker0001", "analytics": True, "tracking": False, "notice": NOTICE}
    r = await site.client.post("/v1/cookies", json=cookies, headers=site.public)
    assert r.status_code == 201 and r.json()["history_url"] is None and not PSEUDONYM.search(r.text)


async def test_a_refusal_by_address_changes_nothing_and_answers_as_for_a_stranger(site: Site) -> None:
    """Item 2 (through /v1/consents): refusing what the victim gave withdrew it, and said so."""
    await site.victim_gives("contact")
    victim = await site.client.post("/v1/consents", json=capture(VICTIM, ("contact", False)), headers=site.public)
    stranger = await site.client.post("/v1/consents", json=capture(STRANGER, ("contact", False)), headers=site.public)
    assert victim.status_code == stranger.status_code == 201
    told = [
        without_ids(json.loads(r.text.replace(who, "<sent>"))) for r, who in ((victim, VICTIM), (stranger, STRANGER))
    ]
    assert told[0] == told[1], "the answer does not tell a known address from an unknown one"
    assert (await site.states())["contact"] == "granted", "the victim's consent stands"
    assert await site.mails("withdrawal-confirmation") == [site.pseudonym()], "the victim is asked, by mail"


async def test_a_withdrawal_by_address_answers_the_same_and_waits_for_the_person(site: Site) -> None:
    """Item 2: /v1/withdrawals withdrew anyone's consent and answered their states ({} for a stranger)."""
    await site.victim_gives("contact", "leads")
    answers = []
    for who in (VICTIM, STRANGER):
        for purposes in (["contact"], ["functional_cookies"]):
            r = await site.client.post(
                "/v1/withdrawals", json={"email": who, "purposes": purposes}, headers=site.public
            )
            assert r.status_code == 200, r.text
            answers.append(r.json())
    assert all(a == answers[0] for a in answers), answers
    assert answers[0] == {"withdrawn": [], "ledger": [], "confirmation_mailed": True}
    assert await site.states() == {"contact": "granted", "leads": "granted"}
    # the one-click link in the victim's mail withdraws at once (withdrawing stays as easy as giving)
    from services.consent.context import ConsentContext
    from services.consent.decisions import unsubscribe_link

    ctx = ConsentContext.of(site.rt)
    link = unsubscribe_link(ctx, site.pseudonym(), ["contact"]).replace(site.rt.settings.public_base_url, "")
    assert (await site.client.post(link)).status_code == 200
    assert (await site.states())["contact"] == "withdrawn"


async def test_a_minor_report_destroys_nothing(site: Site) -> None:
    """Item 3: a report crypto-shredded the victim at once and answered "erased"."""
    await site.victim_gives("contact", "invoicing")
    for who in (VICTIM, STRANGER):
        r = await site.client.post("/v1/minor-reports", json={"email": who}, headers=site.public)
        assert r.status_code == 202 and r.json()["status"] == "received", r.text
    history = await site.history()
    assert all(isinstance(rec["evidence"], dict) for rec in history["records"]), "no key was destroyed"
    assert history["states"] == {"contact": "restricted", "invoicing": "restricted"}, "kept, not used"


async def test_a_grant_that_leads_to_contact_or_sharing_waits_for_the_person(site: Site) -> None:
    """Item 8: a public capture gave `leads` or sharing with any third party for any address."""
    sharing = {"purpose": "third_party_sharing", "granted": True, "third_party": "Evil Data Brokers"}
    body = capture(VICTIM, ("leads", True))
    body["purposes"].append(sharing)
    r = await site.client.post("/v1/consents", json=body, headers=site.public)
    assert r.status_code == 201 and r.json()["confirmation"] == "newsletter", r.text
    states = await site.states()
    assert states == {"leads": "pending_confirmation", "third_party_sharing:Evil Data Brokers": "pending_confirmation"}
    assert "granted" not in states.values()


async def test_public_calls_cannot_flood_a_mailbox(site: Site) -> None:
    """Item 7: eight newsletter captures gave eight mails within seconds; the answers stay the same."""
    await site.victim_gives("contact")
    answers = set()
    for _ in range(8):
        r = await site.client.post("/v1/consents", json=capture(VICTIM, ("newsletter", True)), headers=site.public)
        answers.add(json.dumps(without_ids(r.json()), sort_keys=True))
    assert len(answers) == 1, "the answer does not tell when the cap is reached"
    assert len(await site.mails("newsletter-confirmation")) == 3, "at most CONSENT_PUBLIC_MAILS_PER_HOUR an hour"
    for _ in range(5):
        await site.client.post("/v1/withdrawals", json={"email": VICTIM, "all": True}, headers=site.public)
    assert len(await site.mails("withdrawal-confirmation")) == 0, "the hour's cap is shared by every public mail"
    site.app.state.runtime.extension.mail_caps.buckets.clear()  # an hour later
    await site.client.post("/v1/withdrawals", json={"email": VICTIM, "all": True}, headers=site.public)
    assert len(await site.mails("withdrawal-confirmation")) == 1


async def test_an_analytics_id_tells_nothing_floods_nothing_and_reaches_only_the_callers_own_browser(
    site: Site,
) -> None:
    """Issue 32: the `_ga` client id route. With the site key an attacker learns nothing from the answer (a
    browser that consented or not, an id seen before or not), cannot grow what is kept without bound, and what
    they attach is kept under their own browser only: it reaches an erasure only when they link that browser to
    an address they can sign in with, that is, their own."""
    from sqlalchemy import text

    from services.consent.analytics_ids import PER_BROWSER

    own = "b_attacker0002"
    cookies = {"browser_id": own, "analytics": True, "tracking": False, "notice": NOTICE}
    answers = []
    for browser in ("b_neverseen001", own):
        for _ in range(2):
            body = {"browser_id": browser, "client_id": "1234567890.1733400000"}
            answers.append((await site.client.post("/v1/analytics-ids", json=body, headers=site.public)).json())
        if browser == "b_neverseen001":
            assert (await site.client.post("/v1/cookies", json=cookies, headers=site.public)).status_code == 201
    assert all(a == answers[0] for a in answers) and not PSEUDONYM.search(json.dumps(answers))
    for i in range(PER_BROWSER * 3):
        body = {"browser_id": own, "client_id": f"{i}.1733400000"}
        assert (await site.client.post("/v1/analytics-ids", json=body, headers=site.public)).status_code == 202
    async with site.rt.db.read() as s:
        rows = (await s.execute(text("SELECT subject, count(*) FROM analytics_ids GROUP BY subject"))).all()
    from services.consent.context import ConsentContext

    assert rows == [(ConsentContext.of(site.rt).browser_pseudonym(own), PER_BROWSER)], "capped, and only its own"
