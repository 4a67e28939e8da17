"""GDPR 21(1): an objection to a processing on legitimate interest is weighed by a person and recorded. Upheld,
that processing stops for the person (published as withdrawn, with the reason in words); not upheld, the
person is told the compelling grounds, and that they may complain to the AP or go to court. Only a purpose on
legitimate interest is weighed; only staff weigh."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from services.common.auth import create_token
from tests.conftest import build_app, eventually, running


@pytest.fixture
async def consent(make_settings: Any, db_url: str, smtp: Any) -> Any:
    settings = make_settings("consent", db_url, mail_enabled=True, smtp_port=smtp.port)
    app = build_app("consent", settings)
    async with running(app) as client:
        dpo = await create_token(app.state.runtime.db, "Anna (FG)", ["dpo"])
        crm = await create_token(app.state.runtime.db, "crm", ["lookup"])
        yield app, client, {"authorization": f"Bearer {dpo}"}, {"authorization": f"Bearer {crm}"}, smtp


def body(smtp: Any, to: str) -> str:
    return str(smtp.to(to)[-1].get_body(preferencelist=("plain",)).get_content())


async def test_an_objection_is_weighed_by_a_person_and_the_person_is_told(consent: Any) -> None:
    app, client, dpo, _crm, smtp = consent
    upheld = {
        "email": "anna@example.nl",
        "purpose": "functional_cookies",
        "upheld": True,
        "grounds": "Je gebruikt alleen pagina's waarvoor deze cookies niet nodig zijn.",
    }
    r = await client.post("/admin/subjects/objection/weigh", json=upheld, headers=dpo)
    assert r.status_code == 200 and r.json() == {"upheld": True, "changed": True, "person_told": True}, r.text
    history = (await client.post("/admin/subjects/history", json={"email": "anna@example.nl"}, headers=dpo)).json()
    assert history["states"] == {"functional_cookies": "withdrawn"}
    assert history["records"][-1]["reason"] == "objection upheld (GDPR 21(1))"
    await eventually(lambda: smtp.to("anna@example.nl"), within=20)
    told = body(smtp, "anna@example.nl")
    assert "We wijzen je bezwaar toe: we zijn met dit gebruik van je gegevens gestopt." in told
    assert "Autoriteit Persoonsgegevens" in told and "naar de rechter" in told

    overridden = {
        "email": "bert@example.nl",
        "purpose": "functional_cookies",
        "upheld": False,
        "grounds": "Zonder deze cookies werkt het inloggen en de beveiliging van de site niet.",
        "language": "en",
    }
    r = await client.post("/admin/subjects/objection/weigh", json=overridden, headers=dpo)
    assert r.status_code == 200 and r.json()["changed"] is False
    history = (await client.post("/admin/subjects/history", json={"email": "bert@example.nl"}, headers=dpo)).json()
    assert history["states"] == {}, "nothing changes when compelling grounds override the objection"
    await eventually(lambda: smtp.to("bert@example.nl"), within=20)
    told = body(smtp, "bert@example.nl")
    assert "We do not uphold it: we have compelling legitimate grounds" in told
    assert "Zonder deze cookies werkt het inloggen" in told and "go to court" in told

    async with app.state.runtime.db.read() as s:
        raw = (await s.execute(text("SELECT entry FROM ledger_entries"))).scalars().all()
    entries = [e if isinstance(e, str) else bytes(e).decode() for e in raw]
    weighed = [json.loads(e) for e in entries if "consent.objection.weighed" in e]
    assert [(w["data"]["purpose"], w["data"]["upheld"]) for w in weighed] == [
        ("functional_cookies", True),
        ("functional_cookies", False),
    ]
    assert not any("Zonder deze cookies" in e for e in entries), "the grounds are sealed, not in the log"


async def test_only_legitimate_interest_is_weighed_and_only_by_staff(consent: Any) -> None:
    _app, client, dpo, crm, _smtp = consent
    wrong = {"email": "c@example.nl", "purpose": "newsletter", "upheld": True, "grounds": "direct marketing"}
    r = await client.post("/admin/subjects/objection/weigh", json=wrong, headers=dpo)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "purpose"]
    assert "does not rest on legitimate interest" in r.text
    legal = {**wrong, "purpose": "invoicing"}
    assert (await client.post("/admin/subjects/objection/weigh", json=legal, headers=dpo)).status_code == 422
    short = {**wrong, "purpose": "functional_cookies", "grounds": "x"}
    assert (await client.post("/admin/subjects/objection/weigh", json=short, headers=dpo)).status_code == 422
    ok = {**wrong, "purpose": "functional_cookies"}
    assert (await client.post("/admin/subjects/objection/weigh", json=ok)).status_code == 401
    assert (await client.post("/admin/subjects/objection/weigh", json=ok, headers=crm)).status_code == 403
