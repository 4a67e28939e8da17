"""Issue 30 item 1: every scheduled job of every service, run against the real broker after real work,
leaves every outbox row published. (Before the fix, dsar's key shredding after an erasure recorded its
event without a topic: the row stayed unpublished for good, and every dsar event behind it with it.)

The jobs, as the services' workers run them: consent's retention, ActiveCampaign retries, the register
of processing, KvK retries; dsar's reminders, expiry and key shredding; every service's checkpoints, the
outbox cleanup and the mail relay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.common.auth import create_token
from tests.conftest import eventually, system
from tests.integration.test_breach import breach_body
from tests.notices import NOTICE


async def _unpublished(rt: Any) -> tuple[int, int]:
    async with rt.db.read() as s:
        waiting = (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one()
        dead = (await s.execute(text("SELECT count(*) FROM outbox_dead"))).scalar_one()
    return int(waiting), int(dead)


async def test_every_scheduled_job_leaves_every_outbox_row_published(kafka: str, make_settings: Any, smtp: Any) -> None:
    mail = {"mail_enabled": True, "smtp_port": smtp.port}
    overrides = {"consent": {**mail, "kvk_base_url": "http://127.0.0.1:9"}, "dsar": mail, "breach": mail}
    async with system(make_settings, ("consent", "dsar", "breach"), overrides) as (apps, c):
        rts = {name: app.state.runtime for name, app in apps.items()}
        staff = {
            name: {"authorization": f"Bearer {await create_token(rt.db, 'dpo', ['admin', 'dpo'])}"}
            for name, rt in rts.items()
        }

        # real work: consent given (a KvK check the register cannot answer now: retried), an erasure
        # done everywhere with its outcome mailed, a request never confirmed, a breach registered
        for email, purposes, extra in (
            (
                "klant@example.nl",
                ["invoicing", "newsletter"],
                {"kvk_number": "12345678", "company_name": "Bakkerij B.V."},
            ),
            ("weg@example.nl", ["contact"], {}),
        ):
            body = {"email": email, "channel": "payment_form" if extra else "email", "notice": NOTICE, **extra}
            body["purposes"] = [{"purpose": p, "granted": True} for p in purposes]
            assert (await c["consent"].post("/admin/consents", json=body, headers=staff["consent"])).status_code == 201
        erasure = {"kind": "erasure", "email": "weg@example.nl", "channel": "letter", "identity_verified": True}
        r = await c["dsar"].post("/admin/requests", json=erasure, headers=staff["dsar"])
        assert r.status_code == 201, r.text
        unconfirmed = {"kind": "access", "email": "stil@example.nl", "channel": "letter", "identity_verified": False}
        assert (await c["dsar"].post("/admin/requests", json=unconfirmed, headers=staff["dsar"])).status_code == 201
        assert (
            await c["breach"].post("/admin/breaches", json=breach_body(), headers=staff["breach"])
        ).status_code == 201

        async def erased() -> bool:
            async with rts["dsar"].db.read() as s:
                state = (await s.execute(text("SELECT state FROM dsar_requests WHERE kind = 'erasure'"))).scalar_one()
                queued = (
                    await s.execute(text("SELECT count(*) FROM mail_outbox WHERE status = 'queued'"))
                ).scalar_one()
            return state == "completed" and queued == 0  # the outcome mail has left

        await eventually(erased, within=90)

        # every job, as its worker runs it
        from services.consent import kvk, processing, retention, webhooks
        from services.consent.context import ConsentContext
        from services.dsar import decisions
        from services.dsar.service import DsarContext

        consent, dsar = ConsentContext.of(rts["consent"]), DsarContext.of(rts["dsar"])
        now = datetime.now(UTC)
        await processing.current(consent)
        await webhooks.retry_failed(consent, older_than=timedelta(0))
        await kvk.retry_due(consent, now=now + timedelta(days=1))
        done = [await decisions.run_jobs(dsar, now + timedelta(days=days)) for days in (1, 4, 8, 40)]
        assert sum(d["shredded"] for d in done) == 1 and sum(d["reminded"] for d in done) == 1
        assert sum(d["expired"] for d in done) == 1, "reminded, expired, shredded: each once"
        await retention.run(consent, now + timedelta(days=3000))
        for rt in rts.values():
            await rt.checkpoint_now()
            await rt.relay.prune_once()

        for name, rt in rts.items():
            result = await eventually(lambda rt=rt: _all_out(rt), within=60)
            assert result == (0, 0), f"{name}: every outbox row published, none moved aside"
            async with rt.db.read() as s:
                published = (await s.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
            print(f"{name}: {published} outbox rows, all published, 0 moved aside")


async def _all_out(rt: Any) -> tuple[int, int] | None:
    counts = await _unpublished(rt)
    return counts if counts == (0, 0) else None
