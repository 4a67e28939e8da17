"""GDPR 30: the record of processing activities, served to the dpo scope as JSON (valid against its
schema) and as a printable page, versioned in the consent ledger whenever it changes, and as it stood
on a past date; a purposes file that cannot make a register stops the service at start."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from sqlalchemy import update

from services.common.auth import create_token
from services.consent import register
from services.consent.domain import CatalogueError, catalogue_from
from services.consent.models import RegisterVersion
from tests.conftest import ROOT, build_app, running

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CONFIG = ROOT / "services" / "consent" / "purposes.json"
SCHEMA = json.loads((ROOT / "schemas" / "processing-activities.schema.json").read_text())


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url))
    async with running(app) as client:
        token = await create_token(app.state.runtime.db, "dpo desk", ["dpo"])
        client.headers["authorization"] = f"Bearer {token}"
        yield app, client


async def test_the_register_has_every_article_30_field_and_proves_its_version(consent: Any) -> None:
    _, client = consent
    r = await client.get("/admin/processing-activities")
    assert r.status_code == 200, r.text
    reg = r.json()
    jsonschema.validate(reg, SCHEMA)
    assert reg["version"] == 1 and reg["controller"]["name"] == "Je zaak voor Elkaar B.V."
    records = {x["purpose_id"]: x for x in reg["records"]}
    assert len(records) == 14 and records["invoicing"]["legal_basis"] == "GDPR 6(1)(c) legal obligation"
    # recipients that are no processor: the tax authority, and the ad platforms tracking cookies reach
    assert {"name": "Belastingdienst", "role": "recipient"} in records["invoicing"]["recipients"]
    tracking = [x["name"] for x in records["tracking_cookies"]["recipients"]]
    assert "Meta Platforms Ireland" in tracking and "Google Ireland" in tracking
    # the product's own processing: requests, breaches, sign-ins, the evidence of consent
    own = {k for k, x in records.items() if x.get("own")}
    assert own == {"data_subject_requests", "breach_register", "privacy_centre_sign_in", "consent_evidence"}
    assert records["breach_register"]["recipients"] == [{"name": "Autoriteit Persoonsgegevens", "role": "recipient"}]
    assert records["data_subject_requests"]["retention"]["words"]["en"].startswith("Not yet limited by the product")
    newsletter = records["newsletter"]
    assert newsletter["data_subjects"] == ["abonnees van de nieuwsbrief"]
    assert newsletter["retention"] == {"days": 730, "standing_until_withdrawn": True}
    assert [x["name"] for x in newsletter["recipients"]] == ["ActiveCampaign", "Zapier"]
    assert {"recipient": "ActiveCampaign", "country": "US", "safeguard": "EU-US Data Privacy Framework"} in newsletter[
        "transfers_outside_eea"
    ]
    assert records["third_party_sharing"]["recipients"][-1]["role"] == "third party by consent"
    assert "Zapier" in reg["processors_without_signed_agreement"], "no agreement signed yet: flagged"
    assert reg["security_measures"]

    # the ledger holds its SHA-256; the SHA-256 is of the content as served
    content = {k: v for k, v in reg.items() if k not in ("version", "recorded_at", "sha256", "ledger")}
    assert reg["sha256"] == register.digest(content)
    entries = [
        json.loads(line.split(" ", 1)[1]) for line in (await client.get("/ledger/entries")).text.splitlines()[1:]
    ]
    versioned = [e for e in entries if e["type"] == "nl.jzve.privacy.consent.register.versioned"]
    assert [(e["data"]["version"], e["data"]["sha256"]) for e in versioned] == [(1, reg["sha256"])]
    assert versioned[0]["seq"] == reg["ledger"]["seq"]
    assert (await client.get("/admin/processing-activities")).json()["version"] == 1, "unchanged: no new version"


async def test_a_signed_agreement_makes_a_new_version_and_the_old_one_stays_servable(consent: Any) -> None:
    app, client = consent
    first = (await client.get("/admin/processing-activities")).json()
    # the first version, as if recorded two days ago
    async with app.state.runtime.db.transaction() as s:
        await s.execute(update(RegisterVersion).values(recorded_at=datetime.now(UTC) - timedelta(days=2)))
    processors = (await client.get("/admin/processors")).json()
    zapier = next(p for p in processors if p["name"] == "Zapier")
    r = await client.put(f"/admin/processors/{zapier['id']}", json={"agreement": "signed"})
    assert r.status_code == 200
    now = (await client.get("/admin/processing-activities")).json()
    assert now["version"] == 2 and now["sha256"] != first["sha256"]
    assert "Zapier" not in now["processors_without_signed_agreement"]

    # the day as the register's dates are read: in Europe/Amsterdam (a UTC date is a day off around midnight)
    day = (datetime.now(AMSTERDAM) - timedelta(days=2)).date().isoformat()
    then = (await client.get("/admin/processing-activities", params={"at": day})).json()
    assert then["version"] == 1 and then["sha256"] == first["sha256"]
    assert "Zapier" in then["processors_without_signed_agreement"]
    earlier = (datetime.now(AMSTERDAM) - timedelta(days=30)).date().isoformat()
    missing = await client.get("/admin/processing-activities", params={"at": earlier})
    assert missing.status_code == 404 and earlier in missing.json()["detail"]
    assert (await client.get("/admin/processing-activities", params={"at": "gisteren"})).status_code == 422


async def test_the_printable_page_and_who_may_see_it(consent: Any) -> None:
    app, client = consent
    r = await client.get("/admin/processing-activities", headers={"accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Register van verwerkingsactiviteiten" in r.text and "Periodieke waardevolle informatie" in r.text
    assert "EU-US Data Privacy Framework" in r.text and "(niet getekend)" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-content-type-options"] == "nosniff"
    css = await client.get("/assets/privacy.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    as_html = await client.get("/admin/processing-activities", params={"format": "html"})
    assert as_html.headers["content-type"].startswith("text/html") and "<table>" in as_html.text
    as_json = await client.get(
        "/admin/processing-activities", params={"format": "json"}, headers={"accept": "text/html"}
    )
    assert as_json.json()["version"] == 1

    admin = await create_token(app.state.runtime.db, "ops", ["system"])
    denied = await client.get("/admin/processing-activities", headers={"authorization": f"Bearer {admin}"})
    assert denied.status_code == 403 and "dpo" in denied.json()["detail"]
    assert (await client.get("/admin/processing-activities", headers={"authorization": ""})).status_code == 401


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(CONFIG).read_text())
    return data


@pytest.mark.parametrize(
    "breaks, named",
    [
        (
            lambda raw: raw["purposes"][0]["processors"].append("Dropbox"),
            "'newsletter' names unknown processors: Dropbox",
        ),
        (lambda raw: raw["purposes"][1].pop("retention_days"), "'contact' has no retention_days"),
        (lambda raw: raw["purposes"][2].pop("legal_basis"), "'leads' has no legal_basis"),
        (lambda raw: raw["purposes"][3].update(legal_basis="whim"), "'invoicing': unknown legal_basis 'whim'"),
        (lambda raw: raw["processors"][0].update(safeguard=None), "'ActiveCampaign' transfers data outside the EEA"),
        # consent is no fallback basis (EDPB 05/2020): invoicing asking consent would promise what law forbids
        (
            lambda raw: raw["purposes"][3].update(requires_consent=True),
            "'invoicing' rests on legal_obligation but asks for consent",
        ),
        (lambda raw: raw["purposes"][0].update(requires_consent=False), "'newsletter' rests on consent, so it must"),
        (lambda raw: raw["purposes"][5].update(double_opt_in=True), "'support' rests on contract: double_opt_in"),
        (lambda raw: raw["purposes"][3].update(allows=["mail"]), "'invoicing': only a consent lets other systems"),
    ],
)
def test_a_purposes_file_that_cannot_make_a_register_is_refused_naming_the_entry(breaks: Any, named: str) -> None:
    raw = _raw()
    breaks(raw)
    with pytest.raises(CatalogueError) as caught:
        catalogue_from(raw)
    assert named in str(caught.value)


def test_the_service_stops_at_start_on_such_a_file(make_settings: Any, sqlite_url: str, tmp_path: Path) -> None:
    raw = _raw()
    raw["purposes"][0]["processors"].append("Dropbox")
    bad = tmp_path / "purposes.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(SystemExit) as stopped:
        build_app("consent", make_settings("consent", sqlite_url, purposes_file=str(bad)))
    assert "Dropbox" in str(stopped.value) and str(bad) in str(stopped.value)


async def test_a_changed_configuration_is_a_new_version_at_start(
    make_settings: Any, sqlite_url: str, tmp_path: Path
) -> None:
    from tests.conftest import eventually

    settings = make_settings("consent", sqlite_url)
    app = build_app("consent", settings)
    async with running(app) as client:
        token = await create_token(app.state.runtime.db, "dpo", ["dpo"])
        first = (await client.get("/admin/processing-activities", headers={"authorization": f"Bearer {token}"})).json()
    raw = _raw()
    raw["purposes"][0]["retention_days"] = 365  # the newsletter kept a year instead of two
    changed = tmp_path / "purposes.json"
    changed.write_text(json.dumps(raw))
    again = build_app("consent", settings.model_copy(update={"purposes_file": str(changed)}))
    async with running(again):

        async def recorded() -> Any:
            async with again.state.runtime.db.read() as s:
                from sqlmodel import select

                return [r.version for r in (await s.execute(select(RegisterVersion))).scalars()] == [1, 2]

        await eventually(recorded, within=10)  # by the start itself, before anyone asks
    assert first["version"] == 1
