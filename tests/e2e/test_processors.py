"""The processors service end to end, over the real broker and PostgreSQL, with a local ActiveCampaign that
speaks API v3 over HTTP: an access request's export holds what ActiveCampaign holds of the person; an
erasure deletes the contact there and the request completes only once the processors answered; a second
erasure of the same person finds nothing and counts as done; every ledger verifies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from services.common.auth import create_site_key, create_token
from services.common.ledger.verify import verify_export
from services.dsar.export import compile_export
from services.dsar.service import DsarContext
from services.fakes import activecampaign, googleanalytics, gravityforms, teamleader
from tests import wordpress
from tests.conftest import ROOT, eventually, serve, system
from tests.integration.test_outbox_consumer import header, read_topic
from tests.notices import NOTICE

EMAIL = "femke.visser@example.nl"
TOKEN = "ac-e2e-token-77"
FAST = {"work_interval_seconds": 0.1}
CONSENT = "http://test"  # the in-process client's base: the mailed links point here


@contextlib.asynccontextmanager
async def processors_at(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """A local Teamleader Focus (OAuth2 with rotating refresh tokens) with the person as a customer, a local
    Gravity Forms with their contact-form entry, and the real WordPress with their account and a comment."""
    site = wordpress.site()
    site.configure(monkeypatch)
    await site.reset(EMAIL)
    await site.add_person(EMAIL, "Femke Visser")
    app = teamleader.create("tl-e2e", "tl-e2e-secret", "tl-e2e-refresh")
    app.state.fake.add(EMAIL, "Femke", "Visser")
    forms = gravityforms.create("ck_e2e", "cs_e2e")
    forms.state.fake.add(EMAIL, "Femke", "Visser", "Graag een offerte.")
    async with serve(app) as url, serve(forms) as forms_url:
        monkeypatch.setenv("PROCESSORS_GRAVITYFORMS_BASE_URL", forms_url)
        monkeypatch.setenv("PROCESSORS_GRAVITYFORMS_USERNAME", "ck_e2e")
        monkeypatch.setenv("PROCESSORS_GRAVITYFORMS_PASSWORD", "cs_e2e")
        for name, value in {
            "BASE_URL": url,
            "CLIENT_ID": "tl-e2e",
            "CLIENT_SECRET": "tl-e2e-secret",
            "REFRESH_TOKEN": "tl-e2e-refresh",
        }.items():
            monkeypatch.setenv(f"PROCESSORS_TEAMLEADER_{name}", value)
        yield app.state.fake


async def request(client: Any, staff: dict[str, str], kind: str) -> str:
    body = {"kind": kind, "email": EMAIL, "channel": "email", "identity_verified": True}
    r = await client.post("/admin/requests", json=body, headers=staff)
    assert r.status_code == 201, r.text
    request_id: str = r.json()["id"]
    return request_id


async def completed(client: Any, staff: dict[str, str], request_id: str) -> dict[str, Any]:
    async def done() -> Any:
        found = (await client.get(f"/admin/requests/{request_id}", headers=staff)).json()
        return found if found["state"] == "completed" else None

    found: dict[str, Any] = await eventually(done, within=60)
    return found


async def close_instructed(client: Any, staff: dict[str, str], request_id: str) -> None:
    """A dpo closes what the processors without an API were instructed (Google Drive is asked for everyone)."""

    async def instructed() -> Any:
        r = await client.get(f"/admin/requests/{request_id}", headers=staff)
        return r.json()["tasks"] if r.status_code == 200 else None

    for task in await eventually(instructed, within=20):
        if task["state"] == "instructed":
            body = {"outcome": "nothing_held", "evidence": "checked the shared drive: no file names the person"}
            closed = await client.post(f"/admin/tasks/{task['id']}/close", json=body, headers=staff)
            assert closed.status_code == 200, closed.text


async def test_access_and_erasure_reach_activecampaign(
    kafka: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ac = activecampaign.create(TOKEN)
    fake = ac.state.fake
    fake.add(EMAIL, "Femke", "Visser", lists=("1", "2"))
    fake.add("iemand.anders@example.nl", "Iemand", "Anders", lists=("1",))
    async with serve(ac) as url, processors_at(monkeypatch) as tl:
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", TOKEN)
        services = ("consent", "dsar", "breach", "processors")
        async with system(make_settings, services, {"processors": FAST}) as (apps, c):
            dsar_rt, proc_rt = apps["dsar"].state.runtime, apps["processors"].state.runtime
            staff = {"authorization": "Bearer " + await create_token(dsar_rt.db, "dpo", ["dpo", "admin"])}
            holder = {"name": "processors", "kind": "kafka", "description": "the processors of statement Art. 8"}
            assert (await c["dsar"].put("/admin/holders/processors", json=holder, headers=staff)).status_code == 200

            # access: the export holds ActiveCampaign's part, what it holds in words and values
            proc_staff = {"authorization": "Bearer " + await create_token(proc_rt.db, "dpo", ["dpo"])}
            access = await request(c["dsar"], staff, "access")
            await close_instructed(c["processors"], proc_staff, access)
            found = await completed(c["dsar"], staff, access)
            answers = {a["holder"]: a for a in found["answers"]}
            assert answers["processors"]["outcome"] == "provided"
            export = await compile_export(DsarContext.of(dsar_rt), access)
            part = export["holders"]["processors"]["data"]["processors"]
            ac_part = next(p for p in part if p["processor"] == "ActiveCampaign")
            assert ac_part["state"] == "done" and ac_part["mode"] == "automated"
            contact, lists = ac_part["data"]
            assert contact["records"][0]["email"] == EMAIL and contact["records"][0]["lastName"] == "Visser"
            assert {r["list"] for r in lists["records"]} == {"1", "2"}
            tasks = (await c["processors"].get(f"/admin/requests/{access}", headers=proc_staff)).json()["tasks"]
            ac_task = next(t for t in tasks if t["processor"] == "ActiveCampaign")
            assert ac_task["calls"][0][:2] == ["GET", "/api/3/contacts"], "templates, never a value"
            drive = next(p for p in part if p["processor"] == "Google Drive")
            assert drive["state"] == "nothing_held" and "told by" in drive["outcome"]
            tl_part = next(p for p in part if p["processor"] == "TeamLeader")
            assert tl_part["state"] == "done" and tl_part["data"][0]["records"][0]["last_name"] == "Visser"
            form = next(p for p in part if p["processor"] == "GravityForms")
            assert form["state"] == "done" and form["data"][0]["records"][0]["message"] == "Graag een offerte."
            site = next(p for p in part if p["processor"] == "WordPress")  # the real WordPress
            assert site["state"] == "done" and [d["label"] for d in site["data"]] == ["account", "comment"]
            assert site["data"][0]["records"][0]["email"] == EMAIL
            analytics = next(p for p in part if p["processor"] == "Google Analytics")
            assert analytics["state"] == "no_api" and analytics["why"]["nl"].startswith("Google Analytics laat niemand")
            # the person's export: JSON by its schema, and a page with a section per processor
            path = "/v1/exports/" + DsarContext.of(dsar_rt).links.sign("export", 3600, r=access)
            data = (await c["dsar"].get(path, params={"format": "json"})).json()
            schema = json.loads((ROOT / "schemas" / "access-export.schema.json").read_text())
            jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())
            page = (await c["dsar"].get(path)).text
            section = page.split('id="processors"', 1)[1].split("<h2", 1)[0]
            assert "Bij onze verwerkers" in page and "ActiveCampaign" in section and "Visser" in section
            assert "Heeft niets van jou." in section and "Account op de website" in section
            assert "alleen op het id van de analytics-cookie" in section, "Google Analytics says why it shows nothing"
            assert "AWR art. 52" in section, "Digitale Factuur says why it shows nothing"
            asked = page.split("Wie we hebben gevraagd", 1)[1]
            assert "ActiveCampaign: gedaan" in asked and "access done" not in asked, "in the person's language"
            assert "je bericht" in section and "Graag een offerte." in section, "a form's fields in words"

            # erasure: the contact is deleted at ActiveCampaign before the request completes
            erasure = await request(c["dsar"], staff, "erasure")
            await close_instructed(c["processors"], proc_staff, erasure)
            found = await completed(c["dsar"], staff, erasure)
            answers = {a["holder"]: a for a in found["answers"]}
            assert answers["processors"]["outcome"] == "erased", answers["processors"]
            assert "ActiveCampaign: erasure done" in answers["processors"]["reason"]
            assert "TeamLeader: erasure done" in answers["processors"]["reason"] and not tl.contacts
            assert fake.subscribed(EMAIL) == {} and [c["email"] for c in fake.contacts.values()] == [
                "iemand.anders@example.nl"
            ], "only that person, and all of them"
            assert "WordPress: erasure done" in answers["processors"]["reason"]
            assert await wordpress.site().held(EMAIL) == {"accounts": [], "comments": []}, "read back from WordPress"
            # again: nothing held there any more, and the request completes all the same
            again = await request(c["dsar"], staff, "erasure")
            await close_instructed(c["processors"], proc_staff, again)
            found = await completed(c["dsar"], staff, again)
            assert {a["holder"]: a["outcome"] for a in found["answers"]}["processors"] == "nothing_held"

            connectors = (await c["processors"].get("/admin/connectors", headers=proc_staff)).json()
            ac_row = next(x for x in connectors if x["key"] == "activecampaign")
            assert ac_row["state"] == "connected" and ac_row["open_tasks"] == 0 and ac_row["last_success_at"]
            assert set(ac_row["purposes"]) == {"newsletter", "leads"}
            assert fake.refused == 0 and max(fake.per_second.values()) <= 5

            async def all_published() -> bool:  # every outcome and answer reached the broker
                async with proc_rt.db.read() as s:
                    left = (
                        await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
                    ).scalar_one()
                return left == 0

            await eventually(all_published, within=30)
            for name in ("dsar", "processors"):
                vkey = (await c[name].get("/ledger/public-key")).json()["vkey"]
                verify_export((await c[name].get("/ledger/entries")).text.splitlines(), vkey=vkey)


async def _ready(check: Any) -> Any:
    """`check`'s value once it holds something (for `eventually`, which waits for a truthy value)."""
    found = await check()
    return found if found[0] and found[1] else None


