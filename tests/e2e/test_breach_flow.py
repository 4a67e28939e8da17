"""End to end over the real broker, PostgreSQL and SMTP: consents recorded; a breach at one processor is
registered; the affected people are found through Kafka; their notices arrive; the ledgers verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.auth import create_token
from services.common.ledger.verify import verify_export
from tests.conftest import eventually, system
from tests.integration.test_breach import ASSESSMENT, breach_body
from tests.integration.test_outbox_consumer import header, read_topic
from tests.notices import NOTICE


async def test_breach_finds_and_notifies_the_affected(
    kafka: str, make_settings: Any, smtp: Any, topic_prefix: str
) -> None:
    breach_mail = {"mail_enabled": True, "smtp_port": smtp.port}
    async with system(make_settings, ("consent", "breach"), {"breach": breach_mail}) as (apps, c):
        consent_rt, breach_rt = apps["consent"].state.runtime, apps["breach"].state.runtime
        admin = {"authorization": f"Bearer {await create_token(consent_rt.db, 'staff', ['admin'])}"}
        for who, purpose in (("a", "leads"), ("b", "leads"), ("c", "newsletter"), ("d", "chat"), ("gone", "leads")):
            r = await c["consent"].post(
                "/admin/consents",
                headers=admin,
                json={
                    "email": f"{who}@example.nl",
                    "name": who.upper(),
                    "channel": "email",
                    "notice": NOTICE,
                    "data_categories": ["name", "email"],
                    "purposes": [{"purpose": purpose, "granted": True}],
                },
            )
            assert r.status_code == 201, r.text
        # an erased person (what consent does on dsar's erasure request) is no longer found
        from services.consent import subjects
        from services.consent.context import ConsentContext

        async with consent_rt.db.transaction() as s:
            gone = consent_rt.recorder.pseudonym("gone@example.nl")
            await subjects.erase_in(ConsentContext.of(consent_rt), s, gone, "erasure request (test)")

        dpo = {"authorization": f"Bearer {await create_token(breach_rt.db, 'dpo', ['dpo'])}"}
        aware = datetime.now(UTC) - timedelta(minutes=5)
        b = (
            await c["breach"].post(
                "/admin/breaches",
                headers=dpo,
                json=breach_body(
                    awareness_at=aware.isoformat(),
                    started_at=(aware - timedelta(hours=1)).isoformat(),
                    ended_at=None,
                    ongoing=True,
                    processors=["ActiveCampaign"],
                ),
            )
        ).json()
        await c["breach"].post(f"/admin/breaches/{b['id']}/assessment", headers=dpo, json=ASSESSMENT)
        r = await c["breach"].post(f"/admin/breaches/{b['id']}/affected-queries", headers=dpo, json={})
        assert r.status_code == 202
        # an external system (the CRM) answers for its own records on dsar.answers.v1, sealed like consent does
        await _crm_answers(kafka, topic_prefix, breach_rt, b["id"], r.json()["query_id"])

        async def found() -> Any:
            summary = (await c["breach"].get(f"/admin/breaches/{b['id']}/recipients", headers=dpo)).json()
            return summary if summary["found"] >= 4 else None

        summary = await eventually(found, within=60)
        assert summary["found"] == 4, (
            "a, b (leads) and c (newsletter) go through ActiveCampaign; d (chat) not; "
            "the erased person is not brought back; the CRM adds one (bounce@)"
        )
        r = await c["breach"].post(
            f"/admin/breaches/{b['id']}/subject-notifications",
            headers=dpo,
            json={
                "likely_consequences": "phishing-mails die lijken op mails van ons",
                "measures": "de export is verwijderd en de deellink ingetrokken",
                "advice": "klik niet op vreemde links",
            },
        )
        assert r.json() == {"queued": 4}
        again = await c["breach"].post(
            f"/admin/breaches/{b['id']}/subject-notifications",
            headers=dpo,
            json={
                "likely_consequences": "phishing-mails die lijken op mails van ons",
                "measures": "de export is verwijderd en de deellink ingetrokken",
            },
        )
        assert again.json() == {"queued": 0}, "nobody is mailed twice"
        await eventually(lambda: len(smtp.messages) >= 3, within=30)
        assert sorted(m["To"] for m in smtp.messages) == ["a@example.nl", "b@example.nl", "c@example.nl"]
        body = smtp.to("a@example.nl")[0].get_body(preferencelist=("plain",)).get_content()
        assert "Beste A," in body and "phishing" in body and "Autoriteit Persoonsgegevens" in body
        # words, not codes; Dutch first, the same in English below (what was written in Dutch only, said so)
        assert "waarbij jouw gegevens betrokken zijn: e-mailadres, naam, adres." in body and "name_address" not in body
        assert "Dear A," in body and "involved your data: email address, name, address." in body
        assert "Likely consequences: (described in Dutch above)" in body
        assert "de export is verwijderd" in body and "Sanne" in body
        summary = await eventually(lambda: _all_sent(c["breach"], b["id"], dpo), within=30)
        assert summary["sent"] == 3 and summary["bounced"] == 1, "the refused address is tracked as bounced"
        # the AP form says who was actually told: 3 of the 4 found, one mail did not arrive
        r = await c["breach"].post(
            f"/admin/breaches/{b['id']}/ap-notifications", headers=dpo, json={"phase": "initial"}
        )
        informed = r.json()["content"]["sections"]["8"]["people_informed"]
        assert informed == {"answer": "partly", "mailed": 3, "found": 4, "waiting": 0, "undeliverable": 1}
        types = [
            header(e, "ce_type").split("privacy.")[1]
            for e in await read_topic(kafka, topic_prefix + "breach.events.v1", 4)
        ]
        assert types[:4] == [
            "breach.registered",
            "breach.risk.assessed",
            "breach.affected.requested",
            "breach.subjects.notified",
        ]
        for client in c.values():
            vkey = (await client.get("/ledger/public-key")).json()["vkey"]
            verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)


async def _all_sent(client: Any, breach_id: str, auth: dict[str, str]) -> Any:
    summary = (await client.get(f"/admin/breaches/{breach_id}/recipients", headers=auth)).json()
    return summary if summary["sent"] == 3 and summary["bounced"] == 1 else None


async def _crm_answers(kafka: str, prefix: str, breach_rt: Any, breach_id: str, query_id: str) -> None:
    from aiokafka import AIOKafkaProducer

    from services.common.contracts import AffectedSubjectsFound, seal_fragment
    from services.common.events import CloudEvent

    person = {
        "subject": breach_rt.recorder.pseudonym("bounce@example.nl"),
        "email": "bounce@example.nl",
        "name": "Oud Adres",
    }
    found = AffectedSubjectsFound(
        breach_id=breach_id,
        query_id=query_id,
        holder="crm",
        chunk=0,
        chunks=1,
        count=1,
        sealed=seal_fragment(breach_rt.sealing, query_id, {"people": [person]}),
    )
    key, value, headers = CloudEvent.of(found, source="urn:crm").to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(prefix + "dsar.answers.v1", value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_a_stored_data_breach_reaches_people_who_signed_up_long_before_it(make_settings: Any) -> None:
    """GDPR 34: the newsletter list exported by mistake reaches everyone on it, not only those who signed up
    while it was exposed. A record that names no categories (consent.js sends none) has its purpose's."""
    async with system(make_settings, ("consent", "breach")) as (apps, c):
        consent_rt, breach_rt = apps["consent"].state.runtime, apps["breach"].state.runtime
        admin = {"authorization": f"Bearer {await create_token(consent_rt.db, 'staff', ['admin'])}"}
        now = datetime.now(UTC)
        signed_up = {  # who, purpose, categories sent, when they signed up
            "years": ("newsletter", ["name", "email"], now - timedelta(days=700)),
            "months": ("leads", [], now - timedelta(days=240)),
            "during": ("leads", [], now - timedelta(days=3)),
            "after": ("leads", [], now - timedelta(hours=2)),
            "chat": ("chat", [], now - timedelta(days=30)),  # not at ActiveCampaign
            "gone": ("leads", [], now - timedelta(days=100)),
        }
        for who, (purpose, categories, _) in signed_up.items():
            body = {
                "email": f"{who}@example.nl",
                "channel": "email",
                "notice": NOTICE,
                "data_categories": categories,
                "purposes": [{"purpose": purpose, "granted": True}],
            }
            assert (await c["consent"].post("/admin/consents", headers=admin, json=body)).status_code == 201
        from sqlalchemy import text

        from services.consent import subjects
        from services.consent.context import ConsentContext

        async with consent_rt.db.transaction() as s:
            for who, (_, _, at) in signed_up.items():
                subject = consent_rt.recorder.pseudonym(f"{who}@example.nl")
                await s.execute(
                    text("UPDATE consent_records SET created_at = :at WHERE subject = :s"), {"at": at, "s": subject}
                )
            gone = consent_rt.recorder.pseudonym("gone@example.nl")
            await subjects.erase_in(ConsentContext.of(consent_rt), s, gone, "erasure request (test)")

        dpo = {"authorization": f"Bearer {await create_token(breach_rt.db, 'dpo', ['dpo'])}"}
        leak = breach_body(
            awareness_at=(now - timedelta(hours=5)).isoformat(),
            started_at=(now - timedelta(days=7)).isoformat(),
            ended_at=(now - timedelta(days=1)).isoformat(),
            categories=["email"],
            processors=["ActiveCampaign"],
        )
        b = (await c["breach"].post("/admin/breaches", headers=dpo, json=leak)).json()

        async def reached(reach: str, expected: int) -> int:
            r = await c["breach"].post(
                f"/admin/breaches/{b['id']}/affected-queries", headers=dpo, json={"reach": reach}
            )
            assert r.status_code == 202, r.text

            async def found() -> Any:
                summary = (await c["breach"].get(f"/admin/breaches/{b['id']}/recipients", headers=dpo)).json()
                return summary if summary["found"] >= expected else None

            return int((await eventually(found, within=60))["found"])

        # the officer first asks who gave their data during the window: one person
        assert await reached("collected", 1) == 1
        # then who was on the list while it was exposed: also those who signed up months and years before
        assert await reached("held", 3) == 3, "years, months and during; not after, not chat, not the erased"
        async with breach_rt.db.read() as s:
            subjects_found = set((await s.execute(text("SELECT subject FROM breach_recipients"))).scalars())
        assert subjects_found == {
            consent_rt.recorder.pseudonym(f"{w}@example.nl") for w in ("years", "months", "during")
        }
