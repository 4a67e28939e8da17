"""GDPR 18 and 21 end to end (consent and dsar over the real broker, PostgreSQL, a real SMTP server): a
restriction keeps the data, stops its use and its retention clock, and is lifted only after the person was
told; an objection ends direct marketing and leaves the rest to what the law gives for each basis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.auth import create_token
from tests.conftest import eventually, system
from tests.notices import NOTICE

EMAIL = "joost@example.nl"


async def _setup(apps: Any, c: Any) -> tuple[dict[str, str], dict[str, str]]:
    consent_rt, dsar_rt = apps["consent"].state.runtime, apps["dsar"].state.runtime
    staff = {"authorization": f"Bearer {await create_token(consent_rt.db, 'staff', ['admin'])}"}
    dpo = {"authorization": f"Bearer {await create_token(dsar_rt.db, 'dpo', ['dpo'])}"}
    body = {
        "email": EMAIL,
        "name": "Joost",
        "channel": "email",
        "notice": NOTICE,
        "company_name": "Joost BV",
        "purposes": [{"purpose": p, "granted": True} for p in ("newsletter", "contact", "invoicing")],
    }
    assert (await c["consent"].post("/admin/consents", headers=staff, json=body)).status_code == 201
    return staff, dpo


async def _request(c: Any, dpo: dict[str, str], kind: str) -> dict[str, Any]:
    body = {"kind": kind, "email": EMAIL, "channel": "email", "identity_verified": True}
    created = (await c["dsar"].post("/admin/requests", headers=dpo, json=body)).json()

    async def answered() -> Any:
        found = (await c["dsar"].get(f"/admin/requests/{created['id']}", headers=dpo)).json()
        return found if found["state"] == "completed" else None

    done: dict[str, Any] = await eventually(answered, within=60)
    return done


async def _states(c: Any, staff: dict[str, str]) -> dict[str, str]:
    r = await c["consent"].post("/admin/subjects/history", headers=staff, json={"email": EMAIL})
    return dict(r.json()["states"])


async def test_a_restriction_keeps_and_stops_and_is_lifted_only_after_telling(make_settings: Any, smtp: Any) -> None:
    from services.consent import retention
    from services.consent.context import ConsentContext

    mail = {"consent": {"mail_enabled": True, "smtp_port": smtp.port}}
    async with system(make_settings, ("consent", "dsar", "breach"), mail) as (apps, c):
        staff, dpo = await _setup(apps, c)
        done = await _request(c, dpo, "restriction")
        consent = next(a for a in done["answers"] if a["holder"] == "consent")
        assert consent["outcome"] == "restricted", "not 'stopped', not withdrawn: kept and not used"
        assert await _states(c, staff) == {
            "newsletter": "restricted",
            "contact": "restricted",
            "invoicing": "restricted",
        }
        ctx = ConsentContext.of(apps["consent"].state.runtime)
        # no retention clock runs: two years on, all of it is still kept (and not used)
        years = datetime.now(UTC) + timedelta(days=800)
        assert await retention.run(ctx, years) == {"expired": 0, "shredded": 0, "rekeyed": 0}

        # lifting: the person is told first, with the date and the reason; nothing changes until then
        why = {"email": EMAIL, "why": "De juistheid van je gegevens is nagegaan: ze kloppen.", "language": "nl"}
        r = await c["consent"].post("/admin/subjects/restriction/lift", headers=staff, json=why)
        assert r.status_code == 200, r.text
        lift_at = datetime.fromisoformat(r.json()["lift_at"])
        assert timedelta(days=13) < lift_at - datetime.now(UTC) <= timedelta(days=14)
        told = (await eventually(lambda: smtp.to(EMAIL), within=20))[0]
        text = told.get_body(preferencelist=("plain",)).get_content()
        assert told["Subject"].startswith("We heffen de beperking van je gegevens op")
        assert (
            "Waarom: De juistheid van je gegevens is nagegaan: ze kloppen." in text
            and "Autoriteit Persoonsgegevens" in text
        )
        assert await retention.run(ctx, lift_at - timedelta(hours=1)) == {"expired": 0, "shredded": 0, "rekeyed": 0}
        assert (await _states(c, staff))["newsletter"] == "restricted"
        await retention.run(ctx, lift_at + timedelta(minutes=1))
        assert await _states(c, staff) == {"newsletter": "granted", "contact": "granted", "invoicing": "granted"}
        history = (await c["consent"].post("/admin/subjects/history", headers=staff, json={"email": EMAIL})).json()
        assert [r["reason"] for r in history["records"]][-1] == "restriction lifted (GDPR 18(3))"
        unknown = {**why, "email": "nobody@example.nl"}
        assert (
            await c["consent"].post("/admin/subjects/restriction/lift", headers=staff, json=unknown)
        ).status_code == 404


async def test_an_objection_ends_direct_marketing_and_touches_nothing_else(make_settings: Any) -> None:
    async with system(make_settings, ("consent", "dsar", "breach")) as (apps, c):
        staff, dpo = await _setup(apps, c)
        done = await _request(c, dpo, "objection")
        consent = next(a for a in done["answers"] if a["holder"] == "consent")
        assert consent["outcome"] == "applied"
        assert consent["reason"] == (
            "direct marketing stopped for good (GDPR 21(3)): newsletter; on legitimate interest, to be weighed by "
            "the privacy officer (GDPR 21(1)): functional_cookies"
        ), "what rests on legitimate interest is named for the officer, who weighs it (objection/weigh)"
        states = await _states(c, staff)
        assert states == {"newsletter": "withdrawn", "contact": "granted", "invoicing": "granted"}, (
            "contact rests on consent (withdraw it in the centre), invoicing on a legal obligation: untouched"
        )
        history = (await c["consent"].post("/admin/subjects/history", headers=staff, json={"email": EMAIL})).json()
        assert history["records"][-1]["reason"] == "objection to direct marketing (GDPR 21(3))"


async def test_a_rectification_changes_what_is_read_and_the_ledger_keeps_no_value(
    make_settings: Any, smtp: Any
) -> None:
    """GDPR 16: after a correction the history, the access export and a breach notice's address show the new
    value; the recorded evidence stays as proof, marked as corrected; the ledger holds the fact and a digest."""
    from sqlalchemy import text

    mail = {"dsar": {"mail_enabled": True, "smtp_port": smtp.port}}
    async with system(make_settings, ("consent", "dsar", "breach"), mail) as (apps, c):
        staff, dpo = await _setup(apps, c)
        body = {
            "kind": "rectification",
            "email": EMAIL,
            "channel": "email",
            "identity_verified": True,
            "corrections": {"name": "Joost van Dam", "phone": "0612345678"},
        }
        created = (await c["dsar"].post("/admin/requests", headers=dpo, json=body)).json()

        async def answered() -> Any:
            found = (await c["dsar"].get(f"/admin/requests/{created['id']}", headers=dpo)).json()
            return found if found["state"] == "completed" else None

        done = await eventually(answered, within=60)
        consent = next(a for a in done["answers"] if a["holder"] == "consent")
        assert (consent["outcome"], consent["reason"]) == ("rectified", "applied: name, phone")

        history = (await c["consent"].post("/admin/subjects/history", headers=staff, json={"email": EMAIL})).json()
        assert history["corrections"]["name"] == "Joost van Dam"
        evidence = history["records"][0]["evidence"]
        assert evidence["name"] == "Joost van Dam" and evidence["corrected_at"], "read as it holds now, marked"

        # the ledger: the fact, the fields and a digest; no value, old or new
        async with apps["consent"].state.runtime.db.read() as s:
            entries = [row[0] for row in await s.execute(text("SELECT entry FROM ledger_entries"))]
        rectified = next(e for e in entries if b"consent.subject.rectified" in e)
        assert b"Joost van Dam" not in rectified and b'"digest"' in rectified and b'"ciphertext":null' in rectified

        # the person's mail says where it was applied, and what that means
        text_of = (await eventually(lambda: smtp.to(EMAIL), within=30))[-1].get_body(preferencelist=("plain",))
        said = text_of.get_content()
        assert "Je correctie is doorgevoerd in: ons toestemmingenregister" in said
        assert "heeft de gecorrigeerde gegevens" in said

        # a breach notice goes out with the corrected name
        from services.common.contracts import AffectedSubjectsRequested
        from services.consent import affected
        from services.consent.context import ConsentContext

        consent_rt = apps["consent"].state.runtime
        ctx = ConsentContext.of(consent_rt)
        query = AffectedSubjectsRequested(
            breach_id="brc_test",
            query_id="aq_test",
            processors=[],
            categories=[],
            window_start=datetime.now(UTC) - timedelta(days=1),
            window_end=datetime.now(UTC),
        )
        async with consent_rt.db.transaction() as s:
            assert await affected.answer(ctx, s, query) == 1
        async with consent_rt.db.read() as s:
            sealed = [row[0] for row in await s.execute(text("SELECT entry FROM ledger_entries"))]
        found_entry = next(e for e in sealed if b"breach.affected.found" in e)
        assert found_entry  # the people travel sealed; opened below as the breach service would
        from services.common.contracts import open_fragment

        async with consent_rt.db.read() as s:
            rows = (await s.execute(text("SELECT value FROM outbox ORDER BY id DESC"))).all()
        import json

        payloads = [json.loads(r[0]) for r in rows if r[0] and b"aq_test" in r[0]]
        people = open_fragment(consent_rt.sealing, "aq_test", payloads[0]["sealed"])["people"]
        assert people[0]["name"] == "Joost van Dam"


async def test_portability_gives_what_the_person_provided_as_json_and_csv(make_settings: Any, smtp: Any) -> None:
    """GDPR 20: the data the person gave us, on consent or contract, in a structured, machine-readable form;
    not what a legal obligation keeps (invoicing) nor what we observed (internet address, browser)."""
    import csv
    import io
    import re

    base = "https://dsar.example.nl"
    mail = {"dsar": {"mail_enabled": True, "smtp_port": smtp.port, "public_base_url": base}}
    async with system(make_settings, ("consent", "dsar", "breach"), mail) as (apps, c):
        _staff, dpo = await _setup(apps, c)
        body = {"kind": "portability", "email": EMAIL, "channel": "email", "identity_verified": True}
        assert (await c["dsar"].post("/admin/requests", headers=dpo, json=body)).status_code == 201
        ready = (await eventually(lambda: smtp.to(EMAIL), within=60))[-1]
        text = ready.get_body(preferencelist=("plain",)).get_content()
        assert "om mee te nemen naar een ander (AVG art. 20)" in text and "CSV" in text
        path = re.findall(rf"{re.escape(base)}(/v1/exports/\S+)", text)[0]
        page = await c["dsar"].get(path)
        assert page.status_code == 200 and "om je gegevens mee te nemen naar een ander (AVG art. 20)" in page.text
        data = (await c["dsar"].get(path, params={"format": "json"})).json()
        rows = data["provided"]
        assert sorted(r["purpose"] for r in rows) == ["contact", "newsletter"], "not invoicing: a legal obligation"
        assert all(r["email"] == EMAIL and r["name"] == "Joost" and r["holder"] == "consent" for r in rows)
        assert not any("ip" in r or "user_agent" in r for r in rows), "provided, not observed"
        got = await c["dsar"].get(path, params={"format": "csv"})
        assert got.headers["content-type"].startswith("text/csv") and "attachment" in got.headers["content-disposition"]
        table = list(csv.DictReader(io.StringIO(got.text)))
        assert len(table) == 2 and table[0]["holder"] == "consent" and table[0]["email"] == EMAIL
