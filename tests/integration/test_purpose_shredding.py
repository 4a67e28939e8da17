"""GDPR 5(1)(e): one purpose's retention ends while another still holds. The expired purpose's evidence can
no longer be read by anyone (its key is gone), the other purpose's evidence and corrections still read, and
the ledger says so without a value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from services.common.auth import create_site_key, create_token
from services.common.catalog import load_all
from services.common.crypto import ShreddedError
from services.common.ledger.verify import verify_export
from services.common.models import LedgerEntry, SubjectKey
from services.consent import rectification, retention
from services.consent.context import ConsentContext
from services.consent.models import ConsentState, RekeyedEvidence
from tests.conftest import build_app, running
from tests.notices import NOTICE

load_all()


@pytest.fixture
async def consent(make_settings: Any, db_url: str) -> Any:
    app = build_app("consent", make_settings("consent", db_url))
    async with running(app) as client:
        key = await create_site_key(app.state.runtime.db, "website", ["https://www.example.nl"])
        client.headers["x-site-key"] = key
        token = await create_token(app.state.runtime.db, "dpo", ["dpo", "admin"])
        yield app, client, {"authorization": f"Bearer {token}"}


async def _entries(rt: Any, event_type: str) -> list[dict[str, Any]]:
    async with rt.db.read() as s:
        rows = (await s.execute(select(col(LedgerEntry.entry)).order_by(col(LedgerEntry.seq)))).scalars().all()
    return [json.loads(r) for r in rows if json.loads(r)["type"].endswith(event_type)]


async def test_one_purpose_over_the_other_still_held(kafka: str, consent: Any) -> None:
    app, client, auth = consent
    rt = app.state.runtime
    ctx = ConsentContext.of(rt)
    given = await client.post(
        "/v1/consents",
        json={
            "email": "twee@example.nl",
            "name": "Anna de Vries",
            "channel": "contact_form",
            "notice": NOTICE,
            "purposes": [
                {"purpose": "chat", "granted": True},
                {"purpose": "contact", "granted": True},
            ],
        },
    )
    assert given.status_code in (200, 201), given.text
    subject = rt.recorder.pseudonym("twee@example.nl")
    async with rt.db.transaction() as s:
        await rectification.apply(ctx, s, subject, "dr_test", {"name": "Anna de Vries-Jansen"})
    async with rt.db.read() as s:
        old_key = (await s.execute(select(SubjectKey).where(col(SubjectKey.subject) == subject))).scalar_one()

    async with rt.db.transaction() as s:  # the chat was given eleven months earlier than the contact form
        chat = await s.get(ConsentState, (subject, "chat", ""))
        assert chat is not None and chat.expires_at is not None
        chat.expires_at -= timedelta(days=330)
    year = datetime.now(UTC) + timedelta(days=40)
    assert await retention.run(ctx, now=year) == {"expired": 1, "shredded": 0, "rekeyed": 1}

    history = (await client.post("/admin/subjects/history", json={"email": "twee@example.nl"}, headers=auth)).json()
    assert history["states"] == {"chat": "expired", "contact": "granted"}
    by_purpose = {(r["purpose"], r["state"]): r["evidence"] for r in history["records"]}
    assert by_purpose[("chat", "granted")] == "erased", "the expired purpose's evidence can no longer be read"
    kept = by_purpose[("contact", "granted")]
    assert kept["email"] == "twee@example.nl" and kept["name"] == "Anna de Vries-Jansen", (
        "the purpose still held reads as before, with its correction"
    )
    chat_leaf = next(e for e in await _entries(rt, "consent.granted") if e["data"]["purpose"] == "chat")
    assert chat_leaf["key_id"] == old_key.key_id
    async with rt.db.read() as s:
        with pytest.raises(ShreddedError):  # the old key is gone: nobody opens what it sealed
            await rt.vault.decrypt(s, subject, old_key.key_id, chat_leaf["ciphertext"])
    [rekeyed] = await _entries(rt, "consent.evidence.rekeyed")
    assert rekeyed["data"]["purposes"] == ["chat"] and rekeyed["data"]["destroyed_key_id"] == old_key.key_id
    assert rekeyed["data"]["records_kept"] == 1 and rekeyed["data"]["rows_resealed"] >= 1
    assert "Anna" not in json.dumps(rekeyed), "the ledger keeps the fact, not a value"

    twice = await retention.run(ctx, now=year)
    assert twice == {"expired": 0, "shredded": 0, "rekeyed": 0}, "a second round changes nothing"

    later = datetime.now(UTC) + timedelta(days=366)
    assert await retention.run(ctx, now=later) == {"expired": 1, "shredded": 1, "rekeyed": 0}
    gone = (await client.post("/admin/subjects/history", json={"email": "twee@example.nl"}, headers=auth)).json()
    assert gone["states"] == {} and {r["evidence"] for r in gone["records"]} == {"erased", None}
    async with rt.db.read() as s:
        assert (await s.execute(select(RekeyedEvidence))).first() is None, "erasure takes the copies too"
    vkey = (await client.get("/ledger/public-key")).json()["vkey"]
    verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)
