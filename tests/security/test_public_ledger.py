"""Issue 29, item 4: the public ledgers cannot be joined to a person, nor one person's entries to each
other, by anyone who does not hold that person's own receipt. The attacker holds the site key, a victim's
address and every public ledger route."""

from __future__ import annotations

import base64
import json
from typing import Any

from services.common.auth import create_site_key
from services.consent.context import ConsentContext
from tests.conftest import build_app, running
from tests.security.conftest import NOTICE, VICTIM, Site

REFUSED = {"purpose": "leads", "granted": False}


def entries(export: str) -> list[dict[str, Any]]:
    """The entries of a `GET /ledger/entries` export (a header line, then `<leaf hash> <entry>` lines)."""
    return [json.loads(line.split(" ", 1)[1]) for line in export.splitlines()[1:] if line]


def subjects_in(entry: dict[str, Any]) -> set[str]:
    """The subject values of one entry (its subject and the same person in its data blind alike)."""
    found = [entry.get("subject")] + [entry["data"].get(k) for k in ("subject", "browser")]
    return {s for s in found if s}


async def test_the_consent_ledger_names_nobody_and_joins_nothing(site: Site) -> None:
    """Before: every entry carried the person's pseudonym, and a capture's receipt (and its inclusion proof)
    gave that pseudonym to whoever sent the person's address: all their entries could then be followed."""
    await site.victim_gives("contact", "chat")
    await site.client.post(
        "/v1/consents",
        json={
            "email": VICTIM,
            "channel": "contact_form",
            "notice": NOTICE,
            "purposes": [{"purpose": "leads", "granted": False}],
        },
        headers=site.public,
    )
    cookies = {"browser_id": "b_victims_browser", "analytics": True, "tracking": False, "notice": NOTICE}
    await site.client.post("/v1/cookies", json=cookies, headers=site.public)
    r = await site.client.post(
        "/v1/consents",
        json={
            "email": VICTIM,
            "browser_id": "b_victims_browser",
            "channel": "contact_form",
            "notice": NOTICE,
            "purposes": [{"purpose": "contact", "granted": True}],
        },
        headers=site.public,
    )
    receipt = r.json()["receipt"]
    proof = (
        await site.client.get("/ledger/proof/inclusion", params={"event_id": receipt["ledger"][0]["event_id"]})
    ).json()
    own = json.loads(base64.b64decode(proof["entry"]))
    assert own["v"] == 2 and own["subject"].startswith("b_")
    export = (await site.client.get("/ledger/entries")).text
    public = json.dumps(entries(export))  # the entries as served (each export line also starts with a leaf hash)
    assert site.pseudonym() not in public, "the person's pseudonym is in no public entry"
    browser = ConsentContext.of(site.rt).browser_pseudonym("b_victims_browser")
    assert browser not in public and all(s.startswith("b_") for e in entries(export) for s in subjects_in(e))
    seen = [s for e in entries(export) for s in subjects_in(e)]
    assert len(seen) == len(set(seen)) > 6, "no two entries share a subject value: nothing joins them"
    assert own["subject"] in seen and seen.count(own["subject"]) == 1


async def test_the_dsar_ledger_names_nobody(make_settings: Any, sqlite_url: str) -> None:
    app = build_app("dsar", make_settings("dsar", sqlite_url, rate_limit_per_minute=10_000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        for kind in ("access", "erasure"):
            body = {"kind": kind, "email": VICTIM, "language": "nl"}
            assert (await client.post("/v1/requests", json=body, headers={"x-site-key": key})).status_code == 202
        export = (await client.get("/ledger/entries")).text
        public = json.dumps(entries(export))
        assert app.state.runtime.recorder.pseudonym(VICTIM) not in public
        seen = [s for e in entries(export) for s in subjects_in(e)]
        assert len(seen) == len(set(seen)) >= 2


async def test_the_proof_check_page_tells_nothing_the_public_ledger_does_not(site: Site) -> None:
    """Issue 33: "Check this proof yourself" is public, as the ledger is. For any entry number it shows the
    entry as the public ledger holds it (no address, no name, no pseudonym of the person beyond the ledger's
    own), and for a number beyond the log a readable refusal; nothing is written by looking."""
    await site.victim_gives("contact", "chat")
    export = (await site.client.get("/ledger/entries")).text
    size = len(export.splitlines()) - 1
    before = (await site.client.get("/ledger/checkpoint")).text
    for seq in range(size):
        page = await site.client.get(f"/privacy/proof/{seq}")
        assert page.status_code == 200 and VICTIM not in page.text
        assert site.pseudonym() not in page.text, "not even the person's pseudonym"
        leaf = export.splitlines()[seq + 1].split(" ", 1)[0]
        assert base64.b64encode(bytes.fromhex(leaf)).decode() in page.text, "the public entry, nothing else"
    missing = await site.client.get(f"/privacy/proof/{size + 100}", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "<html" in missing.text
    assert (await site.client.get("/ledger/checkpoint")).text == before, "looking writes nothing"
