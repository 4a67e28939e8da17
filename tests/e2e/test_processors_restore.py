"""Issue 33, item 2, for the processors service: after its database is restored from a backup, an erasure it
already sent to a processor is not sent again as new, and one it had not yet sent is sent. Over the real broker,
with the local ActiveCampaign (API v3 over HTTP) as the processor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.common import backup
from services.common.auth import create_token
from services.fakes import activecampaign
from tests.conftest import build_app, eventually, fresh_pg_database, running, serve

TOKEN = "ac-restore-token"
SENT, WAITING = "eerst@example.nl", "daarna@example.nl"


async def _published(rt: Any) -> bool:
    async with rt.db.read() as s:
        return not (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one()


async def _task(rt: Any, request_id: str) -> str | None:
    async with rt.db.read() as s:
        found = await s.execute(
            text("SELECT state FROM processor_tasks WHERE request_id = :r AND processor = 'activecampaign'"),
            {"r": request_id},
        )
        row = found.first()
    return None if row is None else str(row[0])


async def test_a_restored_processors_service_sends_no_erasure_twice_and_loses_none(
    kafka: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ac = activecampaign.create(TOKEN)
    fake = ac.state.fake
    first, second = fake.add(SENT, "Eerst", "Persoon"), fake.add(WAITING, "Daarna", "Persoon")
    proc_url = f"sqlite+aiosqlite:///{tmp_path}/processors.db"
    async with serve(ac) as url, fresh_pg_database() as dsar_url:
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", TOKEN)
        dsar_app = build_app("dsar", make_settings("dsar", dsar_url))
        settings = make_settings("processors", proc_url, work_interval_seconds=0.1)
        async with running(dsar_app) as dsar:
            drt = dsar_app.state.runtime
            staff = {"authorization": "Bearer " + await create_token(drt.db, "dpo", ["dpo", "admin"])}
            holder = {"name": "processors", "kind": "kafka", "description": "the processors of statement Art. 8"}
            assert (await dsar.put("/admin/holders/processors", json=holder, headers=staff)).status_code == 200

            async def erase(email: str) -> str:
                body = {"kind": "erasure", "email": email, "channel": "email", "identity_verified": True}
                r = await dsar.post("/admin/requests", json=body, headers=staff)
                assert r.status_code == 201, r.text
                return str(r.json()["id"])

            app = build_app("processors", settings)
            async with running(app, form_text=False):
                rt = app.state.runtime
                await eventually(rt.consumers[0].ready.is_set, within=60)
                file = backup.backup("processors", proc_url, tmp_path / "backups")
                # after the backup: one erasure sent to ActiveCampaign, one that cannot be sent yet (it answers 503)
                sent = await erase(SENT)
                await eventually(lambda: first not in fake.contacts, within=30)
                await eventually(lambda: _task(rt, sent), within=30)
                fake.next_answers.extend([(503, {})] * 10_000)
                waiting = await erase(WAITING)
                await eventually(lambda: _task(rt, waiting), within=30)
                assert await _task(rt, waiting) == "waiting" and second in fake.contacts
                await eventually(lambda: _published(rt), within=30)

            # the database is lost and the backup restored: neither task is in it
            fake.next_answers.clear()
            backup.restore(proc_url, file)
            app = build_app("processors", settings)
            async with running(app, form_text=False):
                rt = app.state.runtime
                assert rt.integrity.state == "sound", rt.integrity.reason
                assert await _task(rt, sent) == "done", "made again, settled, from the ledger's entry"
                await eventually(lambda: second not in fake.contacts, within=60)
                deletes = [path for method, path in fake.seen if method == "DELETE"]
                assert deletes.count(f"/api/3/contacts/{first}") == 1, "the erasure already sent is not sent again"
                assert deletes.count(f"/api/3/contacts/{second}") == 1, "the one not yet sent is sent, once"
                async with rt.db.read() as s:
                    found = (await s.execute(text("SELECT outcome, recovered FROM ledger_recoveries"))).all()
                assert found[-1][0] == "recovered" and found[-1][1] > 0
