"""The pages issue 32 added, in a real Chromium at 1280 and 360 px with axe-core: the console's processors
page (each connector's standing), a connector's page (its open tasks), a request's page (each processor's
outcome and the form that closes an instructed task), the person's export (a section per processor), and the
page an instructed processor answers on. Screenshots go to the test output; docs/processors keeps them."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from services.common.auth import create_token
from services.common.contracts import DataSubjectRequestStarted, HolderAnswered, Outcome, RequestKind, seal_fragment
from services.console.main import create as console
from services.console.settings import ConsoleSettings
from services.dsar.service import DsarContext
from services.fakes import activecampaign, gravityforms, teamleader
from services.processors import instructions
from services.processors import service as processors_service
from services.processors.context import ProcessorsContext
from tests import wordpress
from tests.browser.conftest import OUT, axe, visitor
from tests.conftest import build_app, free_port, serve

TOKEN = "pt_processor_pages_" + "z" * 20
EMAIL = "femke.visser@example.nl"


async def shots(v: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        await v.page.set_viewport_size({"width": width, "height": 800})
        await v.page.screenshot(path=str(OUT / f"processors-{name}-{width}.png"), full_page=True)
        problems = await axe(v.page)
        assert not problems, (name, width, problems)
    await v.page.set_viewport_size({"width": 1280, "height": 800})


async def test_the_processor_pages(
    make_settings: Any, tmp_path: Any, chromium: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ac = activecampaign.create("pages-token")
    ac.state.fake.add(EMAIL, "Femke", "Visser", lists=("1", "2"))
    tl = teamleader.create("tl-pages", "tl-pages-secret", "tl-pages-refresh")
    tl.state.fake.add(EMAIL, "Femke", "Visser")
    forms = gravityforms.create("ck_pages", "cs_pages")
    forms.state.fake.add(EMAIL, "Femke", "Visser", "Graag een offerte voor een nieuwe website.")
    async with serve(ac) as ac_url, serve(tl) as tl_url, serve(forms) as forms_url:
        site = wordpress.site()
        site.configure(monkeypatch)
        await site.reset(EMAIL)
        await site.add_person(EMAIL, "Femke Visser")
        monkeypatch.setenv("PROCESSORS_GRAVITYFORMS_BASE_URL", forms_url)
        monkeypatch.setenv("PROCESSORS_GRAVITYFORMS_USERNAME", "ck_pages")
        monkeypatch.setenv("PROCESSORS_GRAVITYFORMS_PASSWORD", "cs_pages")
        for name, value in {
            "BASE_URL": tl_url,
            "CLIENT_ID": "tl-pages",
            "CLIENT_SECRET": "tl-pages-secret",
            "REFRESH_TOKEN": "tl-pages-refresh",
        }.items():
            monkeypatch.setenv(f"PROCESSORS_TEAMLEADER_{name}", value)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", ac_url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", "pages-token")
        monkeypatch.setenv("PROCESSORS_GOOGLEDRIVE_CONTACT", "privacy@drive.example")
        apps = {
            name: build_app(
                name,
                make_settings(
                    name,
                    f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
                    consumers_enabled=False,
                    work_interval_seconds=0.1,
                )
                if name == "processors"
                else make_settings(name, f"sqlite+aiosqlite:///{tmp_path}/{name}.db", consumers_enabled=False),
            )
            for name in ("consent", "dsar", "processors")
        }
        consent_cm, dsar_cm, processors_cm = (serve(apps[n]) for n in ("consent", "dsar", "processors"))
        async with consent_cm as consent_url, dsar_cm as dsar_url, processors_cm as processors_url:
            for app in apps.values():
                await create_token(app.state.runtime.db, "Anna de Vries (FG)", ["dpo", "admin"], token=TOKEN)
            settings = ConsoleSettings(
                session_key=base64.b64encode(os.urandom(32)).decode(),
                consent_url=consent_url,
                dsar_url=dsar_url,
                breach_url=f"http://127.0.0.1:{free_port()}",
                processors_url=processors_url,
            )
            async with serve(console(settings)) as url, visitor(chromium, bypass_csp=True) as v:
                import httpx

                staff = {"authorization": f"Bearer {TOKEN}"}
                async with httpx.AsyncClient(base_url=dsar_url, headers=staff) as dsar:
                    holder = {"name": "processors", "kind": "kafka"}
                    assert (await dsar.put("/admin/holders/processors", json=holder)).status_code == 200
                    body = {"kind": "access", "email": EMAIL, "channel": "email", "identity_verified": True}
                    request_id = (await dsar.post("/admin/requests", json=body)).json()["id"]
                rt = apps["processors"].state.runtime
                ctx = ProcessorsContext.of(rt)
                started = DataSubjectRequestStarted(
                    request_id=request_id,
                    kind=RequestKind.ACCESS,
                    subject=rt.recorder.pseudonym(EMAIL),
                    deadline="2027-01-05T00:00:00Z",
                    contact=seal_fragment(rt.sealing, request_id, {"email": EMAIL}),
                )
                async with rt.db.transaction() as s:
                    await processors_service.open_request(ctx, s, started)
                ctx.wake()

                await v.page.goto(url + "/")
                await v.page.fill("#token", TOKEN)
                async with v.page.expect_navigation():
                    await v.page.click("button[type=submit]")
                await v.page.goto(url + "/processors")
                assert "via de API" in await v.page.inner_text("main")
                await shots(v, "console-list")
                await v.page.goto(url + "/processors/connectors/googledrive")
                assert request_id in await v.page.inner_text("main")
                await shots(v, "console-connector")
                await v.page.goto(url + f"/requests/{request_id}")
                text = await v.page.inner_text("main")
                assert "Bij de verwerkers" in text and "ActiveCampaign" in text
                await shots(v, "console-request")

                # the processor's own page, through its mailed link (no one named on it)
                from sqlalchemy import text as sql

                async with rt.db.read() as s:
                    drive = (
                        await s.execute(sql("SELECT id FROM processor_tasks WHERE processor = 'googledrive'"))
                    ).scalar_one()
                link = instructions.link(ctx, drive)
                link = processors_url + "/v1/instructions/" + link.rsplit("/v1/instructions/", 1)[1]
                await v.page.goto(link)
                assert EMAIL not in await v.page.content()
                await shots(v, "instruction")
                await v.page.check("input[value=done]")
                await v.page.fill("#details", "Twee offertes van maart 2026 in de map Klanten/Visser.")
                async with v.page.expect_navigation():
                    await v.page.click("button[type=submit]")
                assert "Beantwoord" in await v.page.inner_text("main")

                # the person's export, once every processor has an outcome
                import asyncio

                from tests.conftest import eventually

                async def answered() -> Any:
                    async with rt.db.read() as s:
                        left = (
                            await s.execute(
                                sql("SELECT count(*) FROM processor_tasks WHERE state IN ('waiting', 'instructed')")
                            )
                        ).scalar_one()
                    return left == 0

                await eventually(answered, within=30)
                await asyncio.sleep(0.5)
                answer = await _holder_answer(rt, request_id)
                from services.dsar import service as dsar_service

                dsar_ctx = DsarContext.of(apps["dsar"].state.runtime)
                async with apps["dsar"].state.runtime.db.transaction() as s:
                    await dsar_service.record_answer(dsar_ctx, s, answer)
                for holder in ("consent", "breach"):  # their answers, as they come over Kafka (no broker here)
                    said = HolderAnswered(
                        request_id=request_id,
                        holder=holder,
                        kind=RequestKind.ACCESS,
                        subject=answer.subject,
                        outcome=Outcome.NOTHING_HELD,
                    )
                    async with apps["dsar"].state.runtime.db.transaction() as s:
                        await dsar_service.record_answer(dsar_ctx, s, said)
                path = "/v1/exports/" + dsar_ctx.links.sign("export", 3600, r=request_id)
                await v.page.goto(dsar_url + path)
                section = await v.page.inner_text("main")
                assert "Bij onze verwerkers" in section and "Visser" in section and "offertes" in section
                await shots(v, "export")
            assert not v.errors


async def _holder_answer(rt: Any, request_id: str) -> Any:
    """The processors' answer as it went on dsar.answers.v1 (read back from their outbox: no broker here)."""
    import json

    from sqlalchemy import text as sql

    from services.common.contracts import HolderAnswered

    async with rt.db.read() as s:
        rows = (await s.execute(sql("SELECT value FROM outbox WHERE topic LIKE '%dsar.answers.v1'"))).scalars().all()
    for value in rows:
        data = json.loads(value)
        if data.get("request_id") == request_id:
            return HolderAnswered.model_validate(data)
    raise AssertionError("the processors did not answer")
