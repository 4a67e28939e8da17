"""End to end over the real broker and real PostgreSQL: an erasure request on dsar reaches consent and breach,
each shreds and answers, dsar completes the request, and every ledger still verifies."""

from __future__ import annotations

import json
from typing import Any

from services.common.auth import create_token
from services.common.contracts import SubjectShredded
from services.common.crypto import ShreddedError
from services.common.ledger.verify import verify_export
from tests.conftest import eventually, system

EMAIL = "Marieke.Jansen@Example.nl"


async def test_erasure_request_fans_out_and_completes(kafka: str, make_settings: Any) -> None:
    async with system(make_settings, ("consent", "dsar", "breach")) as (apps, clients):
        consent, dsar = apps["consent"].state.runtime, apps["dsar"].state.runtime

        # consent holds personal data of the subject (recorded as a capture would)
        subject = consent.recorder.pseudonym(EMAIL)
        async with consent.db.transaction() as s:
            _, seq = await consent.recorder.record(
                s,
                SubjectShredded(subject=subject, key_id=None, reason="fixture"),
                subject=subject,
                personal={"email": EMAIL, "name": "Marieke"},
                publish=False,
            )
        async with consent.db.read() as s:
            entry = json.loads((await consent.ledger.entry(s, seq=seq)).entry)

        token = await create_token(dsar.db, "dpo desk", ["dpo"])
        r = await clients["dsar"].post(
            "/admin/requests",
            headers={"authorization": f"Bearer {token}"},
            json={"kind": "erasure", "email": EMAIL.lower(), "channel": "letter", "identity_verified": True},
        )
        assert r.status_code == 201, r.text
        request_id = r.json()["id"]
        assert r.json()["waiting_for"] == ["breach", "consent"]

        async def completed() -> Any:
            body = (
                await clients["dsar"].get(f"/admin/requests/{request_id}", headers={"authorization": f"Bearer {token}"})
            ).json()
            return body if body["state"] == "completed" else None

        body = await eventually(completed, within=60)
        assert {a["holder"]: a["outcome"] for a in body["answers"]} == {"consent": "erased", "breach": "nothing_held"}
        assert body["waiting_for"] == []

        async with consent.db.transaction() as s:
            try:
                await consent.vault.decrypt(s, subject, entry["key_id"], entry["ciphertext"])
                raise AssertionError("personal data still readable after erasure")
            except ShreddedError:
                pass
        for name, client in clients.items():
            vkey = (await client.get("/ledger/public-key")).json()["vkey"]
            report = verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)
            assert report.entries >= 2, name
