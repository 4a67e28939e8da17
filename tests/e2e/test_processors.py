"""The processors service end to end, over the real broker and PostgreSQL, with a local ActiveCampaign that
speaks API v3 over HTTP: an access request's export holds what ActiveCampaign holds of the person; an
erasure deletes the contact there and the request completes only once the processors answered; a second
erasure of the same person finds nothing and counts as done; every ledger verifies."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.auth import create_token
from services.common.ledger.verify import verify_export
from services.dsar.export import compile_export
from services.dsar.service import DsarContext
from services.fakes import activecampaign
from tests.conftest import eventually, serve, system

EMAIL = "femke.visser@example.nl"
TOKEN = "ac-e2e-token-77"
FAST = {"work_interval_seconds": 0.1}


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


async def test_access_and_erasure_reach_activecampaign(
    kafka: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ac = activecampaign.create(TOKEN)
    fake = ac.state.fake
    fake.add(EMAIL, "Femke", "Visser", lists=("1", "2"))
    fake.add("iemand.anders@example.nl", "Iemand", "Anders", lists=("1",))
    async with serve(ac) as url:
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_BASE_URL", url)
        monkeypatch.setenv("PROCESSORS_ACTIVECAMPAIGN_API_TOKEN", TOKEN)
        services = ("consent", "dsar", "breach", "processors")
        async with system(make_settings, services, {"processors": FAST}) as (apps, c):
            dsar_rt, proc_rt = apps["dsar"].state.runtime, apps["processors"].state.runtime
            staff = {"authorization": "Bearer " + await create_token(dsar_rt.db, "dpo", ["dpo", "admin"])}
            holder = {"name": "processors", "kind": "kafka", "description": "the processors of statement Art. 8"}
            assert (await c["dsar"].put("/admin/holders/processors", json=holder, headers=staff)).status_code == 200

            # access: the export holds ActiveCampaign's part, what it holds in words and values
            access = await request(c["dsar"], staff, "access")
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
            proc_staff = {"authorization": "Bearer " + await create_token(proc_rt.db, "dpo", ["dpo"])}
            tasks = (await c["processors"].get(f"/admin/requests/{access}", headers=proc_staff)).json()["tasks"]
            assert [t["calls"][0][:2] for t in tasks] == [["GET", "/api/3/contacts"]], "templates, never a value"

            # erasure: the contact is deleted at ActiveCampaign before the request completes
            erasure = await request(c["dsar"], staff, "erasure")
            found = await completed(c["dsar"], staff, erasure)
            answers = {a["holder"]: a for a in found["answers"]}
            assert answers["processors"]["outcome"] == "erased", answers["processors"]
            assert "ActiveCampaign: erasure done" in answers["processors"]["reason"]
            assert fake.subscribed(EMAIL) == {} and [c["email"] for c in fake.contacts.values()] == [
                "iemand.anders@example.nl"
            ], "only that person, and all of them"
            # again: nothing held there any more, and the request completes all the same
            again = await request(c["dsar"], staff, "erasure")
            found = await completed(c["dsar"], staff, again)
            assert {a["holder"]: a["outcome"] for a in found["answers"]}["processors"] == "nothing_held"

            connectors = (await c["processors"].get("/admin/connectors", headers=proc_staff)).json()
            ac_row = next(x for x in connectors if x["key"] == "activecampaign")
            assert ac_row["state"] == "connected" and ac_row["open_tasks"] == 0 and ac_row["last_success_at"]
            assert set(ac_row["purposes"]) == {"newsletter", "leads"}
            assert fake.refused == 0 and max(fake.per_second.values()) <= 5
            for name in ("dsar", "processors"):
                vkey = (await c[name].get("/ledger/public-key")).json()["vkey"]
                verify_export((await c[name].get("/ledger/entries")).text.splitlines(), vkey=vkey)