def _link(message: Any, pattern: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return str(re.findall(re.escape(CONSENT) + pattern, body)[0])


async def test_a_confirmed_sign_up_subscribes_and_a_withdrawal_anywhere_unsubscribes(
    kafka: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch, smtp: Any, topic_prefix: str
) -> None:
    """Status 1 only after the person's click; a withdrawal in the privacy centre reaches ActiveCampaign within
    seconds (read back from it); an unsubscribe that came from ActiveCampaign is not sent back to it; a
    replayed event changes nothing."""
    ac = activecampaign.create(TOKEN)
    fake = ac.state.fake
    async with serve(ac) as url, processors_at(monkeypatch):
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", TOKEN)
        mail = {"mail_enabled": True, "smtp_port": smtp.port, "public_base_url": CONSENT}
        secret = "ac-webhook-secret-for-the-test"
        overrides = {"consent": {**mail, "activecampaign_webhook_secret": secret}, "processors": FAST}
        async with system(make_settings, ("consent", "processors"), overrides) as (apps, c):
            consent = c["consent"]
            key = await create_site_key(apps["consent"].state.runtime.db, "site", ["https://www.example.nl"])
            signed_up = await consent.post(
                "/v1/consents",
                headers={"x-site-key": key},
                json={
                    "email": EMAIL,
                    "channel": "newsletter_signup",
                    "notice": NOTICE,
                    "purposes": [{"purpose": "newsletter", "granted": True}],
                },
            )
            assert signed_up.status_code == 201, signed_up.text
            confirmation = await eventually(lambda: smtp.to(EMAIL), within=20)
            await asyncio.sleep(1.0)
            assert fake.seen == [], "a sign-up not yet confirmed reaches no processor"
            assert (await consent.post(_link(confirmation[0], r"(/v1/confirm/\S+)"))).status_code == 200
            await eventually(lambda: fake.subscribed(EMAIL) == {"1": "1"}, within=20)

            # the person withdraws in the privacy centre (signed in by the mailed link)
            assert (await consent.post("/privacy/sign-in", data={"email": EMAIL, "lang": "nl"})).status_code == 200
            sign_in = await eventually(lambda: [m for m in smtp.to(EMAIL) if "/privacy/sign-in/" in str(m)], within=20)
            link = _link(sign_in[-1], r"(/privacy/sign-in/\S+)")
            page = await consent.get(link)
            nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
            assert (await consent.post(link, data={"nonce": nonce[1] if nonce else ""})).status_code == 303
            csrf = re.findall(r'name="csrf" value="([^"]+)"', (await consent.get("/privacy")).text)[0]
            form = {"purpose": "newsletter", "csrf": csrf, "lang": "nl"}
            withdrawn_at = time.monotonic()
            assert (await consent.post("/privacy/withdraw", data=form)).status_code == 303
            await eventually(lambda: fake.subscribed(EMAIL) == {"1": "2"}, within=20, interval=0.05)
            took = time.monotonic() - withdrawn_at
            assert took < 5, f"unsubscribed at ActiveCampaign {took:.1f} s after the withdrawal"

            # an unsubscribe made in ActiveCampaign itself: consent records it, nothing is sent back to it
            other = "lotte@example.nl"
            fake.add(other, "Lotte", "Bakker", lists=("1",))
            await consent.post(
                "/v1/consents",
                headers={"x-site-key": key},
                json={
                    "email": other,
                    "channel": "newsletter_signup",
                    "notice": NOTICE,
                    "purposes": [{"purpose": "newsletter", "granted": True}],
                },
            )
            sent = len(fake.seen)
            body = urlencode({"type": "unsubscribe", "list": "1", "contact[email]": other, "date_time": "2026-12-05"})
            hook = await consent.post(
                f"/webhooks/activecampaign/{secret}",
                content=body.encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert hook.status_code == 200, hook.text
            await asyncio.sleep(1.5)
            assert len(fake.seen) == sent, "the unsubscribe is not sent back to ActiveCampaign"

            # a replayed withdrawal (at-least-once delivery) makes no second call
            events = await read_topic(kafka, topic_prefix + "consent.events.v1", 1, within=10)
            withdrawn = [e for e in events if header(e, "ce_type") == "nl.jzve.privacy.consent.withdrawn"]
            assert withdrawn, "the centre's withdrawal was published"
            sent = len(fake.seen)
            producer = AIOKafkaProducer(bootstrap_servers=kafka)
            await producer.start()
            try:
                for e in withdrawn:
                    await producer.send_and_wait(e.topic, e.value, key=e.key, headers=list(e.headers))
            finally:
                await producer.stop()
            await asyncio.sleep(1.5)
            assert len(fake.seen) == sent
            assert fake.refused == 0


async def test_every_processor_gets_an_outcome_instructed_ones_by_mail_and_link(
    kafka: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch, smtp: Any
) -> None:
    """An erasure: ActiveCampaign by its API, Digitale Factuur exempt with its legal reason, Manychat (the person
    chatted) and Google Drive (asked for everyone) instructed by mail; those no purpose of the person reaches
    hold nothing. The request completes only once Manychat confirmed through its link and a dpo closed Google
    Drive's task with its evidence."""
    ac = activecampaign.create(TOKEN)
    ac.state.fake.add(EMAIL, "Femke", "Visser", lists=("1",))
    ga = googleanalytics.create("ga-e2e", "ga-e2e-secret", "1//ga-e2e")
    async with serve(ac) as url, processors_at(monkeypatch), serve(ga) as ga_url:
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", TOKEN)
        for name, value in {"BASE_URL": ga_url, "CLIENT_ID": "ga-e2e", "CLIENT_SECRET": "ga-e2e-secret"}.items():
            monkeypatch.setenv(f"PROCESSORS_GOOGLEANALYTICS_{name}", value)
        monkeypatch.setenv("PROCESSORS_GOOGLEANALYTICS_REFRESH_TOKEN", "1//ga-e2e")
        monkeypatch.setenv("PROCESSORS_GOOGLEANALYTICS_PROPERTY", "123456789")
        monkeypatch.setenv("PROCESSORS_MANYCHAT_CONTACT", "privacy@manychat.example")
        monkeypatch.setenv("PROCESSORS_GOOGLEDRIVE_CONTACT", "privacy@drive.example")
        mail = {"mail_enabled": True, "smtp_port": smtp.port, "public_base_url": CONSENT}
        overrides = {"processors": {**FAST, **mail}}
        services = ("consent", "dsar", "breach", "processors")
        async with system(make_settings, services, overrides) as (apps, c):
            dsar_rt, proc_rt = apps["dsar"].state.runtime, apps["processors"].state.runtime
            key = await create_site_key(apps["consent"].state.runtime.db, "site", ["https://www.example.nl"])
            browser = "b_e2e_femke_0001"  # her browser: analytics accepted, its _ga id sent, then the chat links it
            cookies = {"browser_id": browser, "analytics": True, "tracking": False, "notice": NOTICE}
            public = {"x-site-key": key}
            assert (await c["consent"].post("/v1/cookies", json=cookies, headers=public)).status_code == 201
            ga_id = {"browser_id": browser, "client_id": "1700000001.1733400000"}
            assert (await c["consent"].post("/v1/analytics-ids", json=ga_id, headers=public)).status_code == 202
            chat = {
                "email": EMAIL,
                "browser_id": browser,
                "channel": "chat",
                "notice": NOTICE,
                "purposes": [{"purpose": "chat", "granted": True}],
            }
            assert (await c["consent"].post("/v1/consents", json=chat, headers=public)).status_code == 201
            staff = {"authorization": "Bearer " + await create_token(dsar_rt.db, "dpo", ["dpo", "admin"])}
            holder = {"name": "processors", "kind": "kafka"}
            assert (await c["dsar"].put("/admin/holders/processors", json=holder, headers=staff)).status_code == 200

            person = proc_rt.recorder.pseudonym(EMAIL)

            async def seen() -> Any:
                async with proc_rt.db.read() as s:
                    purposes = await s.execute(
                        text("SELECT purpose FROM seen_purposes WHERE subject = :s"), {"s": person}
                    )
                    ids = await s.execute(text("SELECT count(*) FROM identifiers WHERE subject = :s"), {"s": person})
                    return (purposes.scalars().all(), ids.scalar_one())

            assert await eventually(lambda: _ready(seen), within=20) == (["chat"], 1), "her _ga id, under her"
            erasure = await request(c["dsar"], staff, "erasure")
            to_manychat = await eventually(lambda: smtp.to("privacy@manychat.example"), within=20)
            to_drive = await eventually(lambda: smtp.to("privacy@drive.example"), within=20)
            body = to_manychat[0].get_body(preferencelist=("plain",)).get_content()
            assert EMAIL in body and erasure in body and "Erase all personal data of this person" in body
            manychat_link = re.findall(r"http://test(/v1/instructions/\S+)", body)[0]
            page = await c["processors"].get(manychat_link)
            assert page.status_code == 200 and "Manychat" in page.text and erasure in page.text
            assert EMAIL not in page.text, "the page names no one: the mail does"
            forged = manychat_link[:-4] + ("AAAA" if not manychat_link.endswith("AAAA") else "BBBB")
            assert (await c["processors"].get(forged)).status_code == 404

            pending = (await c["dsar"].get(f"/admin/requests/{erasure}", headers=staff)).json()
            assert pending["state"] != "completed", "not before every processor has an outcome"
            done = await c["processors"].post(manychat_link, data={"outcome": "done", "details": ""})
            assert done.status_code == 200 and "Beantwoord" in done.text
            assert (await c["processors"].post(manychat_link, data={"outcome": "done"})).status_code == 410

            drive_link = re.findall(
                r"http://test(/v1/instructions/\S+)", to_drive[0].get_body(preferencelist=("plain",)).get_content()
            )[0]
            no_reason = await c["processors"].post(drive_link, data={"outcome": "refused", "details": " "})
            assert no_reason.status_code == 422
            proc_staff = {"authorization": "Bearer " + await create_token(proc_rt.db, "dpo", ["dpo"])}
            tasks = (await c["processors"].get(f"/admin/requests/{erasure}", headers=proc_staff)).json()["tasks"]
            states = {t["processor"]: t["state"] for t in tasks}
            assert states["Google Drive"] == "instructed" and states["Digitale Factuur"] == "exempt"
            assert states["Zapier"] == "nothing_held" and len(states) == 13
            drive = next(t["id"] for t in tasks if t["processor"] == "Google Drive")
            closed = await c["processors"].post(
                f"/admin/tasks/{drive}/close",
                json={"outcome": "done", "evidence": "Drive owner replied by mail: 3 files deleted"},
                headers=proc_staff,
            )
            assert closed.status_code == 200 and closed.json()["state"] == "confirmed", closed.text

            found = await completed(c["dsar"], staff, erasure)
            answer = {a["holder"]: a for a in found["answers"]}["processors"]
            assert answer["outcome"] == "erased"
            assert "Digitale Factuur: not done: invoices are kept for 7 years" in answer["reason"]
            assert "Manychat: erasure confirmed by the processor" in answer["reason"]
            assert "ActiveCampaign: erasure done" in answer["reason"] and "TeamLeader: erasure done" in answer["reason"]
            assert "Google Analytics: erasure submitted (received " in answer["reason"] and "due by" in answer["reason"]
            assert [d["clientId"] for d in ga.state.fake.deletions] == ["1700000001.1733400000"]
            async with proc_rt.db.read() as s:
                left = (await s.execute(text("SELECT count(*) FROM identifiers"))).scalar_one()
            assert left == 0, "the processors keep no id of hers after the erasure"
