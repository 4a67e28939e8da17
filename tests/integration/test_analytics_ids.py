"""The Google Analytics client id a browser presents (issue 32: GA erases by it alone): kept, sealed for the
browser, only when that browser consented to analytics; once per id; carried sealed to the processors under
the person once the browser is linked to them (an anonymous browser's stays in consent); gone with an erasure.
The public answer is the same whatever happened, and bad input is refused with a useful message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from services.common.auth import create_site_key
from services.common.contracts import open_fragment
from services.consent import subjects
from services.consent.context import ConsentContext
from tests.conftest import build_app, running
from tests.notices import NOTICE

ORIGIN = "https://www.jezaakvoorelkaar.nl"
BROWSER = "browser-ga-0001"
CLIENT_ID = "1234567890.1733400000"


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url, rate_limit_per_minute=1000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", [ORIGIN])
        client.headers.update({"x-site-key": key, "origin": ORIGIN, "user-agent": "Mozilla/5.0 test"})
        yield app, client


async def cookies(client: Any, analytics: bool, browser: str = BROWSER) -> None:
    body = {"browser_id": browser, "analytics": analytics, "tracking": False, "notice": NOTICE, "page": ORIGIN + "/"}
    assert (await client.post("/v1/cookies", json=body)).status_code == 201


async def carried(app: Any) -> list[dict[str, Any]]:
    """The client ids consent published for the processors: (subject, the id opened as they open it)."""
    rt = app.state.runtime
    found = []
    async with rt.db.read() as s:
        for (value,) in await s.execute(text("SELECT value FROM outbox ORDER BY id")):
            event = json.loads(value)
            if str(event.get("record_id", "")).startswith("ga_"):
                opened = open_fragment(rt.sealing, event["record_id"], event["contact"])
                found.append({"subject": event["subject"], "client_id": opened["ga_client_id"]})
    return found


async def kept(app: Any) -> int:
    async with app.state.runtime.db.read() as s:
        return int((await s.execute(text("SELECT count(*) FROM analytics_ids"))).scalar_one())


async def test_kept_only_with_an_analytics_consent_once_and_the_answer_says_nothing(consent: Any) -> None:
    app, client = consent
    ctx = ConsentContext.of(app.state.runtime)
    sent = {"browser_id": BROWSER, "client_id": CLIENT_ID}
    refused_first = await client.post("/v1/analytics-ids", json=sent)
    assert refused_first.status_code == 202 and await kept(app) == 0, "no consent to analytics: nothing kept"
    await cookies(client, analytics=False)
    assert (await client.post("/v1/analytics-ids", json=sent)).json() == refused_first.json()
    assert await kept(app) == 0
    await cookies(client, analytics=True)
    accepted = await client.post("/v1/analytics-ids", json=sent)
    assert accepted.status_code == 202 and accepted.json() == refused_first.json(), "the same answer either way"
    assert await kept(app) == 1
    assert await carried(app) == [], "an anonymous browser's id stays in consent: no one can ask to erase it"
    for _ in range(3):  # every page view presents it again
        assert (await client.post("/v1/analytics-ids", json=sent)).status_code == 202
    assert await kept(app) == 1
    async with app.state.runtime.db.read() as s:
        owner = (await s.execute(text("SELECT subject FROM analytics_ids"))).scalar_one()
    assert owner == ctx.browser_pseudonym(BROWSER)
    async with app.state.runtime.db.read() as s:
        sealed = (await s.execute(text("SELECT sealed FROM analytics_ids"))).scalar_one()
        ledger = b" ".join(bytes(r[0]) for r in await s.execute(text("SELECT entry FROM ledger_entries")))
    assert CLIENT_ID not in sealed and CLIENT_ID.encode() not in ledger, (
        "sealed for the browser; the ledger keeps a digest"
    )


async def test_a_browser_linked_later_carries_its_ids_under_the_person_and_an_erasure_takes_them(
    consent: Any,
) -> None:
    app, client = consent
    rt = app.state.runtime
    ctx = ConsentContext.of(rt)
    await cookies(client, analytics=True)
    assert (await client.post("/v1/analytics-ids", json={"browser_id": BROWSER, "client_id": CLIENT_ID})).status_code
    form = {
        "email": "linked@example.nl",
        "browser_id": BROWSER,
        "channel": "contact_form",
        "notice": NOTICE,
        "purposes": [{"purpose": "contact", "granted": True}],
    }
    assert (await client.post("/v1/consents", json=form)).status_code == 201
    person = rt.recorder.pseudonym("linked@example.nl")
    assert await carried(app) == [{"subject": person, "client_id": CLIENT_ID}], "carried once linked, as the person's"
    second = "999.1733999999"
    assert (await client.post("/v1/analytics-ids", json={"browser_id": BROWSER, "client_id": second})).status_code
    assert (await carried(app))[-1] == {"subject": person, "client_id": second}, "a linked browser: the person's"
    async with rt.db.transaction() as s:
        await subjects.erase_in(ctx, s, person, "test erasure")
    assert await kept(app) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"browser_id": BROWSER, "client_id": "GA1.1.123.456"}, "client_id"),  # the whole cookie, not the id
        ({"browser_id": BROWSER, "client_id": "1" * 30 + "." + "2" * 30}, "client_id"),  # oversized
        ({"browser_id": BROWSER, "client_id": "123.456", "email": "x@example.nl"}, "email"),  # no more than this
        ({"browser_id": "<script>", "client_id": "123.456"}, "browser_id"),
        ({"client_id": "123.456"}, "browser_id"),
    ],
)
async def test_bad_input_is_refused_and_names_the_field(consent: Any, body: dict[str, Any], field: str) -> None:
    app, client = consent
    r = await client.post("/v1/analytics-ids", json=body)
    assert r.status_code == 422 and field in r.text
    assert await kept(app) == 0


async def test_without_a_site_key_nothing_is_kept(consent: Any) -> None:
    app, client = consent
    r = await client.post(
        "/v1/analytics-ids", json={"browser_id": BROWSER, "client_id": CLIENT_ID}, headers={"x-site-key": ""}
    )
    assert r.status_code == 401 and await kept(app) == 0
