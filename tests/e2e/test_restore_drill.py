"""Issue 33: the restore drill, on SQLite and on PostgreSQL, over the real broker.

Back up consent; then withdraw one person's consent, erase another through dsar and let retention expire a
third; restore the backup (privacyctl's own code: SQLite's backup API, pg_dump/pg_restore); start. Before it
serves, consent rebuilds the entries the backup lacked from ledger.entries.v1 and does again what they record:
the erased person stays unreadable (the key the backup brought back is destroyed again), the withdrawal stands,
the state topic has the tombstone again, and the ledger verifies at the size and root it had published."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from services.common import backup
from services.common.auth import create_site_key, create_token
from services.common.db import Database
from services.common.ledger.journal import partitions_of
from services.common.ledger.verify import verify_export
from services.common.models import SubjectKey
from services.consent import retention
from services.consent.context import ConsentContext
from tests.conftest import build_app, eventually, fresh_pg_database, running
from tests.notices import NOTICE

WITHDRAWS, ERASED, EXPIRES = "intrekker@example.nl", "weg@example.nl", "oud@example.nl"


@contextlib.asynccontextmanager
async def database(kind: str, tmp_path: Path, name: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
    else:
        async with fresh_pg_database() as url:
            yield url


async def _drained(rt: Any) -> bool:
    async with rt.db.read() as s:
        return not (await s.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar_one()


async def _history(client: Any, auth: dict[str, str], email: str) -> dict[str, Any]:
    r = await client.post("/admin/subjects/history", json={"email": email}, headers=auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _has_key(rt: Any, email: str) -> bool:
    async with rt.db.read() as s:
        return await s.get(SubjectKey, rt.recorder.pseudonym(email)) is not None


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_restore_drill(kind: str, kafka: str, make_settings: Any, topic_prefix: str, tmp_path: Path) -> None:
    async with database(kind, tmp_path, "consent") as consent_url, database(kind, tmp_path, "dsar") as dsar_url:
        settings = make_settings("consent", consent_url, checkpoint_interval_seconds=1)
        dsar_settings = make_settings("dsar", dsar_url)
        dsar_app = build_app("dsar", dsar_settings)
        async with running(dsar_app) as dsar:
            drt = dsar_app.state.runtime
            dpo = {"authorization": f"Bearer {await create_token(drt.db, 'dpo', ['dpo', 'admin'])}"}
            app = build_app("consent", settings)
            async with running(app) as client:
                rt = app.state.runtime
                auth = {"authorization": f"Bearer {await create_token(rt.db, 'dpo', ['dpo', 'admin'])}"}
                await create_site_key(rt.db, "website", ["https://www.example.nl"])
                for email, purpose in ((WITHDRAWS, "newsletter"), (ERASED, "contact"), (EXPIRES, "chat")):
                    body = {"email": email, "channel": "email", "notice": NOTICE}
                    body["purposes"] = [{"purpose": purpose, "granted": True}]
                    assert (await client.post("/admin/consents", json=body, headers=auth)).status_code == 201
                await eventually(rt.consumers[0].ready.is_set, within=60)
                await eventually(lambda: _drained(rt), within=30)

                # the backup, while the service runs
                file = backup.backup("consent", consent_url, tmp_path / "backups")
                async with rt.db.read() as s:
                    backed_up, _ = await rt.ledger.head(s)

                # after the backup: a withdrawal, an erasure through dsar, an expiry
                body = {"email": WITHDRAWS, "channel": "email", "notice": NOTICE}
                body["purposes"] = [{"purpose": "newsletter", "granted": False}]
                assert (await client.post("/admin/consents", json=body, headers=auth)).status_code == 201
                erasure = {"kind": "erasure", "email": ERASED, "channel": "letter", "identity_verified": True}
                r = await dsar.post("/admin/requests", json=erasure, headers=dpo)
                assert r.status_code == 201, r.text
                await eventually(lambda: _gone(rt, ERASED), within=60)
                later = datetime.now(UTC) + timedelta(days=366)
                assert (await retention.run(ConsentContext.of(rt), now=later))["shredded"] >= 1
                assert not await _has_key(rt, EXPIRES)
                await rt.checkpoint_now()
                await eventually(lambda: _drained(rt), within=30)
                async with rt.db.read() as s:
                    size, root = await rt.ledger.head(s)
                assert size > backed_up

            # the database is lost; the backup is restored (the service is stopped)
            backup.restore(consent_url, file)
            db = Database(consent_url)
            try:
                assert await backup.mark_restored(db, file) == backed_up
            finally:
                await db.dispose()

            app = build_app("consent", settings)
            async with running(app, form_text=False) as client:
                rt = app.state.runtime
                assert rt.integrity.state == "sound", rt.integrity.reason
                async with rt.db.read() as s:
                    assert await rt.ledger.head(s) == (size, root), "rebuilt to the published root exactly"
                    found = (await s.execute(text("SELECT outcome, recovered, reapplied FROM ledger_recoveries"))).all()
                assert [tuple(f) for f in found][-1] == ("recovered", size - backed_up, found[-1][2])
                assert found[-1][2] >= 3, "the withdrawal, the erasure and the expiry were done again"

                assert not await _has_key(rt, ERASED), "the erased person's key, back from the backup, is gone again"
                assert not await _has_key(rt, EXPIRES)
                erased = await _history(client, auth, ERASED)
                assert erased["states"] == {} and all(r["evidence"] == "erased" for r in erased["records"])
                assert (await _history(client, auth, WITHDRAWS))["states"] == {"newsletter": "withdrawn"}
                assert (await _history(client, auth, EXPIRES))["states"] == {}

                await eventually(lambda: _drained(rt), within=30)
                key = rt.recorder.pseudonym(ERASED).encode()
                records = await _whole_topic(kafka, topic_prefix + "consent.state.v1")
                mine = [r.value is None for r in records if r.key == key]
                assert mine.count(True) >= 2 and mine[-1], "the tombstone, again, last"

                vkey = (await client.get("/ledger/public-key")).json()["vkey"]
                report = verify_export((await client.get("/ledger/entries")).text.splitlines(), vkey=vkey)
                assert report.entries >= size
                assert (await client.get("/readyz")).status_code == 200
                async with rt.db.read() as s:
                    detail = (await s.execute(text("SELECT detail FROM ledger_recoveries ORDER BY id"))).all()[-1][0]
                print(  # the drill's output (pytest -s): what the closing note quotes
                    f"\nrestore drill [{kind}]: backup at {backed_up} entries; after it a withdrawal, an erasure "
                    f"through dsar and an expiry: {size} entries, checkpoint published. Restored: {backed_up}. "
                    f"Start: {detail}. Erased key gone: yes; expired key gone: yes; withdrawal stands: "
                    f"{(await _history(client, auth, WITHDRAWS))['states']}; tombstone last on consent.state.v1: "
                    f"yes; ledger-verify: {report.entries} entries, sound"
                )


async def _whole_topic(kafka: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _gone(rt: Any, email: str) -> bool:
    return not await _has_key(rt, email)


def test_the_journal_carries_entries_exactly_and_only_its_own_service_opens_them() -> None:
    """What a flush sends to ledger.entries.v1 fits its published schema, holds each entry's bytes as hashed,
    and opens to the unblinded subjects with this service's key only (another's: skipped, never an error)."""
    import base64 as b64
    import os

    from services.common.crypto import SubjectVault
    from services.common.ledger.journal import CHUNK, Journal, LedgerEntriesAppended

    journal = Journal("consent.privacy.local/ledger", SubjectVault(os.urandom(32)), source="urn:test")
    rows = [{"seq": i, "entry": b'{"seq":%d}' % i, "subject": None if i % 3 else f"{i:064x}"} for i in range(450)]
    events = journal.events(rows)
    assert [len(e.data["entries"]) for _, e in events] == [CHUNK, CHUNK, 50]  # type: ignore[index]
    opened = []
    for topic, event in events:
        assert topic == "ledger.entries.v1" and event.partitionkey == "consent.privacy.local/ledger"
        payload = event.payload()
        assert isinstance(payload, LedgerEntriesAppended)
        opened.extend(journal.open(payload))
    assert [(x.seq, x.entry, x.subject) for x in opened] == [(r["seq"], r["entry"], r["subject"]) for r in rows]
    big = [{"seq": i, "entry": b'{"seq":%d,"x":"%s"}' % (i, b"y" * 20_000), "subject": None} for i in range(60)]
    sizes = [len(e.to_record()[1] or b"") for _, e in journal.events(big)]
    assert len(sizes) == 3 and max(sizes) < 600_000, "long entries: more records, each well under 1 MiB"
    other = Journal("consent.privacy.local/ledger", SubjectVault(os.urandom(32)), source="urn:test")
    payload = events[0][1].payload()
    assert isinstance(payload, LedgerEntriesAppended)
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):  # read() skips such a record as another deployment's
        other.open(payload)
    assert b64.b64decode(payload.subjects)[:12] != b64.b64decode(events[1][1].data["subjects"])[:12]  # type: ignore[index]


async def test_a_ledger_that_cannot_be_rebuilt_refuses_writes_until_acknowledged(
    kafka: str, make_settings: Any, topic_prefix: str, tmp_path: Path, capsys: Any
) -> None:
    """The journal is gone (here: its topic deleted), so the entries after the backup cannot be rebuilt: the
    service serves reads, refuses every write with the reason, signs nothing, and /readyz says why. An
    operator's `privacyctl ledger acknowledge` records the break as a signed entry and starts epoch 2."""
    from services.common import keeping
    from services.common.kafka import delete_topics

    url = f"sqlite+aiosqlite:///{tmp_path}/consent.db"
    settings = make_settings("consent", url)
    app = build_app("consent", settings)
    async with running(app) as client:
        rt = app.state.runtime
        auth = {"authorization": f"Bearer {await create_token(rt.db, 'dpo', ['dpo', 'admin'])}"}
        file = backup.backup("consent", url, tmp_path / "backups")
        async with rt.db.read() as s:
            backed_up, _ = await rt.ledger.head(s)
        body = {
            "email": ERASED,
            "channel": "email",
            "notice": NOTICE,
            "purposes": [{"purpose": "contact", "granted": True}],
        }
        assert (await client.post("/admin/consents", json=body, headers=auth)).status_code == 201
        published = int((await client.get("/ledger/checkpoint")).text.split("\n")[1])
        await eventually(lambda: _drained(rt), within=30)
    assert await delete_topics(kafka, topic_prefix + "ledger.entries.v1")

    backup.restore(url, file)
    app = build_app("consent", settings)
    async with running(app, form_text=False) as client:
        rt = app.state.runtime
        assert rt.integrity.state == "broken"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and f"checkpoint {published} was published" in ready.json()["detail"]
        refused = await client.post("/admin/consents", json=body, headers=auth)
        assert refused.status_code == 503 and "the ledger is broken" in refused.json()["detail"]
        assert (await client.get("/ledger/public-key")).status_code == 200, "reads go on"
        assert not await rt.checkpoint_now(), "no checkpoint of a history that forked"

        assert await keeping._acknowledge("consent", "Fleur (dpo)", settings) == 0
        said = capsys.readouterr().out
        assert "new epoch 2, origin consent.privacy.local/ledger/epoch2" in said
        assert await keeping._vkeys(["consent"], {"consent": settings}) == 0
        told = "consent\tconsent.privacy.local/ledger/epoch2\tconsent.privacy.local/ledger/epoch2+"
        assert told in capsys.readouterr().out, "what a witness is told: the new epoch's origin and key"
        await eventually(lambda: rt.integrity.state == "sound", within=10)
        assert rt.signer.name == "consent.privacy.local/ledger/epoch2"
        assert (await client.post("/admin/consents", json=body, headers=auth)).status_code == 201
        note = (await client.get("/ledger/checkpoint")).text
        assert note.startswith("consent.privacy.local/ledger/epoch2\n")
        async with rt.db.read() as s:
            entry = json.loads((await rt.ledger.entry(s, seq=backed_up)).entry)
        assert entry["type"] == "nl.jzve.privacy.ledger.epoch.started"
        assert entry["data"]["published_size"] == published and entry["data"]["restored_size"] == backed_up
        assert entry["data"]["lost"] == published - backed_up and entry["data"]["acknowledged_by"] == "Fleur (dpo)"
        assert (await client.get("/readyz")).status_code == 200
