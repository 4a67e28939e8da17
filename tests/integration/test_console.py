"""The console without a browser: every page needs a session; a service that is down spoils only the parts
that need it; the admin endpoints it reads (who am I, operations, consent per day, the breaches awaiting
the AP, the risk suggestion) answer what they say."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.common.auth import create_site_key, create_token
from services.console import charts
from services.console.main import create
from services.console.settings import ConsoleSettings
from tests.conftest import build_app, free_port, running, serve
from tests.integration.test_breach import breach_body
from tests.notices import NOTICE

PAGES = ["/", "/requests", "/requests/dsr_x", "/breaches", "/breaches/new", "/breaches/brc_x", "/people"]
PAGES += ["/processors", "/ledgers", "/ledgers/consent/export"]


def console_app(**urls: str) -> Any:
    nowhere = f"http://127.0.0.1:{free_port()}"
    return create(
        ConsoleSettings(
            session_key=base64.b64encode(os.urandom(32)).decode(),
            consent_url=urls.get("consent", nowhere),
            dsar_url=urls.get("dsar", nowhere),
            breach_url=urls.get("breach", nowhere),
        )
    )


async def test_every_page_needs_a_session_and_forms_their_csrf_token() -> None:
    async with serve(console_app()) as url, httpx.AsyncClient(base_url=url) as client:
        for path in PAGES:
            r = await client.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next="), path
        r = await client.post("/requests/dsr_x/refuse", data={"reason": "x" * 20})
        assert r.status_code == 303 and "/sign-in" in r.headers["location"], "no session: sign in first"
        page = await client.get("/sign-in")
        assert page.status_code == 200 and "content-security-policy" in page.headers
        assert page.headers["cache-control"] == "no-store"
        # every service is down: the sign-in says so instead of pretending the token is wrong
        r = await client.post("/sign-in", data={"token": "pt_anything_at_all_000"})
        assert r.status_code == 503 and "Geen van de diensten antwoordt" in r.text


async def test_a_service_that_is_down_spoils_only_its_part(make_settings: Any, sqlite_url: str) -> None:
    consent = build_app("consent", make_settings("consent", sqlite_url))
    async with serve(consent) as consent_url:
        token = await create_token(consent.state.runtime.db, "Anna", ["dpo"])
        app = console_app(consent=consent_url)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            r = await client.post("/sign-in", data={"token": token, "next": "/"})
            assert r.status_code == 303, r.text
            overview = await client.get("/")
            assert overview.status_code == 200
            text = overview.text
            assert "De dienst dsar antwoordt niet" in text and "De dienst breach antwoordt niet" in text
            assert "Toestemming per doel per dag" in text and "De dienst consent antwoordt niet" not in text
            requests = await client.get("/requests")
            assert requests.status_code == 200 and "dsar antwoordt niet" in requests.text
            processors = await client.get("/processors")
            assert processors.status_code == 200 and "Verwerkersovereenkomst" in processors.text
            breach = await client.get("/breaches")
            assert breach.status_code == 503 and "breach antwoordt niet" in breach.text


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url, rate_limit_per_minute=10_000))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        token = await create_token(app.state.runtime.db, "Anna", ["dpo"])
        client.headers["authorization"] = f"Bearer {token}"
        yield app, client, key


async def test_consent_per_purpose_per_day_tells_withdrawals_and_gpc_apart(consent: Any) -> None:
    _app, client, key = consent
    site = {"x-site-key": key}
    for i, gpc in enumerate([False, False, True]):
        body = {"browser_id": f"b_console{i:06d}", "channel": "contact_form", "notice": NOTICE}
        body["purposes"] = [{"purpose": "contact", "granted": True}]
        headers = {**site, "sec-gpc": "1"} if gpc else site
        r = await client.post("/v1/consents", json=body, headers=headers)
        assert r.status_code == 201, r.text
    await client.post("/v1/withdrawals", json={"browser_id": "b_console000000", "purposes": ["contact"]}, headers=site)
    cookie = {"browser_id": "b" * 12, "analytics": True, "tracking": True, "notice": NOTICE, "gpc": True}
    assert (await client.post("/v1/cookies", json=cookie, headers={**site, "sec-gpc": "1"})).status_code == 201
    stats = (await client.get("/admin/stats/consents", params={"days": 7})).json()
    today = datetime.now(UTC).date().isoformat()
    rows = {(r["day"], r["purpose"]): r for r in stats["rows"]}
    contact = rows[(today, "contact")]
    assert contact["withdrawn"] == 1 and contact["granted"] >= 2, contact
    tracking = rows[(today, "tracking_cookies")]
    assert tracking["refused_gpc"] == 1 and tracking["granted"] == 0, tracking
    assert stats["first"] <= today == stats["last"] and "contact" in stats["purposes"]
    drawn = charts.consent_charts(stats)
    names = [c.purpose for c in drawn]
    assert "contact" in names and "tracking_cookies" in names
    chart = next(c for c in drawn if c.purpose == "tracking_cookies")
    assert {b.kind for b in chart.bars} >= {"refused_gpc"} and chart.totals["refused_gpc"] == 1
    assert (await client.get("/admin/stats/consents", params={"days": 0})).status_code == 422
    me = (await client.get("/admin/me")).json()
    assert me == {"name": "Anna", "scopes": ["dpo"]}
    ops = (await client.get("/admin/operations")).json()
    assert ops["service"] == "consent" and ops["ledger"]["size"] >= 6 and set(ops["mail"]) >= {"sent", "bounced"}


async def test_breaches_awaiting_the_ap_and_the_suggestion(make_settings: Any, db_url: str) -> None:
    app = build_app("breach", make_settings("breach", db_url))
    async with running(app) as client:
        token = await create_token(app.state.runtime.db, "Anna", ["dpo"])
        client.headers["authorization"] = f"Bearer {token}"
        first = (await client.post("/admin/breaches", json=breach_body())).json()
        second = (await client.post("/admin/breaches", json=breach_body(title="Tweede lek"))).json()
        note = (await client.post(f"/admin/breaches/{second['id']}/ap-notifications", json={"phase": "initial"})).json()
        path = f"/admin/breaches/{second['id']}/ap-notifications/{note['id']}/submission"
        assert (await client.post(path, json={"ap_reference": "AP-1"})).status_code == 200
        waiting = (await client.get("/admin/breaches", params={"awaiting_ap": "true"})).json()
        assert [b["id"] for b in waiting] == [first["id"]] and waiting[0]["hours_left"] is not None
        done = (await client.get("/admin/breaches", params={"awaiting_ap": "false"})).json()
        assert [b["id"] for b in done] == [second["id"]] and done[0]["notifications"][0]["ap_reference"] == "AP-1"
        assert len((await client.get("/admin/breaches")).json()) == 2
        factors = {
            "breach_type": "confidentiality",
            "sensitivity": "high",
            "volume": "high",
            "ease_of_identification": "high",
            "severity": "high",
            "people": 5000,
        }
        suggested = (await client.post("/admin/risk-suggestion", json=factors)).json()
        assert suggested["suggestion"] == "high" and suggested["required"]["subject_notification"] is True
        assert len((await client.get("/admin/breaches")).json()) == 2, "a suggestion records nothing"


def test_the_chart_draws_every_kind_below_or_above_the_line() -> None:
    stats = {
        "first": "2026-11-30",
        "last": "2026-12-01",
        "purposes": {"leads": {"nl": "Leads", "en": "Leads"}, "chat": {"nl": "Chat", "en": "Chat"}},
        "rows": [
            {"day": "2026-11-30", "purpose": "leads", "granted": 4, "withdrawn": 1, "refused": 0, "refused_gpc": 2},
            {"day": "2026-12-01", "purpose": "leads", "granted": 0, "withdrawn": 0, "refused": 3, "refused_gpc": 0},
        ],
    }
    [chart] = charts.consent_charts(stats)  # chat had nothing: no chart
    assert chart.totals == {"granted": 4, "withdrawn": 1, "refused_gpc": 2, "refused": 3}
    up = [b for b in chart.bars if b.kind == "granted"]
    down = [b for b in chart.bars if b.kind != "granted"]
    assert all(b.y + b.height <= chart.baseline + 0.01 for b in up)
    assert all(b.y >= chart.baseline - 0.01 for b in down)
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.kind == "granted" and tallest.height == pytest.approx(chart.height / 2 - 4)


async def test_what_an_action_did_is_said_in_words(make_settings: Any, sqlite_url: str) -> None:
    """After an action the page says what was done in a sentence, naming the processor rather than its id;
    a `?done=` no action gives (an id, markup) shows nothing."""
    import re

    consent = build_app("consent", make_settings("consent", sqlite_url))
    async with serve(consent) as consent_url:
        token = await create_token(consent.state.runtime.db, "Anna", ["dpo"])
        async with serve(console_app(consent=consent_url)) as url, httpx.AsyncClient(base_url=url) as client:
            await client.post("/sign-in", data={"token": token, "next": "/"})
            page = (await client.get("/processors")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            action = re.search(r'action="(/processors/[^"]+)"', page)
            assert csrf and action
            r = await client.post(action.group(1), data={"csrf": csrf.group(1), "agreement": "signed"})
            assert r.status_code == 303
            saved = (await client.get(r.headers["location"])).text
            assert "Opgeslagen: de verwerkersovereenkomst met ActiveCampaign." in saved
            assert 'role="status"' not in (await client.get("/processors?done=%3Cb%3Eraw%3C%2Fb%3E")).text


async def test_the_processors_connectors_and_a_requests_part_at_them(
    make_settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 32 item 8: the processors page shows each connector's standing; a page per connector lists its open
    tasks; a request's page shows each processor's outcome and lets a dpo close an instructed task with its
    evidence."""
    import re

    from services.common.contracts import DataSubjectRequestStarted, RequestKind, seal_fragment
    from services.processors import service as processors_service
    from services.processors.context import ProcessorsContext

    monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", f"http://127.0.0.1:{free_port()}")  # down
    apps = {
        name: build_app(name, make_settings(name, f"sqlite+aiosqlite:///{tmp_path}/{name}.db", consumers_enabled=False))
        for name in ("consent", "dsar", "processors")
    }
    token = "pt_console_processors_test_token_0001"
    consent, dsar, processors = (serve(apps[name]) for name in ("consent", "dsar", "processors"))
    async with consent as consent_url, dsar as dsar_url, processors as processors_url:
        for app in apps.values():
            await create_token(app.state.runtime.db, "Anna", ["dpo", "admin"], token=token)
        staff = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=dsar_url, headers=staff) as dsar:
            body = {"kind": "erasure", "email": "p@example.nl", "channel": "email", "identity_verified": True}
            request_id = (await dsar.post("/admin/requests", json=body)).json()["id"]
        rt = apps["processors"].state.runtime
        ctx = ProcessorsContext.of(rt)
        started = DataSubjectRequestStarted(
            request_id=request_id,
            kind=RequestKind.ERASURE,
            subject=rt.recorder.pseudonym("p@example.nl"),
            deadline="2027-01-05T00:00:00Z",
            contact=seal_fragment(rt.sealing, request_id, {"email": "p@example.nl"}),
        )
        async with rt.db.transaction() as s:
            await processors_service.open_request(ctx, s, started)
        app = create(
            ConsoleSettings(
                session_key=base64.b64encode(os.urandom(32)).decode(),
                consent_url=consent_url,
                dsar_url=dsar_url,
                breach_url=f"http://127.0.0.1:{free_port()}",
                processors_url=processors_url,
            )
        )
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            await client.post("/sign-in", data={"token": token, "next": "/"})
            listing = (await client.get("/processors")).text
            assert 'href="/processors/connectors/activecampaign"' in listing and "via de API" in listing
            assert "nog geen koppeling" not in listing, "every processor of statement Art. 8 has a connector"
            assert 'href="/processors/connectors/googleanalytics"' in listing and "later uitgevoerd" in listing
            drive = await client.get("/processors/connectors/googledrive")
            assert drive.status_code == 200 and request_id in drive.text and "opdracht gemaild" in drive.text
            page = (await client.get(f"/requests/{request_id}")).text
            assert "Bij de verwerkers" in page and "Digitale Factuur" in page and "AWR art. 52" in page
            form = re.search(rf'action="(/requests/{request_id}/processor-tasks/[^"]+)"', page)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert form and csrf, "an instructed task has a form to close it"
            done = await client.post(
                form.group(1), data={"csrf": csrf.group(1), "outcome": "nothing_held", "evidence": "replied: none"}
            )
            assert done.status_code == 303
            after = (await client.get(done.headers["location"])).text
            assert "De taak bij deze verwerker is afgesloten" in after
            empty = await client.post(form.group(1), data={"csrf": csrf.group(1), "outcome": "refused", "evidence": ""})
            assert empty.status_code in (410, 422), "closed already, and a refusal needs its reason"
            unknown = await client.get("/processors/connectors/nope")
            assert unknown.status_code == 404
