"""End to end over the real broker, PostgreSQL and a real SMTP server: a person with consents asks for
access, confirms by mail, reads an export holding their consent history; then asks for erasure, and
afterwards nothing readable about them is left in consent while every ledger still verifies."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from services.common.auth import create_site_key, create_token
from services.common.ledger.verify import verify_export
from tests.conftest import ROOT, eventually, system
from tests.notices import NOTICE

EMAIL = "Femke.Visser@example.nl"
BASE = "https://dsar.example.nl"


def link(message: Any, kind: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.findall(rf"{re.escape(BASE)}(/v1/{kind}/\S+)", body)[0]


async def test_access_then_erasure(kafka: str, make_settings: Any, smtp: Any) -> None:
    dsar_mail = {"mail_enabled": True, "smtp_port": smtp.port, "public_base_url": BASE}
    async with system(make_settings, ("consent", "dsar", "breach"), {"dsar": dsar_mail}) as (apps, c):
        consent_rt, dsar_rt = apps["consent"].state.runtime, apps["dsar"].state.runtime
        ckey = await create_site_key(consent_rt.db, "website", ["https://www.example.nl"])
        dkey = await create_site_key(dsar_rt.db, "website", ["https://www.example.nl"])
        for purpose, granted in (("contact", True), ("leads", False)):
            r = await c["consent"].post(
                "/v1/consents",
                headers={"x-site-key": ckey},
                json={
                    "email": EMAIL,
                    "name": "Femke",
                    "channel": "contact_form",
                    "notice": NOTICE,
                    "purposes": [{"purpose": purpose, "granted": granted}],
                    "page": "https://www.example.nl/contact",
                },
            )
            assert r.status_code == 201

        # access: request, confirm by mail, wait for every holder, follow the export link
        r = await c["dsar"].post(
            "/v1/requests",
            headers={"x-site-key": dkey},
            json={"kind": "access", "email": EMAIL.lower(), "language": "nl"},
        )
        assert r.status_code == 202
        await eventually(lambda: smtp.to(EMAIL.lower()), within=20)
        assert (await c["dsar"].post(link(smtp.to(EMAIL.lower())[0], "verify"))).status_code == 200
        await eventually(lambda: len(smtp.to(EMAIL.lower())) >= 2, within=60)
        ready = smtp.to(EMAIL.lower())[1]
        assert "klaar" in ready["Subject"]
        export_path = link(ready, "exports")
        data = (await c["dsar"].get(export_path, params={"format": "json"})).json()
        export_schema = json.loads((ROOT / "schemas" / "access-export.schema.json").read_text())
        jsonschema.validate(data, export_schema, format_checker=jsonschema.FormatChecker())
        consent_part = data["holders"]["consent"]
        assert consent_part["outcome"] == "provided" and data["holders"]["breach"]["outcome"] == "nothing_held"
        records = consent_part["data"]["records"]
        assert [(r["purpose"], r["state"]) for r in records] == [("contact", "granted"), ("leads", "denied")]
        assert records[0]["evidence"]["email"] == EMAIL and records[0]["evidence"]["page"].endswith("/contact")
        assert consent_part["data"]["purposes"]["contact"]["legal_basis"] == "consent"
        # only what is true of this person (GDPR 15): the contact form's recipients (the refused leads reached
        # no one), not all 13 processors; each purpose with its data, retention in words, and recipients
        recipients = {r["name"] for r in consent_part["data"]["recipients"]}
        assert recipients == {"WordPress", "GravityForms", "Google Drive", "TeamLeader"}
        assert set(consent_part["data"]["purposes"]) == {"contact", "leads"}
        contact = consent_part["data"]["purposes"]["contact"]
        assert contact["retention"]["nl"] == "Hoogstens 12 maanden na de laatste wijziging; daarna verwijderd."
        drive = next(r for r in contact["recipients"] if r["name"] == "Google Drive")
        assert drive["outside_eea"] and drive["safeguard"] == "EU-US Data Privacy Framework"
        html_nl = (await c["dsar"].get(export_path)).text
        html_en = (await c["dsar"].get(export_path, params={"lang": "en"})).text
        assert "Alle gegevens die we van je hebben" in html_nl and "All the data we hold about you" in html_en
        assert "Je toestemmingen" in html_nl and "Meldingen van datalekken" in html_nl and "Je verzoeken" in html_nl
        assert "Replying to the contact form" in html_en and "through the contact form" in html_en.lower()
        assert "contact_form" not in html_en and ">Given<" in html_en, "no ids or state codes for a person"
        assert "Contact opnemen na het contactformulier" in html_nl and "gegeven" in html_nl
        assert "Gegevens: e-mailadres, naam" in html_nl and "buiten de EER, beschermd door" in html_nl
        assert "ActiveCampaign" not in html_nl and "Zapier" not in html_nl, "not a recipient of this person's data"
        assert "Ons register van datalekken noemt geen datalek waarover we jou hebben ingelicht" in html_nl
        assert "naar de rechter" in html_nl and "overdraagbaarheid" in html_nl
        assert (await c["dsar"].get(export_path[:-4] + "AAAA")).status_code == 404

        # erasure: every holder erases; the person is told; nothing readable remains in consent
        r = await c["dsar"].post("/v1/requests", headers={"x-site-key": dkey}, json={"kind": "erasure", "email": EMAIL})
        await eventually(lambda: len(smtp.to(EMAIL)) >= 1, within=20)
        assert (await c["dsar"].post(link(smtp.to(EMAIL)[0], "verify"))).status_code == 200
        await eventually(lambda: len(smtp.to(EMAIL)) >= 2, within=60)
        summary = smtp.to(EMAIL)[1].get_body(preferencelist=("plain",)).get_content()
        assert "Verwijderd uit: ons datalekregister, ons toestemmingenregister" in summary
        token = await create_token(consent_rt.db, "dpo", ["dpo"])
        history = (
            await c["consent"].post(
                "/admin/subjects/history", json={"email": EMAIL}, headers={"authorization": f"Bearer {token}"}
            )
        ).json()
        assert history["states"] == {} and {r["evidence"] for r in history["records"]} == {"erased"}
        async with consent_rt.db.read() as s:
            from sqlalchemy import text

            assert (await s.execute(text("SELECT count(*) FROM subject_keys"))).scalar_one() == 0
        for _name, client in c.items():
            vkey = (await client.get("/ledger/public-key")).json()["vkey"]
            verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)
        # dsar itself forgets the person once told: its own key goes too (the facts stay in its ledger)
        from services.dsar.decisions import run_jobs
        from services.dsar.service import DsarContext

        await eventually(lambda: _no_queued_mail(dsar_rt), within=20)
        assert (await run_jobs(DsarContext.of(dsar_rt)))["shredded"] == 1
        subject = dsar_rt.recorder.pseudonym(EMAIL)
        async with dsar_rt.db.read() as s:
            assert (
                await s.execute(text("SELECT count(*) FROM subject_keys WHERE subject = :s"), {"s": subject})
            ).scalar_one() == 0
        # the shredding's event travels on dsar's own topic: a row without one stopped every dsar event behind
        # it (issue 30), and it is published like the rest

        async def all_published() -> bool:
            async with dsar_rt.db.read() as s:
                return (
                    await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
                ).scalar_one() == 0

        await eventually(all_published, within=30)
        dpo = await create_token(dsar_rt.db, "dpo", ["dpo"])
        done = (
            await c["dsar"].get(
                "/admin/requests", params={"state": "completed"}, headers={"authorization": f"Bearer {dpo}"}
            )
        ).json()
        assert {d["kind"] for d in done} == {"access", "erasure"}


async def _no_queued_mail(rt: Any) -> bool:
    from sqlalchemy import text

    async with rt.db.read() as s:
        return (await s.execute(text("SELECT count(*) FROM mail_outbox WHERE status = 'queued'"))).scalar_one() == 0
